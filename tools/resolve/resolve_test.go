package resolve

import (
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

const site = `apiVersion: capiform.dev/v1alpha1
kind: Site
metadata: {name: s1}
spec:
  managementCluster: mgmt
  production: true
  cloud: {credentialsSecret: creds, externalNetworkId: ext, dnsNameservers: [10.0.0.53]}
  images: [{kubernetesVersion: v1.36.1, name: img}]
  flavors: [{name: m1, vcpus: 2, ramMiB: 4096}, {name: gpu, vcpus: 8, ramMiB: 65536, gpus: 2}]
  kubernetesVersions: {min: v1.36.0, max: v1.36.9}
  git: {url: ssh://git@example.org/fleet.git}
`

func loadOne(t *testing.T, siteYAML, cluster string) (*load.Site, *load.Cluster) {
	t.Helper()
	f, err := load.Load(fstest.MapFS{
		"clusters/s1/site.yaml": {Data: []byte(siteYAML)},
		"clusters/s1/mgmt.yaml": {Data: []byte(cluster)},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := f.Site("s1")
	return s, s.Cluster("mgmt")
}

func TestClusterDefaultsAndErrors(t *testing.T) {
	s, c := loadOne(t, site, `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: mgmt}
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: m1}
  nodeGroups:
    - {name: a, flavor: m1}
    - {name: b, flavor: gpu, autoscale: {min: 0, max: 3}}
`)
	rel, d := Cluster(s, c)
	if len(d) > 0 {
		t.Fatal(d)
	}
	if rel.Machines != 3+1+3 {
		t.Errorf("machines = %d, want 7 (3 control plane on a production site, 1 default, 3 at the autoscale maximum)", rel.Machines)
	}
	if !rel.Management || rel.ReleaseName != "mgmt" || rel.TargetNamespace != "mgmt" || rel.HelmReleaseNamespace != FluxNamespace {
		t.Errorf("identity = %+v", rel.Identity)
	}
	net := rel.Values["clusterNetworking"].(map[string]any)
	if net["podCidrs"].([]any)[0] != DefaultPodCIDR || net["nodeCidr"] != DefaultNodeCIDR {
		t.Errorf("networking defaults = %v", net)
	}
	groups := rel.Values["nodeGroups"].([]any)
	if gpu := groups[1].(map[string]any); gpu["machineCount"] != nil || gpu["capacity"].(map[string]any)["gpu"] != float64(2) {
		t.Errorf("autoscaled GPU group = %v", gpu)
	}

	s, c = loadOne(t, site, `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: mgmt}
spec:
  kubernetesVersion: v1.36.4
  controlPlane: {flavor: nope}
`)
	if _, d := Cluster(s, c); len(d) != 2 ||
		!strings.Contains(d.Error(), `clusters/s1/mgmt.yaml:5:22: site s1 has no image for Kubernetes v1.36.4`) ||
		!strings.Contains(d.Error(), `clusters/s1/mgmt.yaml:6:26: flavor "nope" is not offered by site s1: use one of m1, gpu`) {
		t.Errorf("diagnostics:\n%v", d)
	}
}

func TestLabelSynced(t *testing.T) {
	extra := []*regexp.Regexp{regexp.MustCompile(`^(?:nvidia\.com/.*)$`)}
	for label, want := range map[string]bool{
		"node.cluster.x-k8s.io/pool":               true,
		"node-role.kubernetes.io/worker":           true,
		"example.node-restriction.kubernetes.io/x": true,
		"nvidia.com/gpu.present":                   true,
		"topology.kubernetes.io/zone":              false,
		"pool":                                     false,
	} {
		if got := LabelSynced(label, extra); got != want {
			t.Errorf("LabelSynced(%q) = %v, want %v", label, got, want)
		}
	}
}

func TestLabelWarnings(t *testing.T) {
	cluster := `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: mgmt}
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: m1}
  nodeGroups:
    - name: gpu
      flavor: gpu
      labels: {nvidia.com/gpu.present: "true", node.cluster.x-k8s.io/pool: gpu}
`
	s, c := loadOne(t, site, cluster)
	rel, d := Cluster(s, c)
	if len(d) > 0 {
		t.Fatal(d)
	}
	if len(rel.Warnings) != 1 || rel.Warnings[0].Severity != diag.Warning ||
		!strings.Contains(rel.Warnings[0].String(), "clusters/s1/mgmt.yaml:10:40: label nvidia.com/gpu.present of node group gpu reaches its Machines but not its Nodes") {
		t.Errorf("warnings = %v", rel.Warnings)
	}
	s, c = loadOne(t, site+"  syncMachineLabels: ['nvidia\\.com/.*']\n", cluster)
	if rel, _ := Cluster(s, c); len(rel.Warnings) != 0 {
		t.Errorf("a label the site syncs still warns: %v", rel.Warnings)
	}
}
