package expand_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/expand"
)

// listener is a local HTTP server that counts every connection made to it,
// whether or not a request follows (an https:// URL to it fails the TLS
// handshake but still connects).
func listener(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type": "string"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), &conns
}

// secretFile writes a JSON document holding marker outside any chart, as a
// file of the machine that a schema must not be able to read or show.
func secretFile(t *testing.T, marker string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(p, []byte(`{"type": "`+marker+`", "description": "`+marker+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// schemaChart is a chart without dependencies whose values schema is
// schema, with extra files.
func schemaChart(schema string, extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"Chart.yaml":         {Data: []byte("apiVersion: v2\nname: refs\nversion: 0.1.0\n")},
		"values.yaml":        {Data: []byte("name: web\n")},
		"values.schema.json": {Data: []byte(schema)},
		"templates/cm.yaml":  {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Values.name }}}\n")},
	}
	for name, data := range extra {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// dependencyChart is a chart with a subchart (Helm's install action's
// path), whose subchart's values schema is schema.
func dependencyChart(schema string, extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"Chart.yaml":                    {Data: []byte("apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n  - {name: sub, version: 0.1.0}\n")},
		"values.yaml":                   {Data: []byte("sub: {name: web}\n")},
		"templates/top.yaml":            {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: top}\n")},
		"charts/sub/Chart.yaml":         {Data: []byte("apiVersion: v2\nname: sub\nversion: 0.1.0\n")},
		"charts/sub/values.yaml":        {Data: []byte("name: web\n")},
		"charts/sub/values.schema.json": {Data: []byte(schema)},
		"charts/sub/templates/cm.yaml":  {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Values.name }}}\n")},
	}
	for name, data := range extra {
		fsys["charts/sub/"+name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// nameRef is a values schema whose "name" is given by ref.
func nameRef(ref string) string {
	return `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"name": {"$ref": "` + ref + `"}}}`
}

// TestSchemaRefsOutsideTheChart: a values schema that refers to anything
// but the chart's own files fails to load, with the schema's file, the
// reference and the rule, on the direct and the install action's path
// alike; nothing is fetched, no file outside the chart is read, and what
// such a file holds never shows. Were Helm's loader used, the listener
// would count a connection and the message would quote the secret file.
func TestSchemaRefsOutsideTheChart(t *testing.T) {
	t.Parallel()
	const marker = "SECRET-MARKER-7f3a"
	addr, conns := listener(t)
	secret := secretFile(t, marker)
	for _, tc := range []struct {
		name   string
		schema string
		extra  map[string]string
		ref    string // the reference the message must name
	}{
		{name: "http", schema: nameRef("http://" + addr + "/name.json"), ref: "http://" + addr + "/name.json"},
		{name: "https", schema: nameRef("https://" + addr + "/name.json"), ref: "https://" + addr + "/name.json"},
		{name: "file URL", schema: nameRef("file://" + filepath.ToSlash(secret)), ref: "file://" + filepath.ToSlash(secret)},
		{name: "file URL with a fragment", schema: nameRef("file://" + filepath.ToSlash(secret) + "#/type"), ref: "file://" + filepath.ToSlash(secret)},
		{name: "absolute path", schema: nameRef(filepath.ToSlash(secret)), ref: "../" + strings.TrimPrefix(filepath.ToSlash(secret), "/")},
		{name: "path leaving the chart", schema: nameRef("../../secret.json"), ref: "../secret.json"},
		{name: "urn", schema: nameRef("urn:example:name"), ref: "urn:example:name"},
		{name: "meta-schema by URL", schema: `{"$schema": "http://` + addr + `/meta.json", "type": "object"}`, ref: "http://" + addr + "/meta.json"},
		{name: "$id moves the base", schema: `{"$id": "http://` + addr + `/root.json", "properties": {"name": {"$ref": "name.json"}}}`, ref: "http://" + addr + "/name.json"},
		{name: "a chart file that refers out", schema: nameRef("defs/name.json"), extra: map[string]string{"defs/name.json": `{"$ref": "http://` + addr + `/x.json"}`}, ref: "http://" + addr + "/x.json"},
	} {
		for _, path := range []struct {
			name  string
			chart fstest.MapFS
			file  string
		}{
			{"direct", schemaChart(tc.schema, tc.extra), "values.schema.json"},
			{"install action", dependencyChart(tc.schema, tc.extra), "charts/sub/values.schema.json"},
		} {
			t.Run(tc.name+"/"+path.name, func(t *testing.T) {
				c, err := expand.Load(path.chart)
				if err == nil {
					// The old way: Load let it through and Helm fetched
					// or read it when a release expanded.
					_, err = c.Expand(context.Background(), expand.Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1"})
					t.Errorf("the chart loaded; expanding it gave %v", err)
					return
				}
				var ce *expand.ChartError
				if !errors.As(err, &ce) {
					t.Fatalf("error %q is not a ChartError", err)
				}
				if ce.File != path.file || ce.Rule != expand.RuleChartSchemaRef {
					t.Errorf("file %q rule %q, want %q %q", ce.File, ce.Rule, path.file, expand.RuleChartSchemaRef)
				}
				msg := err.Error()
				if !strings.Contains(msg, `"`+tc.ref+`"`) {
					t.Errorf("message %q does not name the reference %q", msg, tc.ref)
				}
				if strings.Contains(msg, marker) {
					t.Errorf("message %q shows the content of a file outside the chart", msg)
				}
			})
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the listener got %d connection(s), want none", n)
	}
}

// TestSchemaRefsInsideTheChart: references to the schema's own definitions
// and to other JSON files of the chart resolve, and judge the values, on
// both paths.
func TestSchemaRefsInsideTheChart(t *testing.T) {
	t.Parallel()
	lower := `{"type": "string", "pattern": "^[a-z]+$"}`
	for _, tc := range []struct {
		name   string
		schema string
		extra  map[string]string
	}{
		{name: "definition", schema: `{"type": "object", "definitions": {"lower": ` + lower + `}, "properties": {"name": {"$ref": "#/definitions/lower"}}}`},
		{name: "$defs", schema: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"lower": ` + lower + `}, "properties": {"name": {"$ref": "#/$defs/lower"}}}`},
		{name: "relative file", schema: nameRef("schemas/lower.json"), extra: map[string]string{"schemas/lower.json": lower}},
		{name: "relative file and fragment", schema: nameRef("./schemas/defs.json#/definitions/lower"), extra: map[string]string{"schemas/defs.json": `{"definitions": {"lower": ` + lower + `}}`}},
		{name: "file referring to a sibling", schema: nameRef("schemas/a.json"), extra: map[string]string{"schemas/a.json": `{"$ref": "b.json"}`, "schemas/b.json": lower}},
	} {
		for _, path := range []struct {
			name   string
			chart  fstest.MapFS
			values func(name string) map[string]any
		}{
			{"direct", schemaChart(tc.schema, tc.extra), func(n string) map[string]any { return map[string]any{"name": n} }},
			{"install action", dependencyChart(tc.schema, tc.extra), func(n string) map[string]any { return map[string]any{"sub": map[string]any{"name": n}} }},
		} {
			t.Run(tc.name+"/"+path.name, func(t *testing.T) {
				t.Parallel()
				c, err := expand.Load(path.chart)
				if err != nil {
					t.Fatal(err)
				}
				opts := expand.Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1", Values: path.values("good")}
				if _, err := c.Expand(context.Background(), opts); err != nil {
					t.Errorf("valid values: %v", err)
				}
				opts.Values = path.values("Bad_Name")
				_, err = c.Expand(context.Background(), opts)
				if err == nil || !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), "/name") {
					t.Errorf("invalid values: %v, want the schema's error about /name", err)
				}
			})
		}
	}
}

// TestChartFaults: a chart that cannot be loaded, parsed or compiled is a
// ChartError naming its file (and line where there is one) and the rule.
func TestChartFaults(t *testing.T) {
	t.Parallel()
	with := func(edits map[string]string) fstest.MapFS {
		fsys := schemaChart(`{"type": "object"}`, nil)
		for name, data := range edits {
			if data == "" {
				delete(fsys, name)
				continue
			}
			fsys[name] = &fstest.MapFile{Data: []byte(data)}
		}
		return fsys
	}
	for _, tc := range []struct {
		name  string
		chart fstest.MapFS
		file  string
		line  int
		rule  string
		has   string
	}{
		{name: "no chart", chart: fstest.MapFS{}, file: "Chart.yaml", rule: expand.RuleChartMissing, has: "missing"},
		{name: "no Chart.yaml", chart: with(map[string]string{"Chart.yaml": ""}), file: "Chart.yaml", rule: expand.RuleChartMissing, has: "missing"},
		{name: "Chart.yaml not YAML", chart: with(map[string]string{"Chart.yaml": "apiVersion: v2\nname: [x\n"}), file: "Chart.yaml", line: 2, rule: expand.RuleChartLoad},
		{name: "Chart.yaml without a version", chart: with(map[string]string{"Chart.yaml": "apiVersion: v2\nname: x\n"}), file: "Chart.yaml", rule: expand.RuleChartLoad, has: "version"},
		{name: "values.yaml not YAML", chart: with(map[string]string{"values.yaml": "a: b\nc: [\n"}), file: "values.yaml", line: 2, rule: expand.RuleChartLoad},
		{name: "template does not parse", chart: with(map[string]string{"templates/broken.yaml": "kind: ConfigMap\n{{ .Values.nope.deeper }\n"}), file: "templates/broken.yaml", line: 2, rule: expand.RuleChartTemplate, has: "unexpected"},
		{name: "template calls an unknown function", chart: with(map[string]string{"templates/sub/fn.yaml": "a: 1\nb: 2\n{{ nope 1 }}\n"}), file: "templates/sub/fn.yaml", line: 3, rule: expand.RuleChartTemplate, has: `function "nope" not defined`},
		{name: "partial does not parse", chart: with(map[string]string{"templates/_helpers.tpl": "{{ define \"x\" }}\n"}), file: "templates/_helpers.tpl", line: 2, rule: expand.RuleChartTemplate, has: "unexpected EOF"},
		{name: "schema not JSON", chart: with(map[string]string{"values.schema.json": "{\"type\": "}), file: "values.schema.json", rule: expand.RuleChartSchema},
		{name: "schema invalid", chart: with(map[string]string{"values.schema.json": `{"type": 5}`}), file: "values.schema.json", rule: expand.RuleChartSchema},
		{name: "schema refers to a missing chart file", chart: with(map[string]string{"values.schema.json": nameRef("defs.json")}), file: "values.schema.json", rule: expand.RuleChartSchemaRef, has: `"defs.json" is not a file of the chart`},
		{name: "schema refers to a chart file that is not JSON", chart: with(map[string]string{"values.schema.json": nameRef("defs.json"), "defs.json": "name: x\n"}), file: "values.schema.json", rule: expand.RuleChartSchemaRef, has: "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := expand.Load(tc.chart)
			var ce *expand.ChartError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a ChartError", err)
			}
			if ce.File != tc.file || ce.Line != tc.line || ce.Rule != tc.rule || !strings.Contains(ce.Message, tc.has) {
				t.Errorf("got %s, want file %s line %d rule %s with %q", ce, tc.file, tc.line, tc.rule, tc.has)
			}
		})
	}
}

// TestLoadRunsNoTemplate: loading parses the templates but executes none,
// so a template that would fail (or loop) when run does not at load.
func TestLoadRunsNoTemplate(t *testing.T) {
	t.Parallel()
	if _, err := expand.Load(schemaChart(`{"type": "object"}`, map[string]string{
		"templates/loops.yaml": `{{ range until 100000 }}{{ range until 100000 }}x{{ end }}{{ end }}`,
	})); err != nil {
		t.Fatalf("load: %v", err)
	}
	c, err := expand.Load(schemaChart(`{"type": "object"}`, map[string]string{
		"templates/fails.yaml": `{{ fail "this template ran" }}`,
	}))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	_, err = c.Expand(context.Background(), expand.Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1", Values: map[string]any{"name": "x"}})
	if err == nil || !strings.Contains(err.Error(), "this template ran") {
		t.Errorf("expand: %v, want the template's failure", err)
	}
}

// TestChartStaysInItsFolder: the chart and its .Files are the files of the
// folder it is loaded from, nothing else: a symbolic link in the chart is
// refused (not followed), and .Files cannot reach a file beside the chart.
func TestChartStaysInItsFolder(t *testing.T) {
	t.Parallel()
	const marker = "SECRET-MARKER-b41c"
	root := t.TempDir()
	chart := filepath.Join(root, "chart")
	write := func(name, data string) {
		p := filepath.Join(chart, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte(marker), 0o600); err != nil {
		t.Fatal(err)
	}
	write("Chart.yaml", "apiVersion: v2\nname: files\nversion: 0.1.0\n")
	write("templates/cm.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: files}
data:
  up: {{ .Files.Get "../secret.txt" | quote }}
  abs: {{ .Files.Get "`+filepath.ToSlash(filepath.Join(root, "secret.txt"))+`" | quote }}
  glob: {{ .Files.Glob "../*" | len | quote }}
`)
	c, err := expand.Load(os.DirFS(chart))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := c.Expand(context.Background(), expand.Options{ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.36.1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%d objects", len(objs))
	}
	data, _ := objs[0].Object["data"].(map[string]any)
	for k, v := range data {
		if v != "" && v != "0" {
			t.Errorf(".Files reached outside the chart: %s = %q", k, v)
		}
	}

	for _, link := range []struct{ name, target string }{
		{"files/secret.txt", filepath.Join(root, "secret.txt")},
		{"files/up", ".."},
		{"templates/outside.yaml", filepath.Join(root, "secret.txt")},
	} {
		t.Run(link.name, func(t *testing.T) {
			p := filepath.Join(chart, filepath.FromSlash(link.name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link.target, p); err != nil {
				t.Skip("no symbolic links here:", err)
			}
			defer os.Remove(p)
			_, err := expand.Load(os.DirFS(chart))
			var ce *expand.ChartError
			// A link is refused as a link, wherever it points.
			if !errors.As(err, &ce) || ce.File != link.name || ce.Rule != "load.symlink" {
				t.Fatalf("load: %v, want a load.symlink error on %s", err, link.name)
			}
			if strings.Contains(err.Error(), marker) {
				t.Errorf("message %q shows the linked file", err)
			}
		})
	}
}
