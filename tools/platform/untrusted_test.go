package platform

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/kustomize"
)

// writeRepo writes a fixture to a folder on disk, as a checkout would be.
func writeRepo(t *testing.T, fsys fstest.MapFS) string {
	t.Helper()
	dir := t.TempDir()
	for p, f := range fsys {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestManifestsKustomizationRunsNothing loads a catalogue from disk whose
// manifests component's kustomization would make kustomize run git (and,
// through --upload-pack, a command that creates a file), or run a plugin:
// the catalogue is refused with the kustomization's file:line and rule,
// and the file is never created.
func TestManifestsKustomizationRunsNothing(t *testing.T) {
	t.Parallel()
	const kfile = "platforms/tools/later/kustomization.yaml"
	for _, tc := range []struct {
		name string
		// files of the component later; PWNED stands for the file the
		// command would create, OUTSIDE for a folder outside the repository.
		files map[string]string
		rule  string
		at    string
	}{
		{"upload-pack resource", map[string]string{
			"kustomization.yaml": "resources:\n  - settings.yaml\n  - file://OUTSIDE/x?ref=--upload-pack=touch PWNED\n",
		}, kustomize.RuleRemote, kfile + ":3:5"},
		{"git:: base", map[string]string{
			"kustomization.yaml": "bases:\n  - git::file://OUTSIDE/x?ref=--upload-pack=touch PWNED\nresources: [settings.yaml]\n",
		}, kustomize.RuleRemote, kfile + ":2:5"},
		{"ssh base", map[string]string{
			"kustomization.yaml": "resources:\n  - ssh://git@127.0.0.1:1/org/repo?ref=--upload-pack=touch PWNED\n",
		}, kustomize.RuleRemote, kfile + ":2:5"},
		{"github https base", map[string]string{
			"kustomization.yaml": "resources:\n  - https://github.com/org/repo//deploy?ref=--upload-pack=touch PWNED\n",
		}, kustomize.RuleRemote, kfile + ":2:5"},
		{"component", map[string]string{
			"kustomization.yaml": "resources: [settings.yaml]\ncomponents:\n  - file://OUTSIDE/x//c?ref=--upload-pack=touch PWNED\n",
		}, kustomize.RuleRemote, kfile + ":3:5"},
		{"remote in a local base", map[string]string{
			"kustomization.yaml":      "resources: [base]\n",
			"base/kustomization.yaml": "resources:\n  - cm.yaml\n  - file://OUTSIDE/x?ref=--upload-pack=touch PWNED\n",
			"base/cm.yaml":            strings.Replace(configMap, "settings", "base", 1),
		}, kustomize.RuleRemote, "platforms/tools/later/base/kustomization.yaml:3:5"},
		{"exec plugin generator", map[string]string{
			"kustomization.yaml": "resources: [settings.yaml]\ngenerators: [gen.yaml]\n",
			"gen.yaml":           "apiVersion: example.com/v1\nkind: Touch\nmetadata:\n  name: t\n  annotations:\n    config.kubernetes.io/function: |\n      exec: {path: /usr/bin/touch, args: [PWNED]}\n",
		}, kustomize.RulePlugin, "platforms/tools/later/gen.yaml:6:5"},
		{"helm chart", map[string]string{
			"kustomization.yaml": "resources: [settings.yaml]\nhelmCharts:\n  - {name: x, repo: 'file://OUTSIDE', valuesFile: PWNED}\n",
		}, kustomize.RuleHelmCharts, kfile + ":2:1"},
		{"out of the folder", map[string]string{
			"kustomization.yaml": "resources: [settings.yaml, ../../tools/platform.yaml]\n",
		}, kustomize.RuleOutsideRoot, kfile + ":1:28"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			outside := t.TempDir()
			pwned := filepath.Join(outside, "pwned")
			files := map[string]string{"defaults/settings.yaml": configMap, "later/settings.yaml": configMap}
			for p, body := range tc.files {
				files["later/"+p] = strings.NewReplacer("PWNED", pwned, "OUTSIDE", filepath.ToSlash(outside)).Replace(body)
			}
			repo := writeRepo(t, manifestsFixture(toolsPlatform, files))
			_, err := LoadCatalogue(os.DirFS(repo))
			if _, statErr := os.Stat(pwned); statErr == nil {
				t.Fatal("loading the catalogue ran the command")
			}
			if err == nil {
				t.Fatal("LoadCatalogue succeeded")
			}
			l := diagnostics(t, err)
			if !hasAt(l, tc.rule, tc.at) {
				t.Errorf("want [%s] at %s, got:\n%v", tc.rule, tc.at, l)
			}
			if !has(l, "platform.manifests-build", "platforms/tools/platform.yaml", 15) {
				t.Errorf("want platform.manifests-build at the component, got:\n%v", l)
			}
			if strings.Contains(l.Error(), repo) {
				t.Errorf("a diagnostic names the machine's path:\n%v", l)
			}
		})
	}
}

// TestManifestsKustomizationFetchesNothing: an http resource, patch or
// generator file of a manifests component is refused, and the server
// never gets a request.
func TestManifestsKustomizationFetchesNothing(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(configMap))
	}))
	defer srv.Close()
	body := "resources:\n  - settings.yaml\n  - URL/cm.yaml\npatches:\n  - path: URL/patch.yaml\nconfigMapGenerator:\n  - name: g\n    files: [URL/f]\n"
	files := map[string]string{
		"defaults/settings.yaml":   configMap,
		"later/settings.yaml":      configMap,
		"later/kustomization.yaml": strings.ReplaceAll(body, "URL", srv.URL),
	}
	_, err := LoadCatalogue(os.DirFS(writeRepo(t, manifestsFixture(toolsPlatform, files))))
	if n := requests.Load(); n != 0 {
		t.Fatalf("the server got %d request(s)", n)
	}
	l := diagnostics(t, err)
	const kfile = "platforms/tools/later/kustomization.yaml"
	for _, at := range []string{kfile + ":3:5", kfile + ":5:11", kfile + ":8:13"} {
		if !hasAt(l, kustomize.RuleRemote, at) {
			t.Errorf("want [%s] at %s, got:\n%v", kustomize.RuleRemote, at, l)
		}
	}
}

func hasAt(l diag.List, rule, at string) bool {
	for _, d := range l {
		if d.Rule == rule && d.Pos.String() == at {
			return true
		}
	}
	return false
}

// TestManifestsFileNameIsData: the kustomization generated for a folder
// without one lists its files quoted, so a file name cannot add a
// reference of its own; a name kustomize could take for a repository is
// refused whole (kustomize clones what it fails to read as a file).
func TestManifestsFileNameIsData(t *testing.T) {
	t.Parallel()
	name := "a.yaml\n  - git@127.0.0.1:r?ref=--upload-pack=touch pwned\n  - b.yaml"
	files := map[string]string{"defaults/settings.yaml": configMap, "later/" + name: configMap}
	_, err := LoadCatalogue(manifestsFixture(toolsPlatform, files))
	var remote diag.List
	for _, d := range diagnostics(t, err) {
		if d.Rule == kustomize.RuleRemote {
			remote = append(remote, d)
		}
	}
	if len(remote) != 1 || remote[0].Pos.String() != "platforms/tools/later/kustomization.yaml:4:5" || !strings.Contains(remote[0].Message, strconv.Quote(name)) {
		t.Errorf("want the whole name refused once, got:\n%v", remote)
	}
}
