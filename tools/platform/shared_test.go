package platform

import (
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// sharedFleetDir is this package's own fleet: clusters with the storage
// platform, and with gpu and network together.
const sharedFleetDir = "testdata/platform/fleet"

// TestSharedPlatformsGolden renders the addons of every cluster of
// testdata/platform/fleet (golden: testdata/platform/golden/hpc-*.yaml) and
// checks what the goldens show: one Node Feature Discovery on a cluster
// with gpu and network, the NicClusterPolicy and the storage classes from
// values, Manila's credentials from the site's cloud.conf.
func TestSharedPlatformsGolden(t *testing.T) {
	fsys := testrepo.FleetFSOf(sharedFleetDir)
	cat, err := LoadCatalogue(fsys)
	if err != nil {
		t.Fatalf("LoadCatalogue: %v", err)
	}
	fleet, err := load.Load(fsys)
	if err != nil {
		t.Fatalf("load.Load: %v", err)
	}
	// Warnings are expected (ceph-csi-cephfs has no release that claims
	// Kubernetes 1.35); anything else is a broken fixture.
	for _, d := range cat.Check(fleet) {
		if d.Severity != diag.Warning {
			t.Errorf("Check: %v", d)
		}
	}
	seen := 0
	for _, s := range fleet.Sites {
		for _, c := range s.Clusters {
			seen++
			name := s.Metadata.Name + "-" + c.Metadata.Name + ".yaml"
			t.Run(name, func(t *testing.T) {
				rel, d := resolve.Cluster(s, c)
				if len(d) > 0 {
					t.Fatalf("resolve: %v", d)
				}
				objs, err := cat.Addons(s, c, rel)
				if err != nil {
					t.Fatalf("Addons: %v", err)
				}
				golden(t, name, marshalAll(t, objs))
				for _, o := range objs {
					switch o.GetObjectKind().GroupVersionKind().Kind {
					case helmv2.HelmReleaseKind:
						strictDecode(t, o, &helmv2.HelmRelease{})
					case sourcev1.HelmRepositoryKind:
						strictDecode(t, o, &sourcev1.HelmRepository{})
					case sourcev1.GitRepositoryKind:
						strictDecode(t, o, &sourcev1.GitRepository{})
					case kustomizev1.KustomizationKind:
						strictDecode(t, o, &kustomizev1.Kustomization{})
					default:
						t.Errorf("unexpected %T %s", o, o.GetName())
					}
				}
				addons, err := cat.Resolve(s, c, rel)
				if err != nil {
					t.Fatal(err)
				}
				byName := map[string]Addon{}
				for _, a := range addons {
					byName[a.Component] = a
				}
				switch c.Metadata.Name {
				case "fabric":
					nfdOn(t, byName, "gpu-operator")
					ncp := lookupPath(t, byName["nic-cluster-policy"].Values, "nicClusterPolicy")
					m, _ := ncp.(map[string]any)
					for _, k := range []string{"rdmaSharedDevicePlugin", "secondaryNetwork", "nvIpam", "sriovDevicePlugin"} {
						if m[k] == nil {
							t.Errorf("nicClusterPolicy has no %s: the defaults and the cluster's values merge", k)
						}
					}
				case "shares":
					a := byName["manila-storage"]
					if len(a.ValuesFrom) != 1 || a.ValuesFrom[0].Name != s.Spec.Cloud.CredentialsSecret || a.ValuesFrom[0].ValuesKey != DefaultCredentialsKey || a.ValuesFrom[0].TargetPath != "cloudConf" {
						t.Errorf("manila-storage valuesFrom = %+v, want the site's cloud.conf at cloudConf", a.ValuesFrom)
					}
					if sc, _ := lookupPath(t, a.Values, "storageClasses").(map[string]any); len(sc) != 2 {
						t.Errorf("storageClasses = %v, want the cluster's two", sc)
					}
					if got := lookupPath(t, byName["csi-manila"].Values, "csimanila.clusterID"); got != "shares" {
						t.Errorf("csimanila.clusterID = %v, want the cluster's name", got)
					}
				}
			})
		}
	}
	if seen == 0 {
		t.Fatalf("%s has no clusters", sharedFleetDir)
	}
}

func lookupPath(t *testing.T, values map[string]any, path string) any {
	t.Helper()
	steps, err := parsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	return valueAt(values, steps)
}

// nfdOn checks that exactly keeper, of the addons that provide Node
// Feature Discovery, has it on, and that every other depends on keeper,
// but for those the cluster turned off itself (clusterOff).
func nfdOn(t *testing.T, byName map[string]Addon, keeper string, clusterOff ...string) {
	t.Helper()
	for _, name := range sortedKeys(byName) {
		a := byName[name]
		path, ok := a.Provides["node-feature-discovery"]
		if !ok {
			continue
		}
		on := lookupPath(t, a.Values, path) != false
		switch {
		case name == keeper && !on:
			t.Errorf("%s: %s is off, want it on (it keeps Node Feature Discovery)", name, path)
		case name != keeper && on:
			t.Errorf("%s: %s is on, want it off: %s runs Node Feature Discovery", name, path, keeper)
		case name != keeper && keeper != "" && !slices.Contains(clusterOff, name) && !slices.Contains(a.DependsOn, keeper):
			t.Errorf("%s depends on %v, want %s among them: it deploys NodeFeatureRules of the keeper's CRDs", name, a.DependsOn, keeper)
		}
	}
}

// TestNodeFeatureDiscoveryOnce resolves the repository's catalogue for
// clusters with the gpu platform, the network platform or both: Node
// Feature Discovery runs exactly once, from gpu-operator unless the
// cluster turns that one off.
func TestNodeFeatureDiscoveryOnce(t *testing.T) {
	t.Parallel()
	cat, err := LoadCatalogue(os.DirFS(repoRoot))
	if err != nil {
		t.Fatal(err)
	}
	off := map[string]any{"nfd": map[string]any{"enabled": false}}
	on := map[string]any{"nfd": map[string]any{"enabled": true}}
	for _, tc := range []struct {
		name       string
		platforms  []v1alpha1.PlatformRef
		keeper     string
		clusterOff []string
	}{
		{"gpu only", []v1alpha1.PlatformRef{{Name: "base"}, {Name: "gpu"}}, "gpu-operator", nil},
		{"network only", []v1alpha1.PlatformRef{{Name: "base"}, {Name: "network"}}, "network-operator", nil},
		{"both", []v1alpha1.PlatformRef{{Name: "base"}, {Name: "network"}, {Name: "gpu"}}, "gpu-operator", nil},
		{"both, the cluster asks for network's too", []v1alpha1.PlatformRef{
			{Name: "base"}, {Name: "gpu"},
			{Name: "network", Values: map[string]map[string]any{"network-operator": on}},
		}, "gpu-operator", nil},
		{"both, the cluster turns gpu's off", []v1alpha1.PlatformRef{
			{Name: "base"}, {Name: "network"},
			{Name: "gpu", Values: map[string]map[string]any{"gpu-operator": off}},
		}, "network-operator", []string{"gpu-operator"}},
		{"both, the cluster turns both off", []v1alpha1.PlatformRef{
			{Name: "base"},
			{Name: "gpu", Values: map[string]map[string]any{"gpu-operator": off}},
			{Name: "network", Values: map[string]map[string]any{"network-operator": off}},
		}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cl := &load.Cluster{}
			cl.Metadata.Name = "c"
			cl.Spec.KubernetesVersion = "v1.35.4"
			cl.Spec.Platforms = tc.platforms
			site := &load.Site{}
			site.Metadata.Name = "s"
			addons, err := cat.Resolve(site, cl, nil)
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]Addon{}
			seen := map[string]bool{}
			for _, a := range addons {
				byName[a.Component] = a
				for _, d := range a.DependsOn {
					if !seen[d] {
						t.Errorf("%s depends on %s, which is not installed before it", a.Component, d)
					}
				}
				seen[a.Component] = true
			}
			nfdOn(t, byName, tc.keeper, tc.clusterOff...)
			if tc.keeper == "" {
				if d := byName["network-operator"].DependsOn; slices.Contains(d, "gpu-operator") {
					t.Errorf("network-operator depends on gpu-operator (%v), but neither runs Node Feature Discovery", d)
				}
			}
		})
	}
}

const providesPlatform = `apiVersion: capiform.dev/v1alpha1
kind: Platform
metadata:
  name: base
spec:
  components:
    - name: cni
      cni: true
      chart: {repository: https://example.org/charts, name: cni, version: 1.0.0}
      namespace: kube-system
    - name: a
      chart: {repository: https://example.org/charts, name: a, version: 1.0.0}
      namespace: a
      provides: {shared: x.enabled}
      values: {x: {enabled: true}}
    - name: b
      chart: {repository: https://example.org/charts, name: b, version: 1.0.0}
      namespace: b
      provides: {shared: deep.y.on, other: z.on}
      values: {deep: {y: {on: true}}, z: {on: true}}
    - name: c
      dependsOn: [b]
      chart: {repository: https://example.org/charts, name: c, version: 1.0.0}
      namespace: c
      provides: {other: z.on}
      values: {z: {on: true}}
`

// TestShareProvided: of the releases that provide a piece, the first in
// install order keeps it; the mechanism is general (pieces and paths of
// the catalogue's choosing), each piece on its own.
func TestShareProvided(t *testing.T) {
	t.Parallel()
	cat, err := LoadCatalogue(fstest.MapFS{"platforms/base/platform.yaml": {Data: []byte(providesPlatform)}})
	if err != nil {
		t.Fatal(err)
	}
	cl := &load.Cluster{}
	cl.Metadata.Name = "c"
	cl.Spec.Platforms = []v1alpha1.PlatformRef{{Name: "base"}}
	addons, err := cat.Resolve(&load.Site{}, cl, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, a := range addons {
		order = append(order, a.Component)
		var parts []string
		for _, piece := range sortedKeys(a.Provides) {
			state := "off"
			if lookupPath(t, a.Values, a.Provides[piece]) == true {
				state = "on"
			}
			parts = append(parts, piece+"="+state)
		}
		got[a.Component] = strings.Join(parts, ",") + " after " + strings.Join(a.DependsOn, ",")
	}
	want := map[string]string{
		"cni": " after ",
		"a":   "shared=on after cni",
		"b":   "other=on,shared=off after a,cni",
		"c":   "other=off after b,cni",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
	if i, j := slices.Index(order, "a"), slices.Index(order, "b"); i > j {
		t.Errorf("install order %v: b, which now waits for a, comes first", order)
	}
}

// TestProvidesWritten checks the catalogue's errors in provides as written.
func TestProvidesWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, provides, values, want string }{
		{"piece not a name", "{Shared_Piece: x.on}", "{x: {on: true}}", `piece "Shared_Piece" that a provides is not a DNS label`},
		{"path not a path", "{shared: 'x..on'}", "{x: {on: true}}", `provides.shared of a: value path "x..on"`},
		{"value unset", "{shared: x.on}", "{x: {}}", "a provides shared at x.on, but its values do not set x.on to true or false"},
		{"value not a boolean", "{shared: x.on}", `{x: {on: "yes"}}`, "do not set x.on to true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := `apiVersion: capiform.dev/v1alpha1
kind: Platform
metadata:
  name: base
spec:
  components:
    - name: cni
      cni: true
      chart: {repository: https://example.org/charts, name: cni, version: 1.0.0}
      namespace: kube-system
    - name: a
      chart: {repository: https://example.org/charts, name: a, version: 1.0.0}
      namespace: a
      provides: ` + tc.provides + `
      values: ` + tc.values + `
`
			_, err := LoadCatalogue(fstest.MapFS{"platforms/base/platform.yaml": {Data: []byte(p)}})
			l := diagnostics(t, err)
			if len(l) != 1 || l[0].Rule != RuleProvides || l[0].File != "platforms/base/platform.yaml" || l[0].Line != 14 || !strings.Contains(l[0].Message, tc.want) {
				t.Errorf("got %v, want one %s at platforms/base/platform.yaml:14 saying %q", l, RuleProvides, tc.want)
			}
		})
	}
}

// TestShareProvidedCannotTurnOff: a cluster's values that make a provided
// piece's path unreachable (a scalar where the path needs a mapping) are
// refused at the cluster's platforms, not left on beside the keeper's.
func TestShareProvidedCannotTurnOff(t *testing.T) {
	t.Parallel()
	cat, err := LoadCatalogue(fstest.MapFS{"platforms/base/platform.yaml": {Data: []byte(providesPlatform)}})
	if err != nil {
		t.Fatal(err)
	}
	cl := &load.Cluster{Pos: load.Positions{File: "clusters/s/c.yaml", Paths: map[string]diag.Pos{
		"spec.platforms": {File: "clusters/s/c.yaml", Line: 7},
	}}}
	cl.Metadata.Name = "c"
	cl.Spec.Platforms = []v1alpha1.PlatformRef{{Name: "base", Values: map[string]map[string]any{"b": {"deep": "flat"}}}}
	_, err = cat.Resolve(&load.Site{}, cl, nil)
	l := diagnostics(t, err)
	if len(l) != 1 || l[0].Rule != "platform.values" || l[0].Line != 7 || !strings.Contains(l[0].Message, "shared runs once, from a, but b cannot be turned off at deep.y.on") {
		t.Errorf("got %v, want one platform.values at clusters/s/c.yaml:7 naming the piece, its keeper and the path", l)
	}
}
