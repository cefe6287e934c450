package platform

import (
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/capiform/capiform/tools/load"
)

// followsPlatform has a manifests component that follows the variant of
// the fixture's cni (calico, cilium), and one that depends on it.
const followsPlatform = `apiVersion: capiform.dev/v1alpha1
kind: Platform
metadata:
  name: tools
spec:
  components:
    - name: policy
      manifests: true
      followsVariant: cni
    - name: after
      manifests: true
      dependsOn: [policy]
`

var followsFiles = map[string]string{
	"policy/calico/policy.yaml": strings.Replace(configMap, "settings", "calico-policy", 1),
	"policy/cilium/policy.yaml": strings.Replace(configMap, "settings", "cilium-policy", 1),
	"after/settings.yaml":       configMap,
}

// followsAddons renders the addons of cluster c with the given platforms
// section, keyed by Kustomization name; the count is of GitRepositories.
func followsAddons(t *testing.T, platforms string) (map[string]*kustomizev1.Kustomization, int, error) {
	t.Helper()
	fs := manifestsFixture(followsPlatform, followsFiles)
	fs["clusters/s/c.yaml"].Data = []byte(cluster("c", platforms))
	cat, err := LoadCatalogue(fs)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := load.Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	s := fleet.Site("s")
	if l := cat.Check(fleet); len(l) > 0 {
		return nil, 0, l.Err()
	}
	objs, err := cat.Addons(s, s.Cluster("c"), nil)
	kss := map[string]*kustomizev1.Kustomization{}
	repos := 0
	for _, o := range objs {
		switch v := o.(type) {
		case *kustomizev1.Kustomization:
			kss[v.Name] = v
		case *sourcev1.GitRepository:
			repos++
		}
	}
	return kss, repos, err
}

// TestFollowsVariant: a manifests component that follows the cni applies
// the folder of the variant the cluster runs (the default when it does
// not choose), and a cluster can leave it out.
func TestFollowsVariant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		platforms string
		want      map[string]string // Kustomization -> path
	}{
		{"the default variant", "  platforms:\n    - name: base\n    - name: tools\n", map[string]string{
			"policy": "./platforms/tools/policy/calico", "after": "./platforms/tools/after",
		}},
		{"the chosen variant", "  platforms:\n    - name: base\n      values: {cni: {provider: cilium}}\n    - name: tools\n", map[string]string{
			"policy": "./platforms/tools/policy/cilium", "after": "./platforms/tools/after",
		}},
		{"calico chosen", "  platforms:\n    - name: base\n      values: {cni: {provider: calico}}\n    - name: tools\n      values: {policy: {enabled: true}}\n", map[string]string{
			"policy": "./platforms/tools/policy/calico", "after": "./platforms/tools/after",
		}},
		{"both turned off", "  platforms:\n    - name: base\n    - name: tools\n      values: {policy: {enabled: false}, after: {enabled: false}}\n", map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kss, repos, err := followsAddons(t, tc.platforms)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for n, ks := range kss {
				got[n] = ks.Spec.Path
			}
			if len(got) != len(tc.want) {
				t.Errorf("Kustomizations %v, want %v", got, tc.want)
			}
			for n, p := range tc.want {
				if got[n] != p {
					t.Errorf("Kustomization %s: path %q, want %q", n, got[n], p)
				}
			}
			if want := min(len(tc.want), 1); repos != want {
				t.Errorf("%d GitRepositories, want %d (one with any manifests component, none without)", repos, want)
			}
		})
	}
}

// TestManifestsEnabledValue: enabled (a bool) is the one value of a
// manifests component, and what depends on a component that is turned off
// is refused, at the value that turns it off.
func TestManifestsEnabledValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		platforms string
		line      int
	}{
		{"not a bool", "  platforms:\n    - name: base\n    - name: tools\n      values:\n        policy: {enabled: \"no\"}\n", 12},
		{"another value", "  platforms:\n    - name: base\n    - name: tools\n      values:\n        policy:\n          enabled: true\n          tier: first\n", 14},
		{"a dependency turned off", "  platforms:\n    - name: base\n    - name: tools\n      values:\n        policy:\n          enabled: false\n", 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := followsAddons(t, tc.platforms)
			if err == nil {
				t.Fatal("no error")
			}
			if l := diagnostics(t, err); !has(l, "platform.manifests-values", "clusters/s/c.yaml", tc.line) {
				t.Errorf("want platform.manifests-values at clusters/s/c.yaml:%d, got:\n%v", tc.line, l)
			}
		})
	}
}

// TestFollowsVariantErrors: what a catalogue may not say with
// followsVariant, each at its line.
func TestFollowsVariantErrors(t *testing.T) {
	t.Parallel()
	const file = "platforms/tools/platform.yaml"
	with := func(extra map[string]string, drop ...string) map[string]string {
		out := map[string]string{}
		for k, v := range followsFiles {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		for _, k := range drop {
			delete(out, k)
		}
		return out
	}
	chart := strings.Replace(followsPlatform, "      manifests: true\n      followsVariant: cni\n", "      chart: {repository: https://example.org/charts, name: policy, version: 1.0.0}\n      namespace: policy\n      followsVariant: cni\n", 1)
	for _, tc := range []struct {
		name     string
		platform string
		files    map[string]string
		line     int
	}{
		{"a variant without its folder", followsPlatform, with(nil, "policy/cilium/policy.yaml"), 9},
		{"a folder of no variant", followsPlatform, with(map[string]string{"policy/weave/policy.yaml": configMap}), 9},
		{"a file beside the variants", followsPlatform, with(map[string]string{"policy/policy.yaml": configMap}), 9},
		{"a chart follows", chart, with(nil, "policy/calico/policy.yaml", "policy/cilium/policy.yaml"), 10},
		{"an unknown component", strings.Replace(followsPlatform, "followsVariant: cni", "followsVariant: cnii", 1), followsFiles, 9},
		{"a component without variants", strings.Replace(followsPlatform, "followsVariant: cni", "followsVariant: cloud-controller", 1), followsFiles, 9},
		{"itself", strings.Replace(followsPlatform, "followsVariant: cni", "followsVariant: policy", 1), followsFiles, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadCatalogue(manifestsFixture(tc.platform, tc.files))
			if err == nil {
				t.Fatal("LoadCatalogue succeeded")
			}
			if l := diagnostics(t, err); !has(l, "platform.follows-variant", file, tc.line) {
				t.Errorf("want platform.follows-variant at %s:%d, got:\n%v", file, tc.line, l)
			}
		})
	}
}
