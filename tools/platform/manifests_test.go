package platform

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
)

// renderSites renders the generated tree of every site of the test
// fleet with the catalogue's addons.
func renderSites(t *testing.T) (*Catalogue, map[string]render.Files) {
	t.Helper()
	cat, fleet, cases := testFleet(t)
	out := map[string]render.Files{}
	for _, s := range fleet.Sites {
		var rels []*resolve.Release
		for _, fc := range cases {
			if fc.site == s {
				rels = append(rels, fc.rel)
			}
		}
		files, err := render.Site(render.Options{Site: s, Releases: rels, Addons: cat.Addons})
		if err != nil {
			t.Fatalf("render %s: %v", s.Metadata.Name, err)
		}
		out[s.Metadata.Name] = files
	}
	return cat, out
}

// TestManifestsGolden shows the Flux objects of a cluster with a manifests
// component as render writes them: its Kustomizations in flux-system and
// the folder addons/<cluster>/manifests/ (golden:
// testdata/platform/golden/manifests-research.yaml).
func TestManifestsGolden(t *testing.T) {
	_, sites := renderSites(t)
	files := sites["lon"]
	var b bytes.Buffer
	for _, p := range []string{"kustomizations/research.yaml", "addons/research/manifests/kustomization.yaml", "addons/research/manifests/manifests.yaml"} {
		if files[p] == nil {
			t.Fatalf("lon: %s is not rendered", p)
		}
		b.WriteString("# " + p + "\n")
		if p != "kustomizations/research.yaml" {
			b.Write(files[p])
			continue
		}
		// Only the Kustomization of the manifests folder: the cluster's
		// and the addons' are render's.
		for _, doc := range strings.Split(string(files[p]), "---\n") {
			if strings.Contains(doc, "\n  name: "+render.ManifestsKustomizationName("research")+"\n") {
				b.WriteString("---\n" + doc)
			}
		}
	}
	golden(t, "manifests-research.yaml", b.Bytes())
}

// TestManifestsWaitForCharts checks the order of every cluster of the
// test fleet with manifests components: their Kustomizations are synced
// by <cluster>-manifests, which depends on <cluster>-addons, which waits
// for every HelmRelease of the cluster, the CNI included; the HelmReleases
// and the manifests Kustomizations are in separate folders; and every
// folder that a Flux Kustomization of the tree points at builds.
func TestManifestsWaitForCharts(t *testing.T) {
	t.Parallel()
	cat, sites := renderSites(t)
	seen := 0
	for site, files := range sites {
		built, err := render.BuildAll(site, files)
		if err != nil {
			t.Fatalf("%s: %v", site, err)
		}
		byName := map[string]*unstructured.Unstructured{}
		for _, o := range built[""] {
			if o.GetKind() == kustomizev1.KustomizationKind && o.GetNamespace() == resolve.FluxNamespace {
				byName[o.GetName()] = o
			}
		}
		for dir, objs := range built {
			if !strings.HasPrefix(dir, "addons/") {
				continue
			}
			cluster := strings.Split(dir, "/")[1]
			manifestsDir := strings.HasSuffix(dir, "/manifests")
			hasCNI := false
			for _, o := range objs {
				isManifests := o.GetKind() == kustomizev1.KustomizationKind || o.GetKind() == sourcev1.GitRepositoryKind
				if isManifests != manifestsDir {
					t.Errorf("%s: %s %s is in folder %s", site, o.GetKind(), o.GetName(), dir)
				}
				hasCNI = hasCNI || (o.GetKind() == "HelmRelease" && o.GetName() == cat.CNI())
			}
			if !manifestsDir {
				if !hasCNI {
					t.Errorf("%s: %s has no CNI HelmRelease", site, dir)
				}
				continue
			}
			seen++
			ks := byName[render.ManifestsKustomizationName(cluster)]
			if ks == nil {
				t.Fatalf("%s: no Kustomization %s syncs %s", site, render.ManifestsKustomizationName(cluster), dir)
			}
			deps, _, _ := unstructured.NestedSlice(ks.Object, "spec", "dependsOn")
			addonsName := render.AddonsKustomizationName(cluster)
			if len(deps) != 1 || deps[0].(map[string]any)["name"] != addonsName {
				t.Errorf("%s: %s dependsOn %v, want [%s]", site, ks.GetName(), deps, addonsName)
			}
			addons := byName[addonsName]
			if addons == nil {
				t.Fatalf("%s: no Kustomization %s", site, addonsName)
			}
			if wait, _, _ := unstructured.NestedBool(addons.Object, "spec", "wait"); !wait {
				t.Errorf("%s: %s does not wait for its HelmReleases: the manifests would not wait for the CNI", site, addonsName)
			}
			if p, _, _ := unstructured.NestedString(addons.Object, "spec", "path"); !strings.HasSuffix(p, "/addons/"+cluster) {
				t.Errorf("%s: %s syncs %s", site, addonsName, p)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no cluster of the test fleet has a manifests component")
	}
}

const toolsPlatform = `apiVersion: capiform.dev/v1alpha1
kind: Platform
metadata:
  name: tools
spec:
  components:
    - name: chart
      chart: {repository: https://example.org/charts, name: chart, version: 1.0.0}
      namespace: chart
    - name: defaults
      manifests: true
      dependsOn: [chart]
      namespace: chart
    - name: later
      manifests: true
      dependsOn: [defaults]
`

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n"

// manifestsFixture is the fixture with the platform tools: a chart and two
// manifests components, the second after the first.
func manifestsFixture(platform string, files map[string]string) fstest.MapFS {
	fs := fixture("1.0.0", "cni", map[string]string{"c": cluster("c", "  platforms:\n    - name: base\n    - name: tools\n")})
	fs["platforms/tools/platform.yaml"] = &fstest.MapFile{Data: []byte(platform)}
	for p, body := range files {
		fs["platforms/tools/"+p] = &fstest.MapFile{Data: []byte(body)}
	}
	return fs
}

func TestManifestsDependsOn(t *testing.T) {
	t.Parallel()
	fs := manifestsFixture(toolsPlatform, map[string]string{
		"defaults/settings.yaml":    configMap,
		"later/sub/priority.yml":    "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: daemons\nvalue: 1000000\n---\n",
		"later/README.md":           "not YAML, not applied\n",
		"later/sub/.hidden/x.yaml":  "not: an object\n",
		"defaults/more/second.yaml": strings.Replace(configMap, "settings", "second", 1),
	})
	cat, err := LoadCatalogue(fs)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := load.Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	s := fleet.Site("s")
	objs, err := cat.Addons(s, s.Cluster("c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	kss := map[string]*kustomizev1.Kustomization{}
	repos := 0
	for _, o := range objs {
		switch v := o.(type) {
		case *kustomizev1.Kustomization:
			kss[v.Name] = v
		case *sourcev1.GitRepository:
			repos++
			if v.Spec.SecretRef != nil || v.Spec.URL != "https://example.org/fleet.git" {
				t.Errorf("GitRepository %+v: want the site's URL and no secret", v.Spec)
			}
		}
	}
	if repos != 1 || len(kss) != 2 {
		t.Fatalf("%d GitRepositories and Kustomizations %v, want 1 and defaults, later", repos, kss)
	}
	if d := kss["defaults"].Spec; len(d.DependsOn) != 0 || d.TargetNamespace != "chart" || d.Path != "./platforms/tools/defaults" {
		t.Errorf("defaults: %+v (a chart dependency is no Kustomization dependsOn)", d)
	}
	if d := kss["later"].Spec; len(d.DependsOn) != 1 || d.DependsOn[0].Name != "defaults" || d.TargetNamespace != "" {
		t.Errorf("later: %+v, want dependsOn defaults and no targetNamespace", d)
	}
}

func TestManifestsErrors(t *testing.T) {
	t.Parallel()
	const file = "platforms/tools/platform.yaml"
	ok := map[string]string{"defaults/settings.yaml": configMap, "later/settings.yaml": configMap}
	with := func(extra map[string]string, drop ...string) map[string]string {
		out := map[string]string{}
		for k, v := range ok {
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
	for _, tc := range []struct {
		name     string
		platform string
		files    map[string]string
		rule     string
		file     string
		line     int
	}{
		{"missing folder", toolsPlatform, with(nil, "later/settings.yaml"), "platform.manifests-folder", file, 15},
		{"unknown folder", toolsPlatform, with(map[string]string{"stale/x.yaml": configMap}), "platform.manifests-folder", file, 6},
		{"empty folder", toolsPlatform, with(map[string]string{"later/README.md": "nothing to apply\n"}, "later/settings.yaml"), "platform.manifests-empty", file, 15},
		{"no object in folder", toolsPlatform, with(map[string]string{"later/settings.yaml": "---\n# nothing\n"}), "platform.manifests-empty", file, 15},
		{"not an object", toolsPlatform, with(map[string]string{"later/settings.yaml": configMap + "---\nkind: ConfigMap\n"}), "platform.manifests-yaml", "platforms/tools/later/settings.yaml", 7},
		{"malformed", toolsPlatform, with(map[string]string{"later/settings.yaml": "a: [\n"}), "platform.manifests-yaml", "platforms/tools/later/settings.yaml", 1},
		{"kustomization does not build", toolsPlatform, with(map[string]string{"later/kustomization.yaml": "resources: [missing.yaml]\n"}), "platform.manifests-build", file, 15},
		{"secret", toolsPlatform, with(map[string]string{"later/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: x}\n"}), "platform.manifests-secret", file, 15},
		{"chart depends on manifests", strings.Replace(toolsPlatform, "      namespace: chart\n    - name: defaults", "      namespace: chart\n      dependsOn: [later]\n    - name: defaults", 1), ok, "platform.depends-on-manifests", file, 10},
		{"manifests with values", strings.Replace(toolsPlatform, "      dependsOn: [defaults]\n", "      dependsOn: [defaults]\n      values: {a: 1}\n", 1), ok, "platform.manifests", file, 17},
		{"namespace nobody creates", strings.Replace(toolsPlatform, "      dependsOn: [defaults]\n", "      dependsOn: [defaults]\n      namespace: tools\n", 1), ok, "platform.namespace", file, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadCatalogue(manifestsFixture(tc.platform, tc.files))
			if err == nil {
				t.Fatal("LoadCatalogue succeeded")
			}
			if l := diagnostics(t, err); !has(l, tc.rule, tc.file, tc.line) {
				t.Errorf("want %s at %s:%d, got:\n%v", tc.rule, tc.file, tc.line, l)
			}
		})
	}
}

func TestManifestsNamespaceObject(t *testing.T) {
	t.Parallel()
	platform := strings.Replace(toolsPlatform, "      dependsOn: [defaults]\n", "      dependsOn: [defaults]\n      namespace: tools\n", 1)
	files := map[string]string{
		"defaults/settings.yaml": configMap,
		"later/settings.yaml":    configMap + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: tools}\n",
	}
	if _, err := LoadCatalogue(manifestsFixture(platform, files)); err != nil {
		t.Fatalf("a component that creates its namespace: %v", err)
	}
}

func TestManifestsTakeNoValues(t *testing.T) {
	t.Parallel()
	fs := manifestsFixture(toolsPlatform, map[string]string{"defaults/settings.yaml": configMap, "later/settings.yaml": configMap})
	fs["clusters/s/c.yaml"].Data = []byte(cluster("c", "  platforms:\n    - name: base\n    - name: tools\n      values:\n        later: {a: 1}\n"))
	cat, err := LoadCatalogue(fs)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := load.Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	if l := cat.Check(fleet); !has(l, "platform.manifests-values", "clusters/s/c.yaml", 12) {
		t.Errorf("want platform.manifests-values at line 12, got:\n%v", l)
	}
}
