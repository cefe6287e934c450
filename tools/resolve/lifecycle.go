package resolve

import (
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinedeployment/mdutil"

	"github.com/capiform/capiform/tools/api/v1alpha1"
)

// Built-in lifecycle defaults, under a site's spec.clusterDefaults and a
// cluster's own settings (each field apart). policies/rules.cue repeats
// them (#builtinDefaults) to judge the effective values; a test holds the
// two together.
var (
	// DefaultRemediation stops replacing a control plane machine after
	// three failed replacements in a row (Cluster API retries for ever:
	// a machine that cannot bootstrap, such as one whose etcd disk fails
	// kubeadm's preflight, would be recreated endlessly), waits 20 minutes
	// between two replacements so that the cloud can settle, and counts a
	// failure within an hour of the last replacement as a retry (Cluster
	// API's own default; longer than the node startup timeout, so that a
	// replacement that never joins counts).
	DefaultRemediation = Remediation{MaxRetry: 3, RetryPeriodSeconds: 1200, MinHealthyPeriodSeconds: 3600}
	// DefaultHealthCheck gives a new machine 30 minutes to have a Node
	// (Cluster API's 10 are short for an OpenStack server that boots from
	// a volume copied from its image), replaces a machine whose Node has
	// not been Ready for 5 minutes, and stops remediating when more than
	// one control plane machine, or more than two machines of one node
	// group, are unhealthy at once: that is an outage of the cloud, which
	// new machines do not cure. The worker limit is a number, not a
	// percentage: Cluster API rounds a percentage down, so 40% of a group
	// of two would heal nothing.
	DefaultHealthCheck = HealthCheckValues{
		NodeStartupTimeoutSeconds: 1800,
		UnhealthyTimeoutSeconds:   300,
		MaxUnhealthy:              MaxUnhealthyValues{ControlPlane: intstr.FromInt32(1), Workers: intstr.FromInt32(2)},
	}
	// DefaultRollout is Cluster API's own: one machine above the group's
	// size at a time and none missing, the safest for workloads; it needs
	// spare quota, which the quota policy counts. A site or group short of
	// quota (GPUs) sets maxSurge 0 and maxUnavailable 1.
	DefaultRollout = RolloutValues{MaxSurge: intstr.FromInt32(1), MaxUnavailable: intstr.FromInt32(0), DeletePolicy: "Random"}
)

// ControlPlaneSurge is the KubeadmControlPlane's rollout surge: the chart
// leaves it to Cluster API's default, one machine (KCP allows only 0 or 1,
// and 0 needs at least 3 replicas).
const ControlPlaneSurge = 1

// Remediation is the chart's controlPlane.remediation value.
type Remediation struct {
	MaxRetry                int `json:"maxRetry"`
	RetryPeriodSeconds      int `json:"retryPeriodSeconds"`
	MinHealthyPeriodSeconds int `json:"minHealthyPeriodSeconds"`
}

// HealthCheckValues is the chart's healthCheck value.
type HealthCheckValues struct {
	NodeStartupTimeoutSeconds int                `json:"nodeStartupTimeoutSeconds"`
	UnhealthyTimeoutSeconds   int                `json:"unhealthyTimeoutSeconds"`
	MaxUnhealthy              MaxUnhealthyValues `json:"maxUnhealthy"`
}

// MaxUnhealthyValues is the chart's healthCheck.maxUnhealthy value.
type MaxUnhealthyValues struct {
	ControlPlane intstr.IntOrString `json:"controlPlane"`
	Workers      intstr.IntOrString `json:"workers"`
}

// RolloutValues is the chart's nodeGroups[].rollout value.
type RolloutValues struct {
	MaxSurge       intstr.IntOrString `json:"maxSurge"`
	MaxUnavailable intstr.IntOrString `json:"maxUnavailable"`
	DeletePolicy   string             `json:"deletePolicy"`
}

// defaults are a site's clusterDefaults, never nil.
func defaults(site v1alpha1.SiteSpec) v1alpha1.ClusterDefaults {
	if site.ClusterDefaults == nil {
		return v1alpha1.ClusterDefaults{}
	}
	return *site.ClusterDefaults
}

// EffectiveRemediation is the control plane's remediation: the cluster's
// own fields over the site's defaults over the built-in ones.
func EffectiveRemediation(site v1alpha1.SiteSpec, c v1alpha1.ClusterSpec) Remediation {
	out := DefaultRemediation
	for _, r := range []*v1alpha1.Remediation{defaults(site).Remediation, c.ControlPlane.Remediation} {
		if r == nil {
			continue
		}
		setInt(&out.MaxRetry, r.MaxRetry)
		setInt(&out.RetryPeriodSeconds, r.RetryPeriodSeconds)
		setInt(&out.MinHealthyPeriodSeconds, r.MinHealthyPeriodSeconds)
	}
	return out
}

// EffectiveHealthCheck is the cluster's MachineHealthCheck settings: the
// cluster's own fields over the site's defaults over the built-in ones.
func EffectiveHealthCheck(site v1alpha1.SiteSpec, c v1alpha1.ClusterSpec) HealthCheckValues {
	out := DefaultHealthCheck
	for _, h := range []*v1alpha1.HealthCheck{defaults(site).HealthCheck, c.HealthCheck} {
		if h == nil {
			continue
		}
		setInt(&out.NodeStartupTimeoutSeconds, h.NodeStartupTimeoutSeconds)
		setInt(&out.UnhealthyTimeoutSeconds, h.UnhealthyTimeoutSeconds)
		if m := h.MaxUnhealthy; m != nil {
			setIntOrString(&out.MaxUnhealthy.ControlPlane, m.ControlPlane)
			setIntOrString(&out.MaxUnhealthy.Workers, m.Workers)
		}
	}
	return out
}

// EffectiveRollout is a node group's rollout strategy: the group's own
// fields over the site's defaults over the built-in ones.
func EffectiveRollout(site v1alpha1.SiteSpec, g v1alpha1.NodeGroup) RolloutValues {
	out := DefaultRollout
	for _, r := range []*v1alpha1.Rollout{defaults(site).Rollout, g.Rollout} {
		if r == nil {
			continue
		}
		setIntOrString(&out.MaxSurge, r.MaxSurge)
		setIntOrString(&out.MaxUnavailable, r.MaxUnavailable)
		if r.DeletePolicy != "" {
			out.DeletePolicy = r.DeletePolicy
		}
	}
	return out
}

// Surge is how many machines above size a rolling group of size machines
// may have, resolved as Cluster API's MachineDeployment controller
// resolves it (a percentage rounds up). A strategy Cluster API refuses
// (an invalid percentage) counts as no surge: policy reports it.
func Surge(r RolloutValues, size int) int {
	surge, _, err := mdutil.ResolveFenceposts(&r.MaxSurge, &r.MaxUnavailable, int32(size))
	if err != nil {
		return 0
	}
	return int(surge)
}

// MachineCounts are the most machines a cluster can have (an autoscaled
// group at its maximum) and the most while the control plane and every
// node group roll at once, each with its surge.
func MachineCounts(site v1alpha1.SiteSpec, c v1alpha1.ClusterSpec) (machines, peak int) {
	cp := 1
	if site.Production {
		cp = 3
	}
	if c.ControlPlane.Replicas != nil {
		cp = *c.ControlPlane.Replicas
	}
	machines, peak = cp, cp+ControlPlaneSurge
	for _, g := range c.NodeGroups {
		n := groupMachines(g)
		machines += n
		peak += n + Surge(EffectiveRollout(site, g), n)
	}
	return machines, peak
}

// groupMachines is the most machines a group can have: an autoscaled
// group at its maximum.
func groupMachines(g v1alpha1.NodeGroup) int {
	switch {
	case g.Autoscale != nil:
		return g.Autoscale.Max
	case g.Replicas != nil:
		return *g.Replicas
	}
	return 1
}

func setInt(dst *int, src *int) {
	if src != nil {
		*dst = *src
	}
}

func setIntOrString(dst *intstr.IntOrString, src *intstr.IntOrString) {
	if src != nil {
		*dst = *src
	}
}
