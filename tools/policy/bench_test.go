package policy

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/load"
)

// generateFleet builds a repository of sites x clusters, every one valid:
// the management cluster and clusters with two node groups (one
// autoscaled), platforms with free-form values.
func generateFleet(sites, clusters int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for s := range sites {
		site := fmt.Sprintf("site%02d", s)
		fsys["clusters/"+site+"/site.yaml"] = &fstest.MapFile{Data: fmt.Appendf(nil, `apiVersion: capiform.dev/v1alpha1
kind: Site
metadata:
  name: %s
spec:
  managementCluster: c000
  production: %v
  cloud:
    credentialsSecret: %s-cloud
    externalNetworkId: ext-net
  images:
    - {kubernetesVersion: v1.35.4, name: kube-v1.35.4}
    - {kubernetesVersion: v1.36.1, name: kube-v1.36.1}
  flavors:
    - {name: small, vcpus: 2, ramMiB: 4096}
    - {name: large, vcpus: 8, ramMiB: 32768}
  networks: [shared]
  kubernetesVersions: {min: v1.35.0, max: v1.36.99}
  quotas: {machinesPerCluster: 40, machinesPerSite: 4000}
  requiredPlatforms: [base]
  git:
    url: ssh://git@example.org/fleet.git
`, site, s%2 == 0, site)}
		for c := range clusters {
			name := fmt.Sprintf("c%03d", c)
			var b strings.Builder
			fmt.Fprintf(&b, `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata:
  name: %s
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: small, replicas: 3}
  nodeGroups:
    - {name: md-0, flavor: large, replicas: %d}
    - name: burst
      flavor: large
      kubernetesVersion: v1.35.4
      autoscale: {min: 0, max: 4}
      labels: {pool: burst}
      taints: [{key: burst, value: "true", effect: NoSchedule}]
  apiServer:
    allowedCIDRs: [10.0.0.0/8]
  platforms:
    - name: base
    - name: monitoring
      values:
        grafana:
          admin: {existingSecret: grafana-admin}
          persistence: {enabled: true, size: 10Gi}
`, name, 1+c%5)
			fsys["clusters/"+site+"/"+name+".yaml"] = &fstest.MapFile{Data: []byte(b.String())}
		}
	}
	return fsys
}

// BenchmarkValidate validates 1000 clusters (10 sites x 100 clusters):
//
//	go test ./tools/policy -run '^$' -bench Validate -benchtime 3x
func BenchmarkValidate(b *testing.B) {
	fsys := generateFleet(benchSites, benchClusters)
	fleet, err := load.Load(fsys)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := Validate(b.Context(), fleet, DefaultOptions(fsys, nil))
		if err != nil {
			b.Fatal(err)
		}
		if len(got) > 0 {
			b.Fatalf("the generated fleet is not valid:\n%s", Format(got[:min(len(got), 5)], FormatText))
		}
	}
}

// BenchmarkValidateSitePolicy is BenchmarkValidate with a site policy in
// every site, evaluated apart from the base for the violations it adds.
func BenchmarkValidateSitePolicy(b *testing.B) {
	fsys := generateFleet(benchSites, benchClusters)
	for s := range benchSites {
		fsys[fmt.Sprintf("clusters/site%02d/policy.cue", s)] = &fstest.MapFile{Data: []byte(benchSitePolicy)}
	}
	fleet, err := load.Load(fsys)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := Validate(b.Context(), fleet, DefaultOptions(fsys, nil))
		if err != nil {
			b.Fatal(err)
		}
		if len(got) > 0 {
			b.Fatalf("the generated fleet is not valid:\n%s", Format(got[:min(len(got), 5)], FormatText))
		}
	}
}

// benchSitePolicy is a site policy of the shape of the example fleet's.
const benchSitePolicy = `package policies

#Cluster: spec: controlPlane: flavor: "small"

#ClusterRules: X={
	for i, g in X.groups if g.group.flavor =~ "^g1\\." && g.group.name != "gpu" {
		violations: "spec.nodeGroups[\(i)].name": "bench.gpu-groups": "GPU flavors only in group gpu"
	}
	for i, g in X.groups if g.group.name == "gpu" && g.group.autoscale == _|_ {
		violations: "spec.nodeGroups[\(i)].name": "bench.gpu-autoscale": "group gpu autoscales"
	}
}

#SiteRules: X={
	if len(X.clusters) > 1000 {
		violations: "metadata.name": "bench.size": "too many clusters"
	}
}
`

// TestGeneratedFleetIsValid keeps the benchmark's fleet honest at a small
// size.
func TestGeneratedFleetIsValid(t *testing.T) {
	fsys := generateFleet(2, 3)
	fleet, err := load.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Validate(t.Context(), fleet, DefaultOptions(fsys, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Errorf("not valid:\n%s", Format(got, FormatText))
	}
}

// The benchmark's size: 10 sites x 100 clusters.
var benchSites, benchClusters = 10, 100
