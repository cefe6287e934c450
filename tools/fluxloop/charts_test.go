package fluxloop

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// standInTemplate is the one template of every stand-in chart: a
// ConfigMap that records the chart and the values the release was given,
// so the test reads what helm-controller's stand-in passed to Helm.
const standInTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-values
  namespace: {{ .Release.Namespace }}
data:
  chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
  values.json: {{ toJson .Values | quote }}
`

// valuesConfigMap is the name of the stand-in chart's ConfigMap of a
// release.
func valuesConfigMap(release string) string { return release + "-values" }

// chartRef is a chart a platform installs.
type chartRef struct{ repository, name, version string }

// serveStandInCharts is the stand-in for the chart repositories on the
// internet: for every chart the fleet's platforms name (repository, name
// and exact version), a stand-in chart of that name and version made with
// the Helm SDK (standInTemplate), packaged and indexed by Helm's own code
// and served over HTTP on 127.0.0.1, one Helm repository per repository
// path (<server>/<host>/<path>/index.yaml). The fleet's copy of
// platforms/*/platform.yaml is rewritten to name that server; the
// repository's own platforms are untouched. An oci:// chart fails the
// test: no platform has one today, and serving one needs an OCI registry
// here.
func serveStandInCharts(t testing.TB, fleetDir string) []chartRef {
	t.Helper()
	root := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	t.Cleanup(srv.Close)

	files, err := filepath.Glob(filepath.Join(fleetDir, "platforms", "*", "platform.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no platforms in the fleet (%v)", err)
	}
	var all []chartRef
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		refs := chartRefs(doc)
		text := string(b)
		for _, ref := range refs {
			if !strings.HasPrefix(ref.repository, "https://") && !strings.HasPrefix(ref.repository, "http://") {
				t.Fatalf("%s: chart %s from %s: the stand-in chart server serves Helm repositories over HTTP only; an oci:// chart needs an OCI registry in this test", file, ref.name, ref.repository)
			}
			path := repoPath(ref.repository)
			text = strings.ReplaceAll(text, "repository: "+ref.repository+"\n", "repository: "+srv.URL+"/"+path+"\n")
			ch := &chart.Chart{
				Metadata: &chart.Metadata{
					APIVersion: chart.APIVersionV2, Name: ref.name, Version: ref.version,
					Description: "stand-in of " + ref.name + " " + ref.version + " for capiform's Flux loop test",
				},
				Templates: []*common.File{{Name: "templates/values.yaml", Data: []byte(standInTemplate)}},
			}
			dir := filepath.Join(root, filepath.FromSlash(path))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := chartutil.Save(ch, dir); err != nil {
				t.Fatalf("packaging the stand-in of %s %s: %v", ref.name, ref.version, err)
			}
		}
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		all = append(all, refs...)
	}
	repos := map[string]bool{}
	for _, ref := range all {
		repos[repoPath(ref.repository)] = true
	}
	for path := range repos {
		dir := filepath.Join(root, filepath.FromSlash(path))
		idx, err := repo.IndexDirectory(dir, srv.URL+"/"+path)
		if err != nil {
			t.Fatal(err)
		}
		idx.SortEntries()
		if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name+all[i].version < all[j].name+all[j].version })
	return all
}

// repoPath is where the stand-in server serves a repository: its host and
// path.
func repoPath(u string) string {
	u = strings.TrimSuffix(u, "/")
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	return u
}

// chartRefs finds every chart: {repository, name, version} in a
// platform's document, in components and their variants alike.
func chartRefs(v any) []chartRef {
	var out []chartRef
	switch v := v.(type) {
	case map[string]any:
		if c, ok := v["chart"].(map[string]any); ok {
			r, _ := c["repository"].(string)
			n, _ := c["name"].(string)
			ver, _ := c["version"].(string)
			if r != "" && n != "" {
				out = append(out, chartRef{repository: r, name: n, version: ver})
			}
		}
		for _, x := range v {
			out = append(out, chartRefs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, chartRefs(x)...)
		}
	}
	return out
}
