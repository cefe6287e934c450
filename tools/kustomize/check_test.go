package kustomize

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/diag"
)

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata: {a: b}\n"

// repo makes a revision of files under app/ plus a base at base/ and a
// file outside the root at secret.txt.
func repo(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"secret.txt":                       {Data: []byte("not for the build\n")},
		"app/cm.yaml":                      {Data: []byte(cm)},
		"app/base/kustomization.yaml":      {Data: []byte("resources: [cm.yaml]\n")},
		"app/base/cm.yaml":                 {Data: []byte(strings.Replace(cm, "name: cm", "name: base", 1))},
		"app/gen/labels.yaml":              {Data: []byte("apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {team: a}\nfieldSpecs: [{path: metadata/labels, create: true}]\n")},
		"app/settings.env":                 {Data: []byte("A=1\n")},
		"app/component/kustomization.yaml": {Data: []byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels: {c: d}\n")},
	}
	for p, body := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

// kust is a kustomization at app/ with the given body.
func kust(body string) map[string]string {
	return map[string]string{"app/kustomization.yaml": body}
}

func diagnostics(t *testing.T, err error) diag.List {
	t.Helper()
	var l diag.List
	if !errors.As(err, &l) {
		t.Fatalf("error %v is not a diag.List", err)
	}
	return l
}

func has(l diag.List, rule, at string) bool {
	for _, d := range l {
		if d.Rule == rule && d.Pos.String() == at {
			return true
		}
	}
	return false
}

func TestCheckRefuses(t *testing.T) {
	t.Parallel()
	const k = "app/kustomization.yaml"
	for _, tc := range []struct {
		name  string
		files map[string]string
		rule  string
		at    string // file:line:col
	}{
		{"git upload-pack", kust("resources:\n  - file:///tmp/x?ref=--upload-pack=touch /tmp/pwned\n"), RuleRemote, k + ":2:5"},
		{"https resource", kust("resources: [https://example.org/cm.yaml]\n"), RuleRemote, k + ":1:13"},
		{"http resource", kust("resources:\n- cm.yaml\n- http://127.0.0.1:1/cm.yaml\n"), RuleRemote, k + ":3:3"},
		{"ssh base", kust("bases: ['ssh://git@example.org/org/repo.git']\n"), RuleRemote, k + ":1:9"},
		{"git:: prefix", kust("resources: ['git::https://example.org/org/repo']\n"), RuleRemote, k + ":1:13"},
		{"GIT:: upper case", kust("resources: ['GIT::example/org/repo']\n"), RuleRemote, k + ":1:13"},
		{"scp style", kust("resources: ['git@example.org:org/repo']\n"), RuleRemote, k + ":1:13"},
		{"user at host", kust("resources: ['deploy@example.org/org/repo']\n"), RuleRemote, k + ":1:13"},
		{"github shorthand", kust("resources: [github.com/org/repo/deploy]\n"), RuleRemote, k + ":1:13"},
		{"GitHub shorthand upper case", kust("resources: [GitHub.com/org/repo]\n"), RuleRemote, k + ":1:13"},
		{"ref query", kust("resources: ['base?ref=v1']\n"), RuleRemote, k + ":1:13"},
		{"double slash", kust("resources: [example.org/org/repo//deploy]\n"), RuleRemote, k + ":1:13"},
		{"remote component", kust("components: [https://example.org/org/repo//component]\n"), RuleRemote, k + ":1:14"},
		{"remote generator", kust("generators: ['file:///tmp/x?ref=--upload-pack=id']\n"), RuleRemote, k + ":1:14"},
		{"remote transformer inline-looking", kust("transformers:\n- 'file:///x?ref=--upload-pack=sh -c \"a: b\"'\n"), RuleRemote, k + ":2:3"},
		{"remote patch file", kust("patches:\n- path: https://example.org/patch.yaml\n"), RuleRemote, k + ":2:9"},
		{"remote strategic merge patch", kust("patchesStrategicMerge: [http://example.org/p.yaml]\n"), RuleRemote, k + ":1:25"},
		{"remote json6902 patch", kust("patchesJson6902:\n- target: {kind: ConfigMap, name: cm}\n  path: http://example.org/p.yaml\n"), RuleRemote, k + ":3:9"},
		{"remote configMapGenerator file", kust("configMapGenerator:\n- name: x\n  files: [key=http://example.org/f]\n"), RuleRemote, k + ":3:11"},
		{"remote env", kust("secretGenerator:\n- name: x\n  envs: [https://example.org/env]\n"), RuleRemote, k + ":3:10"},
		{"remote openapi", kust("openapi:\n  path: https://example.org/schema.json\n"), RuleRemote, k + ":2:9"},
		{"remote crd", kust("crds: [https://example.org/crd.yaml]\n"), RuleRemote, k + ":1:8"},
		{"remote replacement", kust("replacements:\n- path: http://example.org/r.yaml\n"), RuleRemote, k + ":2:9"},
		{"field name case", kust("Resources: [https://example.org/cm.yaml]\n"), RuleRemote, k + ":1:13"},
		{"remote in a base", map[string]string{k: "resources: [base]\n", "app/base/kustomization.yaml": "resources: [cm.yaml, 'https://example.org/x.yaml']\n"}, RuleRemote, "app/base/kustomization.yaml:1:22"},
		{"remote in a component", map[string]string{k: "components: [component]\n", "app/component/kustomization.yaml": "kind: Component\nresources: [github.com/org/repo]\n"}, RuleRemote, "app/component/kustomization.yaml:2:13"},
		{"remote in a Kustomization file", map[string]string{"app/Kustomization": "resources: [https://example.org/x]\n"}, RuleRemote, "app/Kustomization:1:13"},
		{"remote in kustomization.yml", map[string]string{"app/kustomization.yml": "resources: [https://example.org/x]\n"}, RuleRemote, "app/kustomization.yml:1:13"},
		{"helmCharts", kust("helmCharts:\n- name: x\n  repo: https://example.org/charts\n"), RuleHelmCharts, k + ":1:1"},
		{"helmChartInflationGenerator", kust("helmChartInflationGenerator:\n- chartName: x\n"), RuleHelmCharts, k + ":1:1"},
		{"helmGlobals", kust("helmGlobals: {chartHome: charts}\n"), RuleHelmCharts, k + ":1:1"},
		{"helm generator file", map[string]string{k: "generators: [helm.yaml]\n", "app/helm.yaml": "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata: {name: h}\nchartName: x\n"}, RuleHelmCharts, "app/helm.yaml:2:7"},
		{"exec plugin", map[string]string{k: "generators: [gen.yaml]\n", "app/gen.yaml": "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata: {name: x}\n"}, RulePlugin, "app/gen.yaml:1:1"},
		{"KRM function exec", map[string]string{k: "transformers: [fn.yaml]\n", "app/fn.yaml": "apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: fn\n  annotations:\n    config.kubernetes.io/function: |\n      exec: {path: /bin/sh}\n"}, RulePlugin, "app/fn.yaml:6:5"},
		{"KRM function container on a builtin kind", map[string]string{k: "transformers: [fn.yaml]\n", "app/fn.yaml": "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: fn\n  annotations:\n    config.k8s.io/function: 'container: {image: x}'\n"}, RulePlugin, "app/fn.yaml:6:5"},
		{"validator", map[string]string{k: "validators: [v.yaml]\n", "app/v.yaml": "apiVersion: example.com/v1\nkind: Validator\nmetadata: {name: v}\n"}, RulePlugin, "app/v.yaml:1:1"},
		{"inline exec plugin", kust("generators:\n- |\n  apiVersion: example.com/v1\n  kind: Gen\n  metadata: {name: g}\n"), RulePlugin, k + ":2:3"},
		{"plugin folder", map[string]string{k: "transformers: [plugins]\n", "app/plugins/kustomization.yaml": "resources: [fn.yaml]\n", "app/plugins/fn.yaml": "apiVersion: example.com/v1\nkind: Fn\nmetadata: {name: f}\n"}, RulePlugin, "app/plugins/fn.yaml:1:1"},
		{"builtin config with remote path", map[string]string{k: "transformers: [p.yaml]\n", "app/p.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: https://example.org/p.yaml\n"}, RuleRemote, "app/p.yaml:4:7"},
		{"absolute resource", kust("resources: [/etc/passwd]\n"), RuleOutsideRoot, k + ":1:13"},
		{"climbing resource", kust("resources: [../secret.txt]\n"), RuleOutsideRoot, k + ":1:13"},
		{"climbing deep", kust("resources: [base/../../../etc]\n"), RuleOutsideRoot, k + ":1:13"},
		{"climbing openapi", kust("openapi: {path: ../secret.txt}\n"), RuleOutsideRoot, k + ":1:17"},
		{"climbing crds", kust("crds:\n  - ../secret.txt\n"), RuleOutsideRoot, k + ":2:5"},
		{"absolute configurations", kust("configurations: [/etc/passwd]\n"), RuleOutsideRoot, k + ":1:18"},
		{"climbing configMapGenerator file", kust("configMapGenerator:\n- name: x\n  files: [../secret.txt]\n"), RuleOutsideRoot, k + ":3:11"},
		{"climbing env", kust("configMapGenerator:\n- name: x\n  env: ../secret.txt\n"), RuleOutsideRoot, k + ":3:8"},
		{"alias", kust("x: &r [https://example.org/x]\nresources: *r\n"), RuleYAML, k + ":2:12"},
		{"long s folds to s", kust("reſources: ['file:///tmp/x?ref=--upload-pack=touch /tmp/pwned']\n"), RuleYAML, k + ":1:1"},
		{"long s in helmCharts", kust("helmChartſ: [{name: x, repo: 'http://127.0.0.1:1'}]\n"), RuleYAML, k + ":1:1"},
		{"Kelvin sign in a key", kust("configMapGenerator:\n- name: x\n  \u212Aey: y\n"), RuleYAML, k + ":3:3"},
		{"long s in a generator's files", kust("configMapGenerator:\n- name: x\n  fileſ: [http://127.0.0.1:1/leak]\n"), RuleYAML, k + ":3:3"},
		{"long s beside the plain key", kust("resources: [cm.yaml]\nreſources: [https://example.org/x]\n"), RuleYAML, k + ":2:1"},
		{"merge key", kust("x: &m {resources: [https://example.org/x]}\n<<: *m\n"), RuleYAML, k + ":2:1"},
		{"tag", kust("resources: [!!binary aHR0cHM6Ly9leGFtcGxlLm9yZy94]\n"), RuleYAML, k + ":1:13"},
		{"keys differing in case", kust("resources: [cm.yaml]\nRESOURCES: [x]\n"), RuleYAML, k + ":2:1"},
		{"malformed", kust("resources: [\n"), RuleYAML, k + ":1"},
		{"second document", kust("resources: [cm.yaml]\n---\nresources: [https://example.org/x]\n"), RuleRemote, k + ":3:13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Check(repo(tc.files), Options{Root: "app", Dir: "app"})
			if err == nil {
				t.Fatal("Check accepted it")
			}
			l := diagnostics(t, err)
			if !has(l, tc.rule, tc.at) {
				t.Errorf("want [%s] at %s, got:\n%v", tc.rule, tc.at, l)
			}
			if _, err := Build(repo(tc.files), Options{Root: "app", Dir: "app"}); err == nil || err.Error() != l.Error() {
				t.Errorf("Build: %v, want the check's problems", err)
			}
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	t.Parallel()
	fsys := repo(kust("resources:\n- https://example.org/a\n- ../secret.txt\n- /abs\nhelmCharts: [{name: x}]\n"))
	l := diagnostics(t, Check(fsys, Options{Root: "app", Dir: "app"}))
	want := []string{
		"app/kustomization.yaml:2:3: \"https://example.org/a\" is a remote reference: kustomize would clone or download it; refer to a file or folder of this repository [kustomize.remote]",
		"app/kustomization.yaml:3:3: \"../secret.txt\" leaves app: the build reads only that folder [kustomize.outside-root]",
		"app/kustomization.yaml:4:3: \"/abs\" is an absolute path: refer to a path relative to app/kustomization.yaml [kustomize.outside-root]",
		"app/kustomization.yaml:5:1: helmCharts: kustomize would run helm and download the chart: make the chart a platform component, or commit its rendered manifests [kustomize.helm-charts]",
	}
	if got := l.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestCheckAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files map[string]string
		dir   string
		want  int // objects built
	}{
		{"resources and a base", kust("resources: [cm.yaml, ./base/../base]\n"), "app", 2},
		{"a component", kust("resources: [cm.yaml]\ncomponents: [component]\n"), "app", 1},
		{"builtin transformer file", kust("resources: [cm.yaml]\ntransformers: [gen/labels.yaml]\n"), "app", 1},
		{"inline builtin transformer", kust("resources: [cm.yaml]\ntransformers:\n- |\n  apiVersion: builtin\n  kind: NamespaceTransformer\n  metadata: {name: ns, namespace: x}\n"), "app", 1},
		{"generators with local files", kust("configMapGenerator:\n- name: g\n  files: [key=cm.yaml]\n  envs: [settings.env]\n"), "app", 1},
		{"inline patches", kust("resources: [cm.yaml]\npatchesStrategicMerge:\n- |\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: cm}\n  data: {c: d}\npatches:\n- patch: |\n    - {op: add, path: /data/e, value: f}\n  target: {kind: ConfigMap}\n"), "app", 1},
		{"a sibling base under the root", map[string]string{"app/overlay/kustomization.yaml": "resources: [../base]\n"}, "app/overlay", 1},
		{"a cycle is refused by kustomize, not looped on", map[string]string{"app/a/kustomization.yaml": "resources: [../b]\n", "app/b/kustomization.yaml": "resources: [../a]\n"}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := tc.dir
			if dir == "" {
				dir = "app/a"
			}
			opts := Options{Root: "app", Dir: dir}
			if err := Check(repo(tc.files), opts); err != nil {
				t.Fatalf("Check: %v", err)
			}
			rm, err := Build(repo(tc.files), opts)
			if tc.want == 0 {
				if err == nil {
					t.Fatal("Build of a cycle succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if rm.Size() != tc.want {
				t.Errorf("built %d objects, want %d", rm.Size(), tc.want)
			}
		})
	}
}

func TestCheckGenerated(t *testing.T) {
	t.Parallel()
	opts := Options{Root: "app", Dir: "app", Generated: []byte("resources: [https://example.org/x]\n")}
	l := diagnostics(t, Check(repo(nil), opts))
	if !has(l, RuleRemote, "app/kustomization.yaml:1:13") {
		t.Errorf("the generated kustomization is not checked: %v", l)
	}
	opts.Generated = []byte("resources: [cm.yaml]\n")
	rm, err := Build(repo(nil), opts)
	if err != nil || rm.Size() != 1 {
		t.Fatalf("Build with a generated kustomization: %v", err)
	}
}

func TestCheckLimits(t *testing.T) {
	t.Parallel()
	// A chain deeper than MaxDepth.
	files := map[string]string{}
	for i := 0; i <= MaxDepth+1; i++ {
		files[fmt.Sprintf("app/d%d/kustomization.yaml", i)] = fmt.Sprintf("resources: [../d%d]\n", i+1)
	}
	l := diagnostics(t, Check(repo(files), Options{Root: "app", Dir: "app/d0"}))
	if len(l) != 1 || l[0].Rule != RuleLimit {
		t.Errorf("deep chain: %v", l)
	}
	// A fan-out of more than MaxFiles files.
	files = map[string]string{}
	var b strings.Builder
	b.WriteString("resources:\n")
	for i := 0; i <= MaxFiles; i++ {
		files[fmt.Sprintf("app/f%d/kustomization.yaml", i)] = "resources: []\n"
		fmt.Fprintf(&b, "- f%d\n", i)
	}
	files["app/kustomization.yaml"] = b.String()
	l = diagnostics(t, Check(repo(files), Options{Root: "app", Dir: "app"}))
	if len(l) != 1 || l[0].Rule != RuleLimit {
		t.Errorf("wide tree: %v", l)
	}
}
