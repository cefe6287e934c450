package pipeline_test

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

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/source"
)

// TestBrokenChartIsADiagnostic: the stages validate and render run
// (pipeline.Default) load the revision's chart, so a chart that is missing,
// does not load, does not parse or whose values schema does not compile or
// refers outside it is a diagnostic with the chart's file and rule (exit 1
// in the CLI), before any cluster is expanded. The listener that a schema
// refers to is never connected to.
func TestBrokenChartIsADiagnostic(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	chart := pipeline.ChartDir + "/"
	for _, tc := range []struct {
		name   string
		remove string
		files  map[string]string
		want   string // the diagnostic, as diag prints it, without its message
		has    string
	}{
		{name: "no chart", remove: "charts", want: chart + "Chart.yaml: [chart.missing]"},
		{name: "Chart.yaml not YAML", files: map[string]string{chart + "Chart.yaml": "apiVersion: v2\nname: [x\n"}, want: chart + "Chart.yaml:2: [chart.load]"},
		{name: "template does not parse", files: map[string]string{chart + "templates/broken.yaml": "kind: ConfigMap\n{{ .Values.nope.deeper }\n"}, want: chart + "templates/broken.yaml:2: [chart.template]", has: "unexpected"},
		{name: "schema does not compile", files: map[string]string{chart + "values.schema.json": `{"type": 5}`}, want: chart + "values.schema.json: [chart.schema]"},
		{name: "schema refers to a URL", files: map[string]string{chart + "values.schema.json": `{"properties": {"x": {"$ref": "` + srv.URL + `/x.json"}}}`}, want: chart + "values.schema.json: [chart.schema-ref]", has: srv.URL + "/x.json"},
		{name: "schema refers to a file", files: map[string]string{chart + "values.schema.json": `{"properties": {"x": {"$ref": "file:///etc/hostname"}}}`}, want: chart + "values.schema.json: [chart.schema-ref]", has: "file:///etc/hostname"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := testrepo.New(t, true)
			if tc.remove != "" {
				if err := os.RemoveAll(filepath.Join(dir, tc.remove)); err != nil {
					t.Fatal(err)
				}
			}
			files := map[string][]byte{}
			for name, data := range tc.files {
				files[name] = []byte(data)
			}
			testrepo.WriteFiles(t, dir, files)
			_, err := pipeline.Render(context.Background(), pipeline.Default(source.Worktree(dir)))
			var list diag.List
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want diagnostics", err)
			}
			var found *diag.Diagnostic
			for i, d := range list {
				if strings.HasPrefix(d.File, pipeline.ChartDir) {
					found = &list[i]
				}
			}
			if found == nil {
				t.Fatalf("no diagnostic about the chart:\n%s", list)
			}
			if got := found.Pos.String() + ": [" + found.Rule + "]"; got != tc.want || !strings.Contains(found.Message, tc.has) {
				t.Errorf("got %s\nwant %s with %q", found, tc.want, tc.has)
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the listener got %d connection(s)", n)
	}
}

// TestChartMissingFromARevision: a revision without the chart (a base that
// predates it) names the chart's path, not the root of a sub-tree.
func TestChartMissingFromARevision(t *testing.T) {
	t.Parallel()
	_, err := pipeline.NewExpander(fstest.MapFS{"clusters/x/site.yaml": {Data: []byte("x")}}, &pipeline.Result{})
	var list diag.List
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("err = %v, want one diagnostic", err)
	}
	if d := list[0]; d.File != pipeline.ChartDir+"/Chart.yaml" || d.Rule != "chart.missing" {
		t.Errorf("got %s", d)
	}
	if strings.Contains(err.Error(), "open .") {
		t.Errorf("message %q names no path", err)
	}
}
