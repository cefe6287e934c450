// Package fleetgen writes deterministic synthetic fleets of sites and
// clusters with realistic variety, for benchmarks of every stage. The same
// seed always gives the same bytes.
package fleetgen

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Options of Generate.
type Options struct {
	// Seed makes the fleet reproducible.
	Seed uint64
	// Sites is the number of sites.
	Sites int
	// ClustersPerSite is the number of clusters of each site, the
	// management cluster included.
	ClustersPerSite int
	// Platforms are the platforms every cluster uses; default ["base"].
	Platforms []string
}

// Files maps repository-relative paths to their content.
type Files map[string][]byte

// Paths returns the paths in order.
func (f Files) Paths() []string {
	out := make([]string, 0, len(f))
	for p := range f {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

var (
	versions = []string{"v1.35.4", "v1.36.1", "v1.36.2"}
	flavors  = []struct {
		name             string
		vcpus, ram, gpus int
	}{
		{"m1.medium", 2, 4096, 0}, {"m1.large", 4, 8192, 0}, {"m1.xlarge", 8, 16384, 0},
		{"r1.2xlarge", 16, 131072, 0}, {"g1.a100x1", 16, 131072, 1}, {"g1.a100x4", 64, 524288, 4},
	}
	groupNames = []string{"general", "highmem", "burst", "batch", "gpu", "infra", "edge"}
)

// SiteName is the name of the i-th generated site.
func SiteName(i int) string { return fmt.Sprintf("site-%02d", i) }

// ClusterName is the name of the j-th cluster of a generated site; the
// 0-th is its management cluster.
func ClusterName(site, j int) string {
	if j == 0 {
		return fmt.Sprintf("s%02d-mgmt", site)
	}
	return fmt.Sprintf("s%02d-c%03d", site, j)
}

// Generate returns the definitions of a fleet under clusters/.
func Generate(o Options) Files {
	if len(o.Platforms) == 0 {
		o.Platforms = []string{"base"}
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x63617069666f726d))
	out := Files{}
	for i := 0; i < o.Sites; i++ {
		site := SiteName(i)
		out["clusters/"+site+"/site.yaml"] = siteYAML(site, i, o)
		for j := 0; j < o.ClustersPerSite; j++ {
			name := ClusterName(i, j)
			out["clusters/"+site+"/"+name+".yaml"] = clusterYAML(r, name, j == 0, o)
		}
	}
	return out
}

func siteYAML(site string, i int, o Options) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: capiform.dev/v1alpha1
kind: Site
metadata:
  name: %s
spec:
  managementCluster: %s
  production: %t
  cloud:
    credentialsSecret: %s-cloud-credentials
    externalNetworkId: 00000000-0000-4000-8000-%012d
    availabilityZones: [nova]
    sshKeyName: ops
  images:
`, site, ClusterName(i, 0), i%2 == 0, site, i)
	for _, v := range versions {
		fmt.Fprintf(&b, "    - {kubernetesVersion: %s, name: ubuntu-2404-kube-%s}\n", v, v)
	}
	b.WriteString("  flavors:\n")
	for _, f := range flavors {
		fmt.Fprintf(&b, "    - {name: %s, vcpus: %d, ramMiB: %d", f.name, f.vcpus, f.ram)
		if f.gpus > 0 {
			fmt.Fprintf(&b, ", gpus: %d", f.gpus)
		}
		b.WriteString("}\n")
	}
	fmt.Fprintf(&b, `  networks: [shared-net]
  syncMachineLabels: ['nvidia\.com/.*']
  kubernetesVersions: {min: v1.35.0, max: v1.36.99}
  quotas: {machinesPerCluster: 200, machinesPerSite: 100000}
  git:
    url: ssh://git@git.example.org/platform/fleet.git
`)
	return []byte(b.String())
}

func clusterYAML(r *rand.Rand, name string, mgmt bool, o Options) []byte {
	var b strings.Builder
	version := versions[1+r.IntN(2)]
	if !mgmt && r.IntN(5) == 0 {
		version = versions[0]
	}
	fmt.Fprintf(&b, "apiVersion: capiform.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: %s\nspec:\n  kubernetesVersion: %s\n", name, version)
	cp := 3
	if !mgmt && r.IntN(4) == 0 {
		cp = 5
	}
	fmt.Fprintf(&b, "  controlPlane:\n    flavor: %s\n    replicas: %d\n", flavors[1+r.IntN(2)].name, cp)
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, "    rootVolume: {sizeGiB: %d, type: ssd}\n", 40+10*r.IntN(4))
	}
	if r.IntN(4) == 0 {
		b.WriteString("  etcd:\n    volume: {sizeGiB: 20, type: ssd}\n")
	}
	b.WriteString("  nodeGroups:\n")
	groups := 1 + r.IntN(4)
	perm := r.Perm(len(groupNames))
	for g := 0; g < groups; g++ {
		gname := groupNames[perm[g]]
		switch {
		case gname == "gpu":
			fmt.Fprintf(&b, "    - name: gpu\n      flavor: %s\n      autoscale: {min: 0, max: %d}\n      labels: {nvidia.com/gpu.present: \"true\"}\n      taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]\n",
				flavors[4+r.IntN(2)].name, 2+r.IntN(6))
		case gname == "burst" || r.IntN(5) == 0:
			mn := r.IntN(3)
			fmt.Fprintf(&b, "    - name: %s\n      flavor: %s\n      autoscale: {min: %d, max: %d}\n", gname, flavors[1+r.IntN(3)].name, mn, mn+2+r.IntN(8))
		default:
			fmt.Fprintf(&b, "    - name: %s\n      flavor: %s\n      replicas: %d\n", gname, flavors[1+r.IntN(3)].name, 1+r.IntN(8))
			if r.IntN(3) == 0 {
				fmt.Fprintf(&b, "      labels: {node.cluster.x-k8s.io/pool: %s}\n", gname)
			}
		}
	}
	if r.IntN(4) == 0 {
		b.WriteString("  network:\n    existing: {network: shared-net, subnet: shared-subnet}\n")
	}
	fmt.Fprintf(&b, "  apiServer:\n    allowedCIDRs: [10.0.0.0/8]\n")
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, "  oidc:\n    issuerURL: https://id.example.org/realms/%s\n    clientID: kubernetes\n", name)
	}
	b.WriteString("  platforms:\n")
	for _, p := range o.Platforms {
		fmt.Fprintf(&b, "    - name: %s\n", p)
	}
	return []byte(b.String())
}
