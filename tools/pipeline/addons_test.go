package pipeline_test

import (
	"path"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/render"
)

// TestRenderedAddonOrder reads the rendered addon HelmReleases of every
// cluster of the example fleet, as Flux will: their dependsOn has no cycle,
// names only releases of the same namespace, and starts at the CNI (which
// depends on nothing; every other release reaches it).
func TestRenderedAddonOrder(t *testing.T) {
	res := renderDir(t, testrepo.Root())
	clusters := 0
	for site, files := range res.Sites {
		for _, p := range files.Paths() {
			if !strings.HasPrefix(p, "addons/") || path.Base(p) != "kustomization.yaml" {
				continue
			}
			objs, err := render.Build(files, path.Dir(p))
			if err != nil {
				t.Fatal(err)
			}
			deps := map[string][]string{}
			ns := ""
			for _, o := range objs {
				if o.GetKind() != "HelmRelease" {
					continue
				}
				if ns == "" {
					ns = o.GetNamespace()
				}
				if o.GetNamespace() != ns {
					t.Errorf("%s/%s: HelmRelease %s is in namespace %s, not %s", site, p, o.GetName(), o.GetNamespace(), ns)
				}
				list, _, _ := unstructured.NestedSlice(o.Object, "spec", "dependsOn")
				deps[o.GetName()] = nil
				for _, d := range list {
					m := d.(map[string]any)
					if n, ok := m["namespace"]; ok && n != ns {
						t.Errorf("%s: %s depends on %v across namespaces", site, o.GetName(), m)
					}
					deps[o.GetName()] = append(deps[o.GetName()], m["name"].(string))
				}
			}
			if len(deps) == 0 {
				continue
			}
			clusters++
			if len(deps["cni"]) != 0 {
				t.Errorf("%s %s: the CNI depends on %v", site, p, deps["cni"])
			}
			for name := range deps {
				seen := map[string]bool{}
				var reaches func(n string) bool
				reaches = func(n string) bool {
					if n == "cni" {
						return true
					}
					if seen[n] {
						t.Errorf("%s %s: dependsOn cycle through %s", site, p, n)
						return false
					}
					seen[n] = true
					if _, ok := deps[n]; !ok {
						t.Errorf("%s %s: %s depends on %s, which is not rendered", site, p, name, n)
						return false
					}
					for _, d := range deps[n] {
						if reaches(d) {
							return true
						}
					}
					return false
				}
				if !reaches(name) {
					t.Errorf("%s %s: %s does not start at the CNI (dependsOn %v)", site, p, name, deps[name])
				}
			}
		}
	}
	if clusters < 5 {
		t.Errorf("checked the addons of %d clusters, want every cluster of the example fleet", clusters)
	}
}
