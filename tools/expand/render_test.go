package expand

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// parityChart exercises what render must do as Helm's install action does:
// CRDs, hooks (known, unknown, test), NOTES.txt, partials, empty and
// comment-only templates, Lists, documents without a namespace, release and
// capabilities values, and a values schema.
var parityChart = fstest.MapFS{
	"Chart.yaml":  {Data: []byte("apiVersion: v2\nname: parity\nversion: 1.2.3\nkubeVersion: \">=1.30.0-0\"\n")},
	"values.yaml": {Data: []byte("replicas: 2\nname: web\nextra: {}\n")},
	"values.schema.json": {Data: []byte(`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
 "properties": {"replicas": {"type": "integer", "minimum": 0}, "name": {"type": "string", "pattern": "^[a-z]+$"}, "extra": {"type": "object"}},
 "additionalProperties": false}`)},
	"crds/thing.yaml":        {Data: []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.example.org\nspec:\n  group: example.org\n")},
	"templates/_helpers.tpl": {Data: []byte(`{{- define "parity.name" -}}{{ .Release.Name }}-{{ .Values.name }}{{- end -}}`)},
	"templates/NOTES.txt":    {Data: []byte("Installed {{ .Release.Name }}.\n")},
	"templates/empty.yaml":   {Data: []byte("{{- if false }}\nkind: Nothing\n{{- end }}\n")},
	"templates/comment.yaml": {Data: []byte("# only a comment\n")},
	"templates/deploy.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "parity.name" . }}
  labels:
    kube: {{ .Capabilities.KubeVersion.Version | quote }}
    revision: {{ .Release.Revision | quote }}
    install: {{ .Release.IsInstall | quote }}
    chart: {{ .Chart.Name }}-{{ .Chart.Version }}
spec:
  replicas: {{ .Values.replicas }}
---
# a second document in the same file
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "parity.name" . }}
  namespace: elsewhere
data:
  ns: {{ .Release.Namespace }}
  extra: {{ toJson .Values.extra | quote }}
  hasPolicy: {{ .Capabilities.APIVersions.Has "policy/v1" | quote }}
`)},
	"templates/list.yaml": {Data: []byte(`apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ServiceAccount
    metadata: {name: a}
  - apiVersion: v1
    kind: ServiceAccount
    metadata: {name: b}
`)},
	"templates/hooks.yaml": {Data: []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
---
apiVersion: batch/v1
kind: Job
metadata:
  name: weighted
  annotations:
    helm.sh/hook: post-install
    helm.sh/hook-weight: 5
---
apiVersion: batch/v1
kind: Job
metadata:
  name: empty-hook
  annotations:
    helm.sh/hook:
---
apiVersion: v1
kind: Pod
metadata:
  name: test
  annotations:
    helm.sh/hook: test
---
apiVersion: v1
kind: Pod
metadata:
  name: unknown-hook
  annotations:
    helm.sh/hook: after-lunch
---
apiVersion: v1
kind: Service
metadata:
  name: annotated
  annotations:
    other: "1"
spec:
  ports: [{port: 80}]
`)},
}

func exampleValues(t testing.TB) []map[string]any {
	t.Helper()
	files, err := filepath.Glob("testdata/*.values.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no values in testdata: %v", err)
	}
	var out []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// both expands with render and with the install action.
func both(t *testing.T, c *Chart, opts Options) (direct, install []*unstructured.Unstructured, derr, ierr error) {
	t.Helper()
	if !c.direct {
		t.Fatal("the chart is not rendered directly")
	}
	direct, derr = c.Expand(context.Background(), opts)
	c.direct = false
	install, ierr = c.Expand(context.Background(), opts)
	c.direct = true
	return
}

func jsonOf(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	b, err := json.MarshalIndent(objs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRenderMatchesInstall: the direct render gives what Helm's install
// action gives, object for object, for the openstack-cluster chart and for
// a chart with every kind of template Helm treats specially; and it fails
// where the install action fails, with the same message for the values
// schema.
func TestRenderMatchesInstall(t *testing.T) {
	t.Parallel()
	cluster, err := Load(os.DirFS("../../charts/openstack-cluster"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cluster.schemas) == 0 {
		t.Fatal("the chart's values schema did not compile")
	}
	for _, v := range exampleValues(t) {
		name := v["clusterName"].(string)
		opts := Options{ReleaseName: name, Namespace: "ns-" + name, Values: v, KubeVersion: "v1.36.1", HelmReleaseName: name, HelmReleaseNamespace: "ns-" + name}
		d, i, derr, ierr := both(t, cluster, opts)
		if derr != nil || ierr != nil {
			t.Fatalf("%s: %v / %v", name, derr, ierr)
		}
		if diff := cmp.Diff(jsonOf(t, i), jsonOf(t, d)); diff != "" {
			t.Errorf("%s: render differs from install (-install +render):\n%s", name, diff)
		}
	}

	parity, err := Load(parityChart)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		opts   Options
		errHas string
	}{
		{name: "defaults", opts: Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1"}},
		{name: "values", opts: Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.31.0", Values: map[string]any{"replicas": 5, "extra": map[string]any{"a": []any{1, "b"}}}}},
		{name: "no kube version", opts: Options{ReleaseName: "rel", Namespace: "ns"}, errHas: "incompatible with Kubernetes"},
		{name: "old kube version", opts: Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.29.9"}, errHas: "incompatible with Kubernetes"},
		{name: "schema: unknown key", opts: Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1", Values: map[string]any{"replica": 1}}, errHas: "schema"},
		{name: "schema: bad pattern", opts: Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1", Values: map[string]any{"name": "Web"}}, errHas: "schema"},
		{name: "bad release name", opts: Options{ReleaseName: "Rel_1", Namespace: "ns", KubeVersion: "v1.36.1"}, errHas: "release name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, i, derr, ierr := both(t, parity, tc.opts)
			if tc.errHas != "" {
				if derr == nil || ierr == nil {
					t.Fatalf("want errors, got %v / %v", derr, ierr)
				}
				if derr.Error() != ierr.Error() {
					t.Errorf("errors differ:\nrender:  %v\ninstall: %v", derr, ierr)
				}
				if !strings.Contains(derr.Error(), tc.errHas) {
					t.Errorf("error %q lacks %q", derr, tc.errHas)
				}
				return
			}
			if derr != nil || ierr != nil {
				t.Fatalf("%v / %v", derr, ierr)
			}
			if diff := cmp.Diff(jsonOf(t, i), jsonOf(t, d)); diff != "" {
				t.Errorf("render differs from install (-install +render):\n%s", diff)
			}
			var kinds []string
			for _, o := range d {
				kinds = append(kinds, o.GetKind()+"/"+o.GetName())
				if o.GetKind() == "Job" || o.GetKind() == "Pod" {
					t.Errorf("a hook is in the output: %s", o.GetName())
				}
			}
			want := "CustomResourceDefinition/things.example.org Deployment/rel-web ConfigMap/rel-web Service/annotated ServiceAccount/a ServiceAccount/b"
			if got := strings.Join(kinds, " "); got != want {
				t.Errorf("objects:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestRenderFailsWhereInstallFails: a document whose head Helm cannot read
// (an object or a list where a string belongs) fails both ways.
func TestRenderFailsWhereInstallFails(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"name is a list":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a]\n",
		"kind is an object":     "apiVersion: v1\nkind: {a: b}\nmetadata:\n  name: a\n",
		"metadata is a list":    "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n",
		"annotation is a list":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    x: [1]\n",
		"annotations is a list": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: [x]\n",
	} {
		chart := fstest.MapFS{
			"Chart.yaml":         {Data: []byte("apiVersion: v2\nname: bad\nversion: 0.1.0\n")},
			"templates/bad.yaml": {Data: []byte(doc)},
		}
		c, err := Load(chart)
		if err != nil {
			t.Fatal(err)
		}
		_, _, derr, ierr := both(t, c, Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1"})
		if derr == nil || ierr == nil {
			t.Errorf("%s: render error %v, install error %v; want both to fail", name, derr, ierr)
		}
	}
}

// TestInstallPathResolvesDependenciesEachTime: a chart with a dependency
// (the install action's path) loaded once gives each release what a fresh
// load gives, one after the other and at once.
func TestInstallPathResolvesDependenciesEachTime(t *testing.T) {
	t.Parallel()
	chart := fstest.MapFS{
		"Chart.yaml":                   {Data: []byte("apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n  - {name: sub, version: 0.1.0, condition: sub.enabled}\n")},
		"values.yaml":                  {Data: []byte("sub: {enabled: true}\n")},
		"templates/top.yaml":           {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: top-{{ .Release.Name }}}\n")},
		"charts/sub/Chart.yaml":        {Data: []byte("apiVersion: v2\nname: sub\nversion: 0.1.0\n")},
		"charts/sub/templates/cm.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub-{{ .Release.Name }}}\n")},
	}
	c, err := Load(chart)
	if err != nil {
		t.Fatal(err)
	}
	if c.direct {
		t.Fatal("a chart with dependencies is rendered directly")
	}
	names := func(objs []*unstructured.Unstructured) string {
		var n []string
		for _, o := range objs {
			n = append(n, o.GetName())
		}
		return strings.Join(n, " ")
	}
	expand := func(rel string, enabled bool) string {
		objs, err := c.Expand(context.Background(), Options{ReleaseName: rel, Namespace: "ns", KubeVersion: "v1.36.1", Values: map[string]any{"sub": map[string]any{"enabled": enabled}}})
		if err != nil {
			t.Error(err)
			return ""
		}
		return names(objs)
	}
	for _, rel := range []string{"a", "b", "c"} {
		if got, want := expand(rel, false), "top-"+rel; got != want {
			t.Errorf("sub disabled: %q, want %q", got, want)
		}
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel := fmt.Sprintf("r%d", i)
			want := "top-" + rel
			if i%2 == 0 {
				want = "sub-" + rel + " " + want
			}
			if got := expand(rel, i%2 == 0); got != want {
				t.Errorf("%s: %q, want %q", rel, got, want)
			}
		}()
	}
	wg.Wait()
}

// TestChartConcurrentExpand: one loaded chart expands many releases at once
// (run with -race) with the same results as one at a time.
func TestChartConcurrentExpand(t *testing.T) {
	t.Parallel()
	c, err := Load(os.DirFS("../../charts/openstack-cluster"))
	if err != nil {
		t.Fatal(err)
	}
	values := exampleValues(t)
	want := make([]string, len(values))
	optsOf := func(v map[string]any) Options {
		name := v["clusterName"].(string)
		return Options{ReleaseName: name, Namespace: "ns-" + name, Values: v, KubeVersion: "v1.36.1"}
	}
	for i, v := range values {
		objs, err := c.Expand(context.Background(), optsOf(v))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = jsonOf(t, objs)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(values))
	for range 8 {
		for i, v := range values {
			wg.Add(1)
			go func() {
				defer wg.Done()
				objs, err := c.Expand(context.Background(), optsOf(v))
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := json.MarshalIndent(objs, "", " ")
				if string(b) != want[i] {
					errs <- "a concurrent expansion differs"
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestValidateMatchesHelm: the values check with the schemas compiled at
// Load gives Helm's verdict and Helm's message, on the openstack-cluster
// chart and on a chart with a subchart. (Helm's validation is called here
// only on these schemas, which refer to nothing: it would fetch or read
// whatever they referred to.)
func TestValidateMatchesHelm(t *testing.T) {
	t.Parallel()
	dep := fstest.MapFS{
		"Chart.yaml":                    {Data: []byte("apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n  - {name: sub, version: 0.1.0}\n")},
		"values.yaml":                   {Data: []byte("size: 1\nsub: {name: web}\n")},
		"values.schema.json":            {Data: []byte(`{"type": "object", "properties": {"size": {"type": "integer"}}}`)},
		"templates/top.yaml":            {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: top}\n")},
		"charts/sub/Chart.yaml":         {Data: []byte("apiVersion: v2\nname: sub\nversion: 0.1.0\n")},
		"charts/sub/values.schema.json": {Data: []byte(`{"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}}`)},
		"charts/sub/templates/cm.yaml":  {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\n")},
	}
	plain := exampleValues(t)[0]
	for _, tc := range []struct {
		name   string
		chart  fs.FS
		values map[string]any
	}{
		{"cluster chart: valid", os.DirFS("../../charts/openstack-cluster"), plain},
		{"cluster chart: unknown key", os.DirFS("../../charts/openstack-cluster"), map[string]any{"clusterNmae": "x", "kubernetesVersion": "1.36"}},
		{"parity: valid", parityChart, map[string]any{"replicas": 3}},
		{"parity: several faults", parityChart, map[string]any{"replicas": -1, "name": "Web", "replica": 1}},
		{"subchart: valid", dep, nil},
		{"subchart: bad pattern and type", dep, map[string]any{"size": "big", "sub": map[string]any{"name": "Web"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tc.chart)
			if err != nil {
				t.Fatal(err)
			}
			vals, err := util.CoalesceValues(c.chart, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			got, want := c.schemas.validate(c.chart, vals), util.ValidateAgainstSchema(c.chart, vals)
			// Helm lists sibling causes in map order; capiform sorts them:
			// the same lines, in an order that does not change.
			lines := func(e error) string {
				l := strings.Split(fmt.Sprint(e), "\n")
				sort.Strings(l)
				return strings.Join(l, "\n")
			}
			if again := c.schemas.validate(c.chart, vals); fmt.Sprint(again) != fmt.Sprint(got) {
				t.Errorf("two validations differ:\n%v\n%v", got, again)
			}
			if lines(got) != lines(want) {
				t.Errorf("capiform: %v\nhelm:     %v", got, want)
			}
		})
	}
}
