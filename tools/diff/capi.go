package diff

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/utils/ptr"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	kcppkg "sigs.k8s.io/cluster-api/controlplane/kubeadm/pkg"
	"sigs.k8s.io/cluster-api/controlplane/kubeadm/pkg/desiredstate"
	kcpadmission "sigs.k8s.io/cluster-api/controlplane/kubeadm/webhooks/admission"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinedeployment/mdutil"
	coreadmission "sigs.k8s.io/cluster-api/core/webhooks/admission"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Labels and annotations the chart and Cluster API put on objects.
const (
	LabelCluster   = "capiform.dev/cluster"
	LabelNodeGroup = "capiform.dev/node-group"

	AnnotationAutoscalerMin = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
	AnnotationAutoscalerMax = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
)

// Severity grades a finding.
type Severity string

// Severities, most severe first.
const (
	// Unsafe is a change that policy refuses, that breaks a cluster or
	// that destroys one (a deleted cluster, even on purpose).
	Unsafe Severity = "unsafe"
	// Warning is a change that destroys something or leaves debris.
	Warning Severity = "warning"
	// Info is worth knowing.
	Info Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Unsafe:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Finding is a statement about a change for the reviewer.
type Finding struct {
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

func sortFindings(f []Finding) {
	sort.SliceStable(f, func(i, j int) bool {
		if f[i].Severity.rank() != f[j].Severity.rank() {
			return f[i].Severity.rank() < f[j].Severity.rank()
		}
		return f[i].Message < f[j].Message
	})
}

// Scale is a replica count before and after; nil is absent (autoscaled, or
// the object does not exist on that side).
type Scale struct {
	From *int `json:"from"`
	To   *int `json:"to"`
}

// Bounds are an autoscaled group's min and max size.
type Bounds struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// AutoscaleChange is a change of a group's autoscaling bounds; nil is not
// autoscaled.
type AutoscaleChange struct {
	From *Bounds `json:"from"`
	To   *Bounds `json:"to"`
}

// Rollout is what happens to the machines of a control plane or a node
// group under Cluster API's rules.
type Rollout struct {
	// Name is the node group's name ("control-plane" for the control
	// plane); Object is the KubeadmControlPlane or MachineDeployment.
	Name   string `json:"name"`
	Object string `json:"object"`
	// Action: added, removed or changed.
	Action Action `json:"action"`
	// Machines is the machine count (the desired replicas; an autoscaled
	// group's minimum) of the group after the change, or before it when
	// removed.
	Machines int `json:"machines"`
	// Replace is true when Cluster API replaces every machine of the group
	// (a rollout); Reasons say why, in Cluster API's terms.
	Replace bool     `json:"replace"`
	Reasons []string `json:"reasons,omitempty"`
	// MachinesMax is an autoscaled group's maximum (Machines is then its
	// minimum): the autoscaler decides how many run between the two.
	MachinesMax int `json:"machinesMax,omitempty"`
	// Replaced is the number of existing machines replaced by a rollout:
	// the count before the change; for an autoscaled group its minimum,
	// with ReplacedMax its maximum (every machine it runs is replaced).
	Replaced    int `json:"replaced,omitempty"`
	ReplacedMax int `json:"replacedMax,omitempty"`
	// Peak is the most machines the group has at once while it rolls:
	// its size after the change and the surge of its rollout strategy,
	// as Cluster API defaults and resolves it; for an autoscaled group at
	// its minimum, with PeakMax at its maximum. It is what a rollout needs
	// of the quota.
	Peak    int `json:"peak,omitempty"`
	PeakMax int `json:"peakMax,omitempty"`
	// Version is the Kubernetes version from -> to, when it changes.
	VersionFrom string `json:"versionFrom,omitempty"`
	VersionTo   string `json:"versionTo,omitempty"`
	// TemplateFields are the changed fields of the machine templates (the
	// OpenStackMachineTemplate, the KubeadmConfigTemplate or the control
	// plane's kubeadm config) behind a rollout, each path prefixed with the
	// object kind.
	TemplateFields []FieldChange `json:"templateFields,omitempty"`
	// InPlace are changes that Cluster API propagates to existing machines
	// (or that apply only to machines made later) without replacing any.
	InPlace []FieldChange `json:"inPlace,omitempty"`
	// Scale and Autoscale are set when they change.
	Scale     *Scale           `json:"scale,omitempty"`
	Autoscale *AutoscaleChange `json:"autoscale,omitempty"`
}

// impact computes the Cluster API impact of a cluster's change from its
// expanded objects before (old) and after (cur); either may be empty.
func impact(ctx context.Context, cr *ClusterReport, old, cur objectSet) {
	if len(old) == 0 && len(cur) == 0 {
		return
	}
	cr.ControlPlane = controlPlaneImpact(ctx, old, cur)
	cr.NodeGroups = nodeGroupsImpact(ctx, old, cur)
	switch {
	case len(old) == 0:
		cr.Action = Added
		cr.Machines = cr.machines()
		cr.Findings = append(cr.Findings, Finding{Info, fmt.Sprintf("cluster created with %d machine(s)", cr.Machines)})
		if oscs := cur.ofKind("OpenStackCluster"); len(oscs) > 0 {
			osc := oscs[0]
			if secret := nestedString(osc, "spec", "identityRef", "name"); secret != "" {
				cr.Findings = append(cr.Findings, Finding{Info, fmt.Sprintf("the cluster provisions once the Secret %s (keys clouds.yaml and cloud.conf) exists in namespace %s of the management cluster: keep it encrypted in git with `capiform secrets create` (see the README)", secret, osc.GetNamespace())})
			}
		}
	case len(cur) == 0:
		cr.Action = Removed
		cr.Machines = cr.machines()
		cr.Findings = append(cr.Findings, deletionFindings(cr, old)...)
	default:
		cr.Action = Changed
		cr.Findings = append(cr.Findings, openStackClusterFindings(old, cur)...)
	}
	cpVersion := ""
	if kcps := cur.ofKind("KubeadmControlPlane"); len(kcps) > 0 {
		cpVersion = nestedString(kcps[0], "spec", "version")
	}
	cr.Findings = append(cr.Findings, versionFindings(cr, cpVersion)...)
	cr.Findings = append(cr.Findings, templateFindings(old, cur)...)
	cr.Findings = append(cr.Findings, certificateFindings(old, cur)...)
	sortFindings(cr.Findings)
}

// deletionFindings say what deleting a cluster destroys and whether its
// release's uninstall leaves the teardown to Cluster API. Helm uninstalls
// the release as it was last deployed: the base revision's objects (old).
func deletionFindings(cr *ClusterReport, old objectSet) []Finding {
	var machines, machinesMax int
	groups := cr.NodeGroups
	if cr.ControlPlane != nil {
		groups = append([]Rollout{*cr.ControlPlane}, groups...)
	}
	for _, g := range groups {
		machines += g.Machines
		machinesMax += max(g.Machines, g.MachinesMax)
	}
	what := []string{fmt.Sprintf("every machine (%s)", countText(machines, machinesMax))}
	var osc *unstructured.Unstructured
	if oscs := old.ofKind("OpenStackCluster"); len(oscs) > 0 {
		osc = oscs[0]
	}
	if _, managed := nestedMap(osc, "spec")["managedSubnets"]; managed {
		what = append(what, "its network and router")
	} else if osc != nil {
		what = append(what, "its ports and security groups (the existing network stays)")
	}
	if lb, _, _ := unstructured.NestedBool(nestedMap(osc, "spec"), "apiServerLoadBalancer", "enabled"); lb {
		what = append(what, "its API load balancer")
	}
	out := []Finding{
		{Unsafe, fmt.Sprintf("cluster %s is DELETED: %s go", cr.Cluster, joinAnd(what))},
		{Warning, "the OpenStack load balancers and volumes that the cluster's cloud controller and CSI driver created are left behind: clean them up (see docs/deleting-a-cluster.md) before deleting the project or network"},
		{Warning, "its addons go with it: Flux uninstalls them through the cluster's kubeconfig, and once the API server is gone their HelmReleases can hang on finalizers; delete LoadBalancer Services and PersistentVolumeClaims first, while the cloud controller and CSI still run"},
	}

	// Helm deletes what is not kept, at once. The Cluster deletes the
	// workers first and waits for them, then its control plane, then its
	// infrastructure: Helm must leave those two to it.
	cluster := old.get("Cluster", "", cr.Cluster)
	if cluster == nil {
		return out
	}
	var behind []string
	for _, ref := range []string{"controlPlaneRef", "infrastructureRef"} {
		kind, name := nestedString(cluster, "spec", ref, "kind"), nestedString(cluster, "spec", ref, "name")
		if o := old.get(kind, cluster.GetNamespace(), name); o != nil && o.GetAnnotations()[ResourcePolicyAnnotation] != ResourcePolicyKeep {
			behind = append(behind, kind+" "+name)
		}
	}
	if len(behind) > 0 {
		out = append(out, Finding{Unsafe, fmt.Sprintf("uninstalling the release deletes %s itself, at once, while machines still run (Cluster API deletes it only after the workers): the chart must keep it (%s: %s)", joinAnd(behind), ResourcePolicyAnnotation, ResourcePolicyKeep)})
	}
	switch {
	case cluster.GetAnnotations()[ResourcePolicyAnnotation] == ResourcePolicyKeep:
		out = append(out, Finding{Unsafe, fmt.Sprintf("the Cluster is kept (%s: %s): uninstalling the release does not delete it, so nothing deletes the network and API load balancer; delete it by hand (kubectl -n %s delete cluster %s)", ResourcePolicyAnnotation, ResourcePolicyKeep, cluster.GetNamespace(), cluster.GetName())})
	case len(behind) == 0:
		stays := "the namespace " + cluster.GetNamespace()
		if secret := nestedString(osc, "spec", "identityRef", "name"); secret != "" {
			stays += " and its Secret " + secret + " (the cloud credentials the teardown needs)"
		}
		out = append(out, Finding{Info, fmt.Sprintf("uninstalling the release deletes the Cluster; Cluster API then deletes the workers, then the control plane, then the OpenStackCluster, and what Helm keeps goes with the Cluster; %s stay: delete them by hand once the Cluster is gone (see docs/deleting-a-cluster.md)", stays)})
	}
	return out
}

// joinAnd joins a list as a sentence: "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func (cr *ClusterReport) machines() int {
	n := 0
	if cr.ControlPlane != nil {
		n += cr.ControlPlane.Machines
	}
	for _, g := range cr.NodeGroups {
		n += g.Machines
	}
	return n
}

func nestedString(o *unstructured.Unstructured, path ...string) string {
	if o == nil {
		return ""
	}
	s, _, _ := unstructured.NestedString(o.Object, path...)
	return s
}

func nestedInt(o *unstructured.Unstructured, path ...string) *int {
	if o == nil {
		return nil
	}
	v, ok, _ := unstructured.NestedFieldNoCopy(o.Object, path...)
	if !ok {
		return nil
	}
	switch n := v.(type) {
	case int64:
		i := int(n)
		return &i
	case float64:
		i := int(n)
		return &i
	case int:
		return &n
	}
	return nil
}

func nestedMap(o *unstructured.Unstructured, path ...string) map[string]any {
	if o == nil {
		return nil
	}
	m, _, _ := unstructured.NestedMap(o.Object, path...)
	return m
}

func intPtrEqual(a, b *int) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// controlPlaneImpact applies KubeadmControlPlane's rules: whether the
// machines that a made are up to date with b is Cluster API's own decision
// (kcpVerdicts); rollout.after and the replica count are compared here.
func controlPlaneImpact(ctx context.Context, old, cur objectSet) *Rollout {
	oldKCPs, curKCPs := old.ofKind("KubeadmControlPlane"), cur.ofKind("KubeadmControlPlane")
	var a, b *unstructured.Unstructured
	if len(oldKCPs) > 0 {
		a = oldKCPs[0]
	}
	if len(curKCPs) > 0 {
		b = curKCPs[0]
	}
	if a == nil && b == nil {
		return nil
	}
	r := &Rollout{Name: "control-plane"}
	switch {
	case a == nil:
		r.Action, r.Object = Added, b.GetName()
		r.Machines = deref(nestedInt(b, "spec", "replicas"))
		r.VersionTo = nestedString(b, "spec", "version")
		return r
	case b == nil:
		r.Action, r.Object = Removed, a.GetName()
		r.Machines = deref(nestedInt(a, "spec", "replicas"))
		r.VersionFrom = nestedString(a, "spec", "version")
		return r
	}
	r.Action, r.Object = Changed, b.GetName()
	r.Machines = deref(nestedInt(b, "spec", "replicas"))
	joined, initial, err := kcpVerdicts(ctx, a, b)
	if err != nil {
		r.Replace = true
		r.Reasons = append(r.Reasons, fmt.Sprintf("control plane cannot be read: %v", err))
	}
	if joined.version || initial.version {
		va, vb := nestedString(a, "spec", "version"), nestedString(b, "spec", "version")
		r.Replace = true
		r.VersionFrom, r.VersionTo = va, vb
		r.Reasons = append(r.Reasons, fmt.Sprintf("version %s -> %s", va, vb))
	}
	refA := nestedMap(a, "spec", "machineTemplate", "spec", "infrastructureRef")
	refB := nestedMap(b, "spec", "machineTemplate", "spec", "infrastructureRef")
	if !equal(refA, refB) {
		// UpToDate compares the template a machine was cloned from by name
		// and group kind (matchesInfraMachine), which needs the template
		// from an API server; the reference is compared here instead, and
		// TestControlPlaneDecisionIsUpToDate holds the two together.
		r.Replace = true
		r.Reasons = append(r.Reasons, fmt.Sprintf("infrastructure template %s -> %s", refName(refA), refName(refB)))
		r.TemplateFields = append(r.TemplateFields, templateFields(old, cur, refA, refB)...)
	}
	// KCP compares a joined machine's KubeadmConfig with its
	// joinConfiguration, and the machine kubeadm init made first as if it
	// had joined, then with its initConfiguration: so a change to
	// initConfiguration alone rolls no machine, and one to joinConfiguration
	// alone rolls the machines that joined: all of them, or all but the
	// init machine while it lives.
	const prefix = "KubeadmControlPlane.spec.kubeadmConfigSpec"
	fields := compareFields(prefix, kubeadmForDiff(nestedMap(a, "spec", "kubeadmConfigSpec")), kubeadmForDiff(nestedMap(b, "spec", "kubeadmConfigSpec")))
	inPlace := func(fs []FieldChange) {
		for _, f := range fs {
			f.Path = strings.TrimPrefix(f.Path, "KubeadmControlPlane.")
			r.InPlace = append(r.InPlace, f)
		}
	}
	joinOnly, initOnly := false, false
	switch {
	case joined.kubeadm && initial.kubeadm:
		if len(fields) > 0 || !r.Replace {
			r.Replace = true
			r.Reasons = append(r.Reasons, "kubeadm config spec changed")
			r.TemplateFields = append(r.TemplateFields, fields...)
		}
	case joined.kubeadm:
		r.Replace, joinOnly = true, true
		r.Reasons = append(r.Reasons, "kubeadm joinConfiguration changed: the machines that joined are replaced (the one kubeadm init made only once nothing else rolls it)")
		var join, other []FieldChange
		for _, f := range fields {
			if strings.HasPrefix(f.Path, prefix+".joinConfiguration") {
				join = append(join, f)
			} else {
				other = append(other, f)
			}
		}
		r.TemplateFields = append(r.TemplateFields, join...)
		inPlace(other)
	case initial.kubeadm:
		r.Replace, initOnly = true, true
		r.Reasons = append(r.Reasons, "kubeadm initConfiguration changed: the machine kubeadm init made is replaced while it lives, the machines that joined are not")
		r.TemplateFields = append(r.TemplateFields, fields...)
	default:
		// What KCP ignores (DNS, discovery, the control plane endpoint),
		// or initConfiguration alone: used for new machines only.
		inPlace(fields)
	}
	if ra, rb := nestedString(a, "spec", "rollout", "after"), nestedString(b, "spec", "rollout", "after"); ra != rb && rb != "" {
		r.Replace = true
		r.Reasons = append(r.Reasons, fmt.Sprintf("rollout.after set to %s: machines created before it are replaced once it passes", rb))
	}
	if ra, rb := nestedInt(a, "spec", "replicas"), nestedInt(b, "spec", "replicas"); !intPtrEqual(ra, rb) {
		r.Scale = &Scale{From: ra, To: rb}
	}
	// Everything else KCP propagates in place or only uses for new
	// machines: machine template metadata, deletion timeouts, remediation,
	// rollout strategy.
	for _, f := range compareFields("", strip(a.Object), strip(b.Object)) {
		switch {
		case f.Path == "spec.version", f.Path == "spec.replicas", f.Path == "spec.rollout.after",
			strings.HasPrefix(f.Path, "spec.machineTemplate.spec.infrastructureRef"),
			strings.HasPrefix(f.Path, "spec.kubeadmConfigSpec"):
			continue
		}
		r.InPlace = append(r.InPlace, f)
	}
	if r.Replace {
		r.Replaced = deref(nestedInt(a, "spec", "replicas"))
		only := len(r.Reasons) == 1
		switch {
		case joinOnly && only && r.Replaced > 0:
			r.Replaced, r.ReplacedMax = r.Replaced-1, r.Replaced
		case initOnly && only && r.Replaced > 0:
			r.Replaced, r.ReplacedMax = 0, 1
		}
		r.Peak = kcpPeak(ctx, b)
	}
	if r.Replace || r.Scale != nil || len(r.InPlace) > 0 {
		return r
	}
	return nil
}

// kcpVerdict is Cluster API's verdict on one control plane machine.
type kcpVerdict struct {
	// version and kubeadm say why the machine is not up to date.
	version, kubeadm bool
}

// kcpVerdicts asks KubeadmControlPlane's own up-to-date check
// (controlplane/kubeadm/pkg.UpToDate, the function the controller calls
// for every machine) about the machines that KubeadmControlPlane a made,
// as a made them (controlplane/kubeadm/pkg/desiredstate), judged against
// b: a machine that joined, and the one kubeadm init made. The check is
// asked without a reconciliation time, so rollout.before and rollout.after
// (decisions of time, not of spec) are left to the caller, and without the
// infrastructure machine (see controlPlaneImpact).
func kcpVerdicts(ctx context.Context, a, b *unstructured.Unstructured) (joined, initial kcpVerdict, err error) {
	kcpA, err := decodeKCP(a)
	if err != nil {
		return joined, initial, err
	}
	kcpB, err := decodeKCP(b)
	if err != nil {
		return joined, initial, err
	}
	name := b.GetLabels()[clusterv1.ClusterNameLabel]
	if name == "" {
		name = b.GetLabels()[LabelCluster]
	}
	cluster := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: b.GetNamespace(), Name: name}}
	for _, v := range []struct {
		isJoin bool
		out    *kcpVerdict
	}{{true, &joined}, {false, &initial}} {
		m, err := desiredstate.ComputeDesiredMachine(kcpA, cluster, "", nil)
		if err != nil {
			return joined, initial, err
		}
		m.Spec.InfrastructureRef = kcpA.Spec.MachineTemplate.Spec.InfrastructureRef
		m.Spec.Bootstrap.ConfigRef = clusterv1.ContractVersionedObjectReference{
			APIGroup: bootstrapv1.GroupVersion.Group, Kind: "KubeadmConfig", Name: m.Name,
		}
		cfg, err := desiredstate.ComputeDesiredKubeadmConfig(kcpA, cluster, v.isJoin, m.Name, nil)
		if err != nil {
			return joined, initial, err
		}
		upToDate, res, err := kcppkg.UpToDate(ctx, nil, cluster, m, kcpB, nil,
			map[string]*unstructured.Unstructured{}, map[string]*bootstrapv1.KubeadmConfig{m.Name: cfg})
		if err != nil {
			return joined, initial, err
		}
		if upToDate {
			continue
		}
		v.out.version = m.Spec.Version != kcpB.Spec.Version
		v.out.kubeadm = res.CurrentKubeadmConfig != nil && !kubeadmConfigsMatch(res)
	}
	return joined, initial, nil
}

// kubeadmConfigsMatch reads UpToDate's verdict on the KubeadmConfig from
// its condition messages (the only place it states it apart from the
// version).
func kubeadmConfigsMatch(res *kcppkg.UpToDateResult) bool {
	for _, m := range res.ConditionMessages {
		if m == "KubeadmConfig is not up-to-date" {
			return false
		}
	}
	return true
}

func decodeKCP(u *unstructured.Unstructured) (*controlplanev1.KubeadmControlPlane, error) {
	kcp := &controlplanev1.KubeadmControlPlane{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, kcp); err != nil {
		return nil, fmt.Errorf("%s: %w", u.GetName(), err)
	}
	return kcp, nil
}

func refName(ref map[string]any) string {
	if ref == nil {
		return "(none)"
	}
	n, _ := ref["name"].(string)
	return n
}

// templateFields compares the spec of the templates two references name.
func templateFields(old, cur objectSet, refA, refB map[string]any) []FieldChange {
	kind, _ := refB["kind"].(string)
	if kind == "" {
		kind, _ = refA["kind"].(string)
	}
	ta := old.get(kind, "", refName(refA))
	tb := cur.get(kind, "", refName(refB))
	if ta == nil || tb == nil {
		return nil
	}
	return compareFields(kind+".spec", nestedMap(ta, "spec"), nestedMap(tb, "spec"))
}

// kubeadmForDiff drops the empty maps and lists that make no difference
// once rendered to kubeadm's config files, so that they are not listed as
// changes.
func kubeadmForDiff(spec map[string]any) map[string]any {
	if spec == nil {
		return nil
	}
	if v, ok := dropEmpty(runtime.DeepCopyJSON(spec)).(map[string]any); ok {
		return v
	}
	return nil
}

func dropEmpty(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if d := dropEmpty(e); d == nil {
				delete(t, k)
			} else {
				t[k] = d
			}
		}
		if len(t) == 0 {
			return nil
		}
	case []any:
		if len(t) == 0 {
			return nil
		}
		for i := range t {
			if d := dropEmpty(t[i]); d != nil {
				t[i] = d
			}
		}
	}
	return v
}

// groupName names a MachineDeployment's node group: its label, else its
// name less the cluster prefix.
func groupName(md *unstructured.Unstructured) string {
	if g := md.GetLabels()[LabelNodeGroup]; g != "" {
		return g
	}
	return md.GetName()
}

func autoscaleBounds(md *unstructured.Unstructured) *Bounds {
	if md == nil {
		return nil
	}
	ann := md.GetAnnotations()
	minS, okMin := ann[AnnotationAutoscalerMin]
	maxS, okMax := ann[AnnotationAutoscalerMax]
	if !okMin && !okMax {
		return nil
	}
	lo, _ := strconv.Atoi(minS)
	hi, _ := strconv.Atoi(maxS)
	return &Bounds{Min: lo, Max: hi}
}

func boundsEqual(a, b *Bounds) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// mdMachines is a MachineDeployment's machine count: its replicas, or an
// autoscaled group's minimum.
func mdMachines(md *unstructured.Unstructured) int {
	if r := nestedInt(md, "spec", "replicas"); r != nil {
		return *r
	}
	if b := autoscaleBounds(md); b != nil {
		return b.Min
	}
	return 0
}

// mdMachinesMax is an autoscaled MachineDeployment's maximum, 0 for a
// fixed one.
func mdMachinesMax(md *unstructured.Unstructured) int {
	if nestedInt(md, "spec", "replicas") == nil {
		if b := autoscaleBounds(md); b != nil {
			return b.Max
		}
	}
	return 0
}

// countText is "N", or "MIN-MAX" for an autoscaled group.
func countText(n, max int) string {
	if max > n {
		return fmt.Sprintf("%d-%d", n, max)
	}
	return fmt.Sprint(n)
}

func machineTemplateSpec(md *unstructured.Unstructured) (*clusterv1.MachineTemplateSpec, error) {
	m := nestedMap(md, "spec", "template")
	out := &clusterv1.MachineTemplateSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, out); err != nil {
		return nil, fmt.Errorf("%s: spec.template: %w", md.GetName(), err)
	}
	return out, nil
}

// nodeGroupsImpact applies MachineDeployment's rules (mdutil's
// MachineTemplateUpToDate, the function the controller itself uses, plus
// rollout.after) to each node group.
func nodeGroupsImpact(ctx context.Context, old, cur objectSet) []Rollout {
	type pair struct{ a, b *unstructured.Unstructured }
	groups := map[string]*pair{}
	for _, md := range old.ofKind("MachineDeployment") {
		groups[md.GetName()] = &pair{a: md}
	}
	for _, md := range cur.ofKind("MachineDeployment") {
		if p, ok := groups[md.GetName()]; ok {
			p.b = md
		} else {
			groups[md.GetName()] = &pair{b: md}
		}
	}
	var out []Rollout
	for _, name := range sortedKeys(groups) {
		p := groups[name]
		switch {
		case p.a == nil:
			r := Rollout{Name: groupName(p.b), Object: name, Action: Added, Machines: mdMachines(p.b), MachinesMax: mdMachinesMax(p.b)}
			r.VersionTo = nestedString(p.b, "spec", "template", "spec", "version")
			if b := autoscaleBounds(p.b); b != nil {
				r.Autoscale = &AutoscaleChange{To: b}
			}
			out = append(out, r)
		case p.b == nil:
			r := Rollout{Name: groupName(p.a), Object: name, Action: Removed, Machines: mdMachines(p.a), MachinesMax: mdMachinesMax(p.a)}
			r.VersionFrom = nestedString(p.a, "spec", "template", "spec", "version")
			out = append(out, r)
		default:
			if r := machineDeploymentImpact(ctx, old, cur, p.a, p.b); r != nil {
				out = append(out, *r)
			}
		}
	}
	return out
}

func machineDeploymentImpact(ctx context.Context, old, cur objectSet, a, b *unstructured.Unstructured) *Rollout {
	r := &Rollout{Name: groupName(b), Object: b.GetName(), Action: Changed, Machines: mdMachines(b), MachinesMax: mdMachinesMax(b)}
	ta, errA := machineTemplateSpec(a)
	tb, errB := machineTemplateSpec(b)
	if errA != nil || errB != nil {
		r.Replace = true
		r.Reasons = append(r.Reasons, fmt.Sprintf("machine template cannot be read: %v", firstErr(errA, errB)))
	} else if upToDate, _ := mdutil.MachineTemplateUpToDate(ta, tb); !upToDate {
		r.Replace = true
		if ta.Spec.Version != tb.Spec.Version {
			r.VersionFrom, r.VersionTo = ta.Spec.Version, tb.Spec.Version
			r.Reasons = append(r.Reasons, fmt.Sprintf("version %s -> %s", ta.Spec.Version, tb.Spec.Version))
		}
		if ta.Spec.InfrastructureRef != tb.Spec.InfrastructureRef {
			r.Reasons = append(r.Reasons, fmt.Sprintf("infrastructure template %s -> %s", ta.Spec.InfrastructureRef.Name, tb.Spec.InfrastructureRef.Name))
			r.TemplateFields = append(r.TemplateFields, templateFields(old, cur,
				nestedMap(a, "spec", "template", "spec", "infrastructureRef"), nestedMap(b, "spec", "template", "spec", "infrastructureRef"))...)
		}
		if ta.Spec.Bootstrap.ConfigRef != tb.Spec.Bootstrap.ConfigRef || !equal(ta.Spec.Bootstrap.DataSecretName, tb.Spec.Bootstrap.DataSecretName) {
			r.Reasons = append(r.Reasons, fmt.Sprintf("bootstrap template %s -> %s", ta.Spec.Bootstrap.ConfigRef.Name, tb.Spec.Bootstrap.ConfigRef.Name))
			r.TemplateFields = append(r.TemplateFields, templateFields(old, cur,
				nestedMap(a, "spec", "template", "spec", "bootstrap", "configRef"), nestedMap(b, "spec", "template", "spec", "bootstrap", "configRef"))...)
		}
		if ta.Spec.FailureDomain != tb.Spec.FailureDomain {
			r.Reasons = append(r.Reasons, fmt.Sprintf("failure domain %q -> %q", ta.Spec.FailureDomain, tb.Spec.FailureDomain))
		}
	}
	if ra, rb := nestedString(a, "spec", "rollout", "after"), nestedString(b, "spec", "rollout", "after"); ra != rb && rb != "" {
		r.Replace = true
		r.Reasons = append(r.Reasons, fmt.Sprintf("rollout.after set to %s: machines created before it are replaced once it passes", rb))
	}
	if ra, rb := nestedInt(a, "spec", "replicas"), nestedInt(b, "spec", "replicas"); !intPtrEqual(ra, rb) {
		r.Scale = &Scale{From: ra, To: rb}
	}
	if ba, bb := autoscaleBounds(a), autoscaleBounds(b); !boundsEqual(ba, bb) {
		r.Autoscale = &AutoscaleChange{From: ba, To: bb}
	}
	// Everything else is in place: template metadata, deletion timeouts,
	// and the rollout strategy and deletion order, which Cluster API v1.14
	// applies to the existing MachineSets without a new one.
	for _, f := range compareFields("", strip(a.Object), strip(b.Object)) {
		switch {
		case f.Path == "spec.replicas", f.Path == "spec.rollout.after",
			f.Path == "spec.template.spec.version", f.Path == "spec.template.spec.failureDomain",
			strings.HasPrefix(f.Path, "spec.template.spec.infrastructureRef"),
			strings.HasPrefix(f.Path, "spec.template.spec.bootstrap"),
			strings.HasPrefix(f.Path, "metadata.annotations."+strconv.Quote(AnnotationAutoscalerMin)),
			strings.HasPrefix(f.Path, "metadata.annotations."+strconv.Quote(AnnotationAutoscalerMax)):
			continue
		}
		r.InPlace = append(r.InPlace, f)
	}
	// A bootstrap template whose content changed under the same name rolls
	// nothing: Machines keep the KubeadmConfig they were made with.
	for _, ref := range [][]string{{"bootstrap", "configRef"}, {"infrastructureRef"}} {
		refA := nestedMap(a, append([]string{"spec", "template", "spec"}, ref...)...)
		refB := nestedMap(b, append([]string{"spec", "template", "spec"}, ref...)...)
		if refName(refA) != refName(refB) || refB == nil {
			continue
		}
		kind, _ := refB["kind"].(string)
		ta, tb := old.get(kind, "", refName(refA)), cur.get(kind, "", refName(refB))
		if ta == nil || tb == nil {
			continue
		}
		f := compareFields(kind+".spec", nestedMap(ta, "spec"), nestedMap(tb, "spec"))
		r.InPlace = append(r.InPlace, f...)
	}
	if r.Replace {
		r.Replaced, r.ReplacedMax = mdMachines(a), mdMachinesMax(a)
		r.Peak = mdPeak(ctx, b, r.Machines)
		if r.MachinesMax > 0 {
			r.PeakMax = mdPeak(ctx, b, r.MachinesMax)
		}
	}
	if r.Replace || r.Scale != nil || r.Autoscale != nil || len(r.InPlace) > 0 {
		return r
	}
	return nil
}

// mdPeak is the most machines a MachineDeployment with n replicas has at
// once while it rolls: n and its surge, defaulted by Cluster API's
// MachineDeployment webhook and resolved by its controller's mdutil
// (0 for a strategy they cannot read: policy refuses it).
func mdPeak(ctx context.Context, md *unstructured.Unstructured, n int) int {
	typed := &clusterv1.MachineDeployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(md.Object, typed); err != nil {
		return n
	}
	typed.Spec.Replicas = ptr.To(int32(n))
	// The webhook reads the admission request from its context: this is a
	// creation, as far as defaulting goes.
	ctx = admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create}})
	if err := (&coreadmission.MachineDeployment{}).Default(ctx, typed); err != nil {
		return n
	}
	return n + int(mdutil.MaxSurge(*typed))
}

// kcpPeak is the most machines a KubeadmControlPlane has at once while
// it rolls: its replicas and its surge (0 or 1), defaulted by Cluster
// API's KubeadmControlPlane webhook.
func kcpPeak(ctx context.Context, kcp *unstructured.Unstructured) int {
	typed := &controlplanev1.KubeadmControlPlane{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(kcp.Object, typed); err != nil {
		return deref(nestedInt(kcp, "spec", "replicas"))
	}
	if err := (&kcpadmission.KubeadmControlPlane{}).Default(ctx, typed); err != nil {
		return int(ptr.Deref(typed.Spec.Replicas, 0))
	}
	return int(ptr.Deref(typed.Spec.Replicas, 0)) + typed.Spec.Rollout.Strategy.RollingUpdate.MaxSurge.IntValue()
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// templateFindings flags machine templates whose spec changed under the
// same name: a bootstrap template rolls nothing; an infrastructure machine
// template's spec is immutable (CAPO's webhook refuses the update).
func templateFindings(old, cur objectSet) []Finding {
	var out []Finding
	for _, kind := range []string{"KubeadmConfigTemplate", "OpenStackMachineTemplate"} {
		for _, b := range cur.ofKind(kind) {
			a := old[keyOf(b)]
			if a == nil || equal(nestedMap(a, "spec"), nestedMap(b, "spec")) {
				continue
			}
			if kind == "KubeadmConfigTemplate" {
				out = append(out, Finding{Warning, fmt.Sprintf("KubeadmConfigTemplate %s changed under the same name: no machine rolls, existing machines keep their old bootstrap config and only machines created later get the new one", b.GetName())})
			} else {
				out = append(out, Finding{Unsafe, fmt.Sprintf("OpenStackMachineTemplate %s changed under the same name: its spec is immutable, the update is refused and no machine changes", b.GetName())})
			}
		}
	}
	return out
}

// versionFindings flags downgrades, skipped minor versions, node groups
// newer than the control plane, and a control plane upgraded together with
// its node groups (without ClusterClass they roll concurrently).
func versionFindings(cr *ClusterReport, cpTo string) []Finding {
	var out []Finding
	cpUp := false
	if cp := cr.ControlPlane; cp != nil {
		if cp.Action == Changed && cp.VersionFrom != "" && cp.VersionTo != "" {
			switch cmpVersion(cp.VersionFrom, cp.VersionTo) {
			case 1:
				out = append(out, Finding{Unsafe, fmt.Sprintf("control plane downgraded %s -> %s: Kubernetes does not support downgrades", cp.VersionFrom, cp.VersionTo)})
			case -1:
				cpUp = true
			}
			if skipped(cp.VersionFrom, cp.VersionTo) {
				out = append(out, Finding{Unsafe, fmt.Sprintf("control plane upgrade %s -> %s skips a minor version: upgrade one minor version at a time", cp.VersionFrom, cp.VersionTo)})
			}
		}
	}
	var upGroups []string
	for _, g := range cr.NodeGroups {
		if g.Action == Changed && g.VersionFrom != "" && g.VersionTo != "" {
			switch cmpVersion(g.VersionFrom, g.VersionTo) {
			case 1:
				out = append(out, Finding{Unsafe, fmt.Sprintf("node group %s downgraded %s -> %s", g.Name, g.VersionFrom, g.VersionTo)})
			case -1:
				upGroups = append(upGroups, g.Name)
			}
			if skipped(g.VersionFrom, g.VersionTo) {
				out = append(out, Finding{Unsafe, fmt.Sprintf("node group %s upgrade %s -> %s skips a minor version", g.Name, g.VersionFrom, g.VersionTo)})
			}
		}
		if cpTo != "" && g.VersionTo != "" && cmpVersion(g.VersionTo, cpTo) == 1 {
			out = append(out, Finding{Unsafe, fmt.Sprintf("node group %s (%s) would run a newer version than the control plane (%s)", g.Name, g.VersionTo, cpTo)})
		}
	}
	if cpUp && len(upGroups) > 0 {
		out = append(out, Finding{Unsafe, fmt.Sprintf("control plane and node group(s) %s upgraded together: they roll concurrently; upgrade the control plane first, the node groups in a later change", strings.Join(upGroups, ", "))})
	}
	return out
}

// cmpVersion compares two Kubernetes versions: -1, 0 or 1 (0 when either
// does not parse).
func cmpVersion(a, b string) int {
	va, errA := version.ParseGeneric(a)
	vb, errB := version.ParseGeneric(b)
	if errA != nil || errB != nil {
		return 0
	}
	switch {
	case va.LessThan(vb):
		return -1
	case vb.LessThan(va):
		return 1
	}
	return 0
}

func skipped(from, to string) bool {
	va, errA := version.ParseGeneric(from)
	vb, errB := version.ParseGeneric(to)
	if errA != nil || errB != nil {
		return false
	}
	return vb.Major() == va.Major() && vb.Minor() > va.Minor()+1 || vb.Major() > va.Major()
}
