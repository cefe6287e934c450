package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/resolve"
	"github.com/capiform/capiform/tools/source"
)

// expandWith loads testdata/fleet, lets the test change the site and the
// cluster "lagging", then resolves and expands that cluster through the
// repository's chart.
func expandWith(t *testing.T, dir string, change func(*v1alpha1.SiteSpec, *v1alpha1.ClusterSpec)) []*unstructured.Unstructured {
	t.Helper()
	fsys := source.Worktree(dir)
	fleet, err := load.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	site := fleet.Site("t1")
	c := site.Cluster("lagging")
	change(&site.Spec, &c.Spec)
	var rels []*resolve.Release
	for _, cl := range site.Clusters {
		rel, d := resolve.Cluster(site, cl)
		if len(d) > 0 {
			t.Fatal(d)
		}
		rels = append(rels, rel)
	}
	res := &pipeline.Result{Fleet: fleet, Releases: rels}
	objs, err := pipeline.Expand(context.Background(), fsys, res, res.Release("t1", "lagging"))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// find returns the object of a kind whose name is name or, with a
// trailing "-*", starts with it.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() != kind {
			continue
		}
		if o.GetName() == name || (strings.HasSuffix(name, "*") && strings.HasPrefix(o.GetName(), strings.TrimSuffix(name, "*"))) {
			return o
		}
	}
	return nil
}

// get reads a dotted path with [i] list indexes; keys may be quoted with
// "..." when they hold dots.
func get(o *unstructured.Unstructured, path string) (any, bool) {
	if o == nil {
		return nil, false
	}
	var cur any = o.Object
	for _, part := range splitPath(path) {
		if i, err := strconv.Atoi(part); err == nil {
			l, ok := cur.([]any)
			if !ok || i >= len(l) {
				return nil, false
			}
			cur = l[i]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func splitPath(p string) []string {
	var out []string
	for len(p) > 0 {
		switch {
		case p[0] == '.':
			p = p[1:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			out = append(out, p[1:end])
			p = p[end+1:]
		case p[0] == '"':
			end := strings.IndexByte(p[1:], '"') + 1
			out = append(out, p[1:end])
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			out = append(out, p[:end])
			p = p[end:]
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestDefinitionFieldsLand maps every definition field to where it lands
// in the expanded Cluster API and OpenStack objects.
func TestDefinitionFieldsLand(t *testing.T) {
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join("testdata", "fleet"), dir); err != nil {
		t.Fatal(err)
	}
	type where struct {
		kind, name, path string
		want             any // nil: the path must be absent
	}
	tests := []struct {
		field  string
		change func(*v1alpha1.SiteSpec, *v1alpha1.ClusterSpec)
		want   []where
	}{
		{"kubernetesVersion", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.version", "v1.36.1"},
			{"MachineDeployment", "lagging-new", "spec.template.spec.version", "v1.36.1"},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.image.filter.name", "kube-v1.36.1"},
		}},
		{"nodeGroups[].kubernetesVersion (image by id from the catalogue)", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"MachineDeployment", "lagging-old", "spec.template.spec.version", "v1.35.4"},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.image.id", "7d0c6b7e-image-id"},
		}},
		{"controlPlane.flavor and replicas", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.ControlPlane.Flavor = "gpu"
			c.ControlPlane.Replicas = ptr(5)
		}, []where{
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.flavor", "gpu"},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.replicas", int64(5)},
		}},
		{"controlPlane.rootVolume", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.ControlPlane.RootVolume = &v1alpha1.Volume{SizeGiB: 60, Type: "fast", AvailabilityZone: "az1"}
		}, []where{
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.rootVolume.sizeGiB", int64(60)},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.rootVolume.type", "fast"},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.rootVolume.availabilityZone.name", "az1"},
		}},
		{"etcd.volume -> tagged block device, mounted by its tag; only DirAvailable--var-lib-etcd skipped", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.Etcd = &v1alpha1.Etcd{Volume: &v1alpha1.Volume{SizeGiB: 25, Type: "ssd"}}
		}, []where{
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.additionalBlockDevices[0].name", "etcd"},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.additionalBlockDevices[0].sizeGiB", int64(25)},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.additionalBlockDevices[0].storage.volume.type", "ssd"},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.configDrive", true},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.diskSetup.filesystems[0].device", "/dev/disk/openstack/by-tag/etcd"},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.diskSetup.partitions", nil},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.mounts[0][1]", "/var/lib/etcd"},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.initConfiguration.nodeRegistration.ignorePreflightErrors", []any{"DirAvailable--var-lib-etcd"}},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.joinConfiguration.nodeRegistration.ignorePreflightErrors", []any{"DirAvailable--var-lib-etcd"}},
		}},
		{"no etcd volume -> no block device, no preflight skipped", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.additionalBlockDevices", nil},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.configDrive", nil},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.diskSetup", nil},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.initConfiguration.nodeRegistration.ignorePreflightErrors", nil},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.joinConfiguration.nodeRegistration.ignorePreflightErrors", nil},
		}},
		{"etcd tuning: cluster over site clusterDefaults over built-in -> etcd arguments; metrics on the node network", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.ClusterDefaults = &v1alpha1.ClusterDefaults{Etcd: &v1alpha1.EtcdTuning{HeartbeatIntervalMs: ptr(300), ElectionTimeoutMs: ptr(3000)}}
			c.Etcd = &v1alpha1.Etcd{EtcdTuning: v1alpha1.EtcdTuning{ElectionTimeoutMs: ptr(4000)}}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.clusterConfiguration.etcd.local.extraArgs", []any{
				map[string]any{"name": "heartbeat-interval", "value": "300"},
				map[string]any{"name": "election-timeout", "value": "4000"},
				map[string]any{"name": "quota-backend-bytes", "value": "8589934592"},
				map[string]any{"name": "listen-metrics-urls", "value": "http://0.0.0.0:2381"},
			}},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.clusterConfiguration.controllerManager.extraArgs[0]", map[string]any{"name": "bind-address", "value": "0.0.0.0"}},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.clusterConfiguration.scheduler.extraArgs[0]", map[string]any{"name": "bind-address", "value": "0.0.0.0"}},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.files[0].path", "/run/kubeadm/kube-proxy-configuration.yaml"},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.files[2].content", "# Defragments etcd, one member at a time (/usr/local/sbin/etcd-defrag).\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n0 3 * * 0 root etcd-defrag 2>&1 | logger -t etcd-defrag\n"},
		}},
		{"etcd.defragSchedule: none -> no defragmentation", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.Etcd = &v1alpha1.Etcd{EtcdTuning: v1alpha1.EtcdTuning{DefragSchedule: "none"}}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.files[1]", nil},
		}},
		{"certificates.renewBeforeDays from the site's clusterDefaults", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.ClusterDefaults = &v1alpha1.ClusterDefaults{Certificates: &v1alpha1.Certificates{RenewBeforeDays: ptr(45)}}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.rollout.before.certificatesExpiryDays", int64(45)},
		}},
		{"certificates.renewBeforeDays: 0 -> no rollout before expiry", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.Certificates = &v1alpha1.Certificates{RenewBeforeDays: ptr(0)}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.rollout.before", nil},
		}},
		{"nodeGroups[].flavor, replicas and rootVolume", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.NodeGroups[1].Replicas = ptr(7)
			c.NodeGroups[1].RootVolume = &v1alpha1.Volume{SizeGiB: 80}
		}, []where{
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.flavor", "small"},
			{"MachineDeployment", "lagging-new", "spec.replicas", int64(7)},
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.rootVolume.sizeGiB", int64(80)},
		}},
		{"nodeGroups[] without replicas defaults to one machine", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"MachineDeployment", "lagging-new", "spec.replicas", int64(1)},
		}},
		{"nodeGroups[].availabilityZone -> failure domain; unset, none", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.NodeGroups[0].AvailabilityZone = "az-2"
		}, []where{
			{"MachineDeployment", "lagging-old", "spec.template.spec.failureDomain", "az-2"},
			{"MachineDeployment", "lagging-new", "spec.template.spec.failureDomain", nil},
		}},
		{"GPU node group -> autoscaler bounds, no replicas, capacity annotations", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.NodeGroups[2].Labels = map[string]string{"nvidia.com/gpu.present": "true"}
			c.NodeGroups[2].Taints = []v1alpha1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: "NoSchedule"}}
		}, []where{
			{"MachineDeployment", "lagging-gpu", "spec.replicas", nil},
			{"MachineDeployment", "lagging-gpu", `metadata.annotations."cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"`, "0"},
			{"MachineDeployment", "lagging-gpu", `metadata.annotations."cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"`, "2"},
			{"MachineDeployment", "lagging-gpu", `metadata.annotations."capacity.cluster-autoscaler.kubernetes.io/gpu-count"`, "2"},
			{"MachineDeployment", "lagging-gpu", `metadata.annotations."capacity.cluster-autoscaler.kubernetes.io/cpu"`, "8"},
			{"MachineDeployment", "lagging-gpu", `metadata.annotations."capacity.cluster-autoscaler.kubernetes.io/memory"`, "65536Mi"},
			{"MachineDeployment", "lagging-gpu", `metadata.annotations."capacity.cluster-autoscaler.kubernetes.io/taints"`, "nvidia.com/gpu=present:NoSchedule"},
			{"MachineDeployment", "lagging-gpu", `spec.template.metadata.labels."nvidia.com/gpu.present"`, "true"},
			{"KubeadmConfigTemplate", "lagging-gpu-*", "spec.template.spec.joinConfiguration.nodeRegistration.taints[0].key", "nvidia.com/gpu"},
			{"Deployment", "lagging-autoscaler", "kind", "Deployment"},
		}},
		{"autohealing: false -> no MachineHealthChecks", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"MachineHealthCheck", "lagging-*", "kind", nil},
		}},
		{"autohealing: true -> MachineHealthChecks", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) { c.Autohealing = ptr(true) }, []where{
			{"MachineHealthCheck", "lagging-control-plane", "spec.clusterName", "lagging"},
			{"MachineHealthCheck", "lagging-new", "spec.clusterName", "lagging"},
		}},
		{"remediation, health checks, rollout: built-in defaults", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) { c.Autohealing = ptr(true) }, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.remediation.maxRetry", int64(3)},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.remediation.retryPeriodSeconds", int64(1200)},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.remediation.minHealthyPeriodSeconds", int64(3600)},
			{"MachineHealthCheck", "lagging-control-plane", "spec.checks.nodeStartupTimeoutSeconds", int64(1800)},
			{"MachineHealthCheck", "lagging-control-plane", "spec.checks.unhealthyNodeConditions[1].timeoutSeconds", int64(300)},
			{"MachineHealthCheck", "lagging-control-plane", "spec.remediation.triggerIf.unhealthyLessThanOrEqualTo", int64(1)},
			{"MachineHealthCheck", "lagging-new", "spec.remediation.triggerIf.unhealthyLessThanOrEqualTo", int64(2)},
			{"MachineDeployment", "lagging-new", "spec.rollout.strategy.rollingUpdate.maxSurge", int64(1)},
			{"MachineDeployment", "lagging-new", "spec.rollout.strategy.rollingUpdate.maxUnavailable", int64(0)},
			{"MachineDeployment", "lagging-new", "spec.deletion.order", "Random"},
		}},
		{"site clusterDefaults under the cluster's own remediation, health checks and rollout", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.Autohealing = ptr(true)
			pct := intstr.FromString("40%")
			zero := intstr.FromInt32(0)
			one := intstr.FromInt32(1)
			s.ClusterDefaults = &v1alpha1.ClusterDefaults{
				Remediation: &v1alpha1.Remediation{MaxRetry: ptr(5), RetryPeriodSeconds: ptr(600)},
				HealthCheck: &v1alpha1.HealthCheck{NodeStartupTimeoutSeconds: ptr(2400), MaxUnhealthy: &v1alpha1.MaxUnhealthy{Workers: &pct}},
				Rollout:     &v1alpha1.Rollout{MaxSurge: &zero, MaxUnavailable: &one, DeletePolicy: "Newest"},
			}
			c.ControlPlane.Remediation = &v1alpha1.Remediation{MaxRetry: ptr(2)}
			c.HealthCheck = &v1alpha1.HealthCheck{UnhealthyTimeoutSeconds: ptr(120)}
			c.NodeGroups[1].Rollout = &v1alpha1.Rollout{MaxSurge: &pct, DeletePolicy: "Oldest"}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.remediation.maxRetry", int64(2)},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.remediation.retryPeriodSeconds", int64(600)},
			{"MachineHealthCheck", "lagging-new", "spec.checks.nodeStartupTimeoutSeconds", int64(2400)},
			{"MachineHealthCheck", "lagging-new", "spec.checks.unhealthyNodeConditions[0].timeoutSeconds", int64(120)},
			{"MachineHealthCheck", "lagging-new", "spec.remediation.triggerIf.unhealthyLessThanOrEqualTo", "40%"},
			{"MachineHealthCheck", "lagging-control-plane", "spec.remediation.triggerIf.unhealthyLessThanOrEqualTo", int64(1)},
			{"MachineDeployment", "lagging-new", "spec.rollout.strategy.rollingUpdate.maxSurge", "40%"},
			{"MachineDeployment", "lagging-new", "spec.rollout.strategy.rollingUpdate.maxUnavailable", int64(1)},
			{"MachineDeployment", "lagging-new", "spec.deletion.order", "Oldest"},
			{"MachineDeployment", "lagging-old", "spec.rollout.strategy.rollingUpdate.maxSurge", int64(0)},
			{"MachineDeployment", "lagging-old", "spec.deletion.order", "Newest"},
		}},
		{"apiServer.loadBalancer, floatingIP and allowedCIDRs", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.APIServer = &v1alpha1.APIServer{LoadBalancer: ptr(true), FloatingIP: ptr(true), AllowedCIDRs: []string{"192.0.2.0/24"}}
		}, []where{
			{"OpenStackCluster", "lagging", "spec.apiServerLoadBalancer.enabled", true},
			{"OpenStackCluster", "lagging", "spec.apiServerLoadBalancer.allowedCIDRs[0]", "192.0.2.0/24"},
			{"OpenStackCluster", "lagging", "spec.disableAPIServerFloatingIP", false},
		}},
		{"apiServer without load balancer nor floating IP", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"OpenStackCluster", "lagging", "spec.apiServerLoadBalancer", nil},
			{"OpenStackCluster", "lagging", "spec.disableAPIServerFloatingIP", true},
		}},
		{"placement: controlPlane serverGroup and serverMetadata over the site's; site configDrive", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.Placement = &v1alpha1.SitePlacement{Hosts: 5, ServerMetadata: map[string]string{"billing": "site", "owner": "ops"}, ConfigDrive: true}
			c.ControlPlane.ServerGroup = &v1alpha1.ServerGroup{Name: "lagging-cp", Policy: "anti-affinity"}
			c.ControlPlane.ServerMetadata = map[string]string{"billing": "lagging"}
		}, []where{
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.serverGroup.filter.name", "lagging-cp"},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.serverMetadata", []any{
				map[string]any{"key": "billing", "value": "lagging"},
				map[string]any{"key": "owner", "value": "ops"},
			}},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.configDrive", true},
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.configDrive", true},
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.serverGroup", nil},
		}},
		{"nodeGroups[] configDrive: false over the site's, volumes and ports (SR-IOV)", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.Placement = &v1alpha1.SitePlacement{ConfigDrive: true}
			c.NodeGroups[1].ConfigDrive = ptr(false)
			c.NodeGroups[0].Volumes = []v1alpha1.ExtraVolume{{Name: "scratch", SizeGiB: 100, Type: "fast", AvailabilityZone: "az1"}}
			c.NodeGroups[0].Ports = []v1alpha1.Port{{Network: "storage"}, {Network: "fabric", VNICType: "direct", DisablePortSecurity: true}}
		}, []where{
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.configDrive", nil},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.configDrive", true},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.additionalBlockDevices[0].name", "scratch"},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.additionalBlockDevices[0].sizeGiB", int64(100)},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.additionalBlockDevices[0].storage.volume.type", "fast"},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.additionalBlockDevices[0].storage.volume.availabilityZone.name", "az1"},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.ports[0]", map[string]any{}},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.ports[1].network.filter.name", "storage"},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.ports[2].vnicType", "direct"},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.ports[2].disablePortSecurity", true},
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.ports", nil},
		}},
		{"nodeGroups[] volumes: mountPath and filesystem", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.NodeGroups[0].Volumes = []v1alpha1.ExtraVolume{{Name: "data", SizeGiB: 100, MountPath: "/srv/data", Filesystem: "xfs"}, {Name: "raw", SizeGiB: 10}}
		}, []where{
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.additionalBlockDevices[0].name", "data"},
			{"OpenStackMachineTemplate", "lagging-old-*", "spec.template.spec.additionalBlockDevices[1].name", "raw"},
			{"KubeadmConfigTemplate", "lagging-old-*", "spec.template.spec.diskSetup.filesystems[0].device", "/dev/disk/openstack/by-tag/data"},
			{"KubeadmConfigTemplate", "lagging-old-*", "spec.template.spec.diskSetup.filesystems[0].filesystem", "xfs"},
			{"KubeadmConfigTemplate", "lagging-old-*", "spec.template.spec.diskSetup.filesystems[1]", nil},
			{"KubeadmConfigTemplate", "lagging-old-*", "spec.template.spec.mounts[0]", []any{"/dev/disk/openstack/by-tag/data", "/srv/data"}},
			{"KubeadmConfigTemplate", "lagging-new-*", "spec.template.spec.diskSetup", nil},
		}},
		{"apiServer.loadBalancerProvider; floatingIPAddress", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.Networking = &v1alpha1.SiteNetworking{LoadBalancerProviders: []string{"amphora", "ovn"}}
			c.APIServer = &v1alpha1.APIServer{LoadBalancerProvider: "ovn", FloatingIPAddress: "203.0.113.10", AllowedCIDRs: []string{"192.0.2.0/24"}}
		}, []where{
			{"OpenStackCluster", "lagging", "spec.apiServerLoadBalancer.provider", "ovn"},
			{"OpenStackCluster", "lagging", "spec.apiServerFloatingIP", "203.0.113.10"},
		}},
		{"site's load balancer providers are an offer, not a default: Octavia's", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.Networking = &v1alpha1.SiteNetworking{LoadBalancerProviders: []string{"ovn"}}
			c.APIServer = &v1alpha1.APIServer{AllowedCIDRs: []string{"192.0.2.0/24"}}
		}, []where{
			{"OpenStackCluster", "lagging", "spec.apiServerLoadBalancer.enabled", true},
			{"OpenStackCluster", "lagging", "spec.apiServerLoadBalancer.provider", nil},
			{"OpenStackCluster", "lagging", "spec.apiServerFloatingIP", nil},
		}},
		{"securityGroups: rules and nodePortsFrom -> allNodesSecurityGroupRules", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.SecurityGroups = &v1alpha1.SecurityGroups{
				Rules:         []v1alpha1.SecurityGroupRule{{Name: "ssh", Direction: "ingress", Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, RemoteIPPrefix: "10.0.0.0/8"}},
				NodePortsFrom: []string{"192.0.2.0/24"},
				Existing:      []string{"monitoring"},
			}
		}, []where{
			{"OpenStackCluster", "lagging", "spec.managedSecurityGroups.allowAllInClusterTraffic", true},
			{"OpenStackCluster", "lagging", "spec.managedSecurityGroups.allNodesSecurityGroupRules[0].name", "ssh"},
			{"OpenStackCluster", "lagging", "spec.managedSecurityGroups.allNodesSecurityGroupRules[0].remoteIPPrefix", "10.0.0.0/8"},
			{"OpenStackCluster", "lagging", "spec.managedSecurityGroups.allNodesSecurityGroupRules[1]", map[string]any{
				"name": "node-ports-tcp-0", "description": "NodePorts from 192.0.2.0/24 (load balancers that keep the client's address)",
				"direction": "ingress", "etherType": "IPv4", "protocol": "tcp", "portRangeMin": int64(30000), "portRangeMax": int64(32767), "remoteIPPrefix": "192.0.2.0/24",
			}},
			{"OpenStackCluster", "lagging", "spec.managedSecurityGroups.allNodesSecurityGroupRules[2].name", "node-ports-udp-0"},
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.securityGroups[0].filter.name", "monitoring"},
			{"OpenStackMachineTemplate", "lagging-control-plane-*", "spec.template.spec.securityGroups[0].filter.name", "monitoring"},
		}},
		{"securityGroups.managed: false -> no managed groups", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.SecurityGroups = &v1alpha1.SecurityGroups{Managed: ptr(false), Existing: []string{"cluster-nodes"}}
		}, []where{
			{"OpenStackCluster", "lagging", "spec.managedSecurityGroups", nil},
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.securityGroups[0].filter.name", "cluster-nodes"},
		}},
		{"network: pod, service and node CIDRs", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"Cluster", "lagging", "spec.clusterNetwork.pods.cidrBlocks[0]", "10.100.0.0/16"},
			{"Cluster", "lagging", "spec.clusterNetwork.services.cidrBlocks[0]", "10.101.0.0/16"},
			{"OpenStackCluster", "lagging", "spec.managedSubnets[0].cidr", "10.102.0.0/24"},
		}},
		{"network.existing -> network filter, no new subnet", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.Network.Existing = &v1alpha1.ExistingNetwork{Network: "shared", Subnet: "shared-v4"}
		}, []where{
			{"OpenStackCluster", "lagging", "spec.network.filter.name", "shared"},
			{"OpenStackCluster", "lagging", "spec.subnets[0].filter.name", "shared-v4"},
			{"OpenStackCluster", "lagging", "spec.managedSubnets", nil},
		}},
		{"oidc -> API server arguments", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.OIDC = &v1alpha1.OIDC{IssuerURL: "https://id.example.org", ClientID: "k8s", GroupsClaim: "groups"}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.clusterConfiguration.apiServer.extraArgs[0]", map[string]any{"name": "oidc-issuer-url", "value": "https://id.example.org"}},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.clusterConfiguration.apiServer.extraArgs[1]", map[string]any{"name": "oidc-client-id", "value": "k8s"}},
		}},
		{"sshKeyName overrides the site's", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {}, []where{
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.sshKeyName", "own-key"},
		}},
		{"site cloud: external network, credentials, cloud name", func(s *v1alpha1.SiteSpec, _ *v1alpha1.ClusterSpec) {}, []where{
			{"OpenStackCluster", "lagging", "spec.externalNetwork.id", "ext-net-id"},
			{"OpenStackCluster", "lagging", "spec.identityRef.name", "t1-creds"},
			{"OpenStackCluster", "lagging", "spec.identityRef.cloudName", "mycloud"},
			{"OpenStackMachineTemplate", "lagging-new-*", "spec.template.spec.identityRef.name", "t1-creds"},
		}},
		{"release identity -> namespace and helm-controller labels", func(*v1alpha1.SiteSpec, *v1alpha1.ClusterSpec) {}, []where{
			{"Cluster", "lagging", "metadata.namespace", "lagging"},
			{"Cluster", "lagging", `metadata.labels."helm.toolkit.fluxcd.io/name"`, "lagging"},
			{"Cluster", "lagging", `metadata.labels."helm.toolkit.fluxcd.io/namespace"`, "flux-system"},
			// Uninstalling deletes the Cluster; Cluster API deletes the rest.
			{"Cluster", "lagging", `metadata.annotations."helm.sh/resource-policy"`, nil},
			{"OpenStackCluster", "lagging", `metadata.annotations."helm.sh/resource-policy"`, "keep"},
			{"KubeadmControlPlane", "lagging-control-plane", `metadata.annotations."helm.sh/resource-policy"`, "keep"},
		}},
		{"platforms base cni {provider: cilium, kubeProxyReplacement: true} -> kubeadm init skips kube-proxy, KCP leaves its DaemonSet alone", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.Platforms = []v1alpha1.PlatformRef{{Name: "base", Values: map[string]map[string]any{"cni": {"provider": "cilium", "kubeProxyReplacement": true}}}}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.initConfiguration.skipPhases", []any{"addon/kube-proxy"}},
			{"KubeadmControlPlane", "lagging-control-plane", `metadata.annotations."controlplane.cluster.x-k8s.io/skip-kube-proxy"`, ""},
			// No KubeProxyConfiguration for a kube-proxy that never runs.
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.files[0].path", "/usr/local/sbin/etcd-defrag"},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.joinConfiguration.skipPhases", nil},
		}},
		{"platforms base cni {provider: cilium} (kube-proxy kept) -> kubeadm's kube-proxy addon with its metrics configuration", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.Platforms = []v1alpha1.PlatformRef{{Name: "base", Values: map[string]map[string]any{"cni": {"provider": "cilium"}}}}
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.initConfiguration.skipPhases", nil},
			{"KubeadmControlPlane", "lagging-control-plane", `metadata.annotations."controlplane.cluster.x-k8s.io/skip-kube-proxy"`, nil},
			{"KubeadmControlPlane", "lagging-control-plane", "spec.kubeadmConfigSpec.files[0].path", "/run/kubeadm/kube-proxy-configuration.yaml"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			objs := expandWith(t, dir, tt.change)
			for _, w := range tt.want {
				o := find(objs, w.kind, w.name)
				got, ok := get(o, w.path)
				if w.want == nil {
					if ok {
						t.Errorf("%s %s: %s = %v, want it absent", w.kind, w.name, w.path, got)
					}
					continue
				}
				if o == nil {
					t.Errorf("no %s %s among the expanded objects", w.kind, w.name)
					continue
				}
				if !ok || !(reflect.DeepEqual(got, w.want) || fmt.Sprintf("%T %v", got, got) == fmt.Sprintf("%T %v", w.want, w.want) || numEqual(got, w.want)) {
					t.Errorf("%s %s: %s = %#v, want %#v", w.kind, o.GetName(), w.path, got, w.want)
				}
			}
		})
	}
}

// numEqual compares numbers whatever their Go type (YAML gives int64,
// JSON float64).
func numEqual(a, b any) bool {
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	return okA && okB && fa == fb
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
