package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/fleetgen"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/source"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func renderDir(t testing.TB, dir string) *pipeline.Result {
	t.Helper()
	fsys := source.Worktree(dir)
	res, err := pipeline.Render(context.Background(), pipeline.Default(fsys))
	if err != nil {
		t.Fatalf("render %s: %v", dir, err)
	}
	return res
}

// TestRenderIsReproducible: two renders of the same input are
// byte-for-byte identical, and so is a render after a write.
func TestRenderIsReproducible(t *testing.T) {
	dir := testrepo.New(t, true)
	a := renderDir(t, dir)
	b := renderDir(t, dir)
	for site, files := range a.Sites {
		for p, data := range files {
			if !bytes.Equal(data, b.Sites[site][p]) {
				t.Errorf("%s/%s differs between two renders", site, p)
			}
		}
	}
	if err := render.Write(dir, a.Sites); err != nil {
		t.Fatal(err)
	}
	first := readTree(t, filepath.Join(dir, "clusters"))
	if err := render.Write(dir, renderDir(t, dir).Sites); err != nil {
		t.Fatal(err)
	}
	second := readTree(t, filepath.Join(dir, "clusters"))
	if len(first) != len(second) {
		t.Fatalf("%d files after the first write, %d after the second", len(first), len(second))
	}
	for p := range first {
		if !bytes.Equal(first[p], second[p]) {
			t.Errorf("%s differs after a second write", p)
		}
	}
}

// TestCheckNamesStaleMissingAndExtra: after a definition is edited, a
// generated file is deleted, a stray one and a hand-written one added and
// an interrupted run left its folder, the check names each.
func TestCheckNamesStaleMissingAndExtra(t *testing.T) {
	dir := testrepo.New(t, true)
	if err := render.Write(dir, renderDir(t, dir).Sites); err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(dir, "clusters/edi/teaching.yaml")
	data, _ := os.ReadFile(def)
	os.WriteFile(def, bytes.Replace(data, []byte("replicas: 3"), []byte("replicas: 5"), 1), 0o644)
	os.Remove(filepath.Join(dir, "clusters/lon/generated/kustomizations/research.yaml"))
	os.WriteFile(filepath.Join(dir, "clusters/lon/generated/stray.yaml"), []byte(render.Header+"x: 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "clusters/lon/generated/NOTES.md"), []byte("mine\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "clusters/lon/.generated-123"), 0o755)

	res := renderDir(t, dir)
	cr, err := pipeline.Check(context.Background(), res, source.Worktree(dir))
	if err != nil {
		t.Fatal(err)
	}
	want := []render.Drift{
		{Path: "clusters/edi/generated/clusters/teaching/helmrelease.yaml", State: "stale"},
		{Path: "clusters/lon/.generated-123", State: "leftover"},
		{Path: "clusters/lon/generated/NOTES.md", State: "foreign"},
		{Path: "clusters/lon/generated/kustomizations/research.yaml", State: "missing"},
		{Path: "clusters/lon/generated/stray.yaml", State: "extra"},
	}
	if len(cr.Drift) != len(want) {
		t.Fatalf("drift = %v, want %v", cr.Drift, want)
	}
	for i := range want {
		if cr.Drift[i] != want[i] {
			t.Errorf("drift[%d] = %v, want %v", i, cr.Drift[i], want[i])
		}
	}
}

// TestInvalidInputWritesNothing: with a bad definition, render returns
// the diagnostics and the generated tree stays as it was.
func TestInvalidInputWritesNothing(t *testing.T) {
	dir := testrepo.New(t, true)
	if err := render.Write(dir, renderDir(t, dir).Sites); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, filepath.Join(dir, "clusters"))
	testrepo.WriteFiles(t, dir, map[string][]byte{
		"clusters/edi/teaching.yaml": []byte("apiVersion: capiform.dev/v1alpha1\nkind: Cluster\nmetadata: {name: teaching}\nspec: {kubernetesVersion: v1.36.1, controlPlane: {flavor: no-such-flavor}}\n"),
	})
	delete(before, "edi/teaching.yaml")
	_, err := pipeline.Render(context.Background(), pipeline.Default(source.Worktree(dir)))
	var list diag.List
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want diagnostics", err)
	}
	if !strings.Contains(list.Error(), "clusters/edi/teaching.yaml:4:") || !strings.Contains(list.Error(), `"no-such-flavor"`) {
		t.Errorf("diagnostics do not point at the flavor:\n%s", list.Error())
	}
	after := readTree(t, filepath.Join(dir, "clusters"))
	delete(after, "edi/teaching.yaml")
	if len(before) != len(after) {
		t.Fatalf("files changed: %d before, %d after", len(before), len(after))
	}
	for p := range before {
		if !bytes.Equal(before[p], after[p]) {
			t.Errorf("%s changed", p)
		}
	}
}

// TestGoldenTree: the generated tree of tools/pipeline/testdata/fleet, file
// by file; the example fleet's own tree is checked by TestExampleFleet.
// Run with -update to rewrite testdata/golden.
func TestGoldenTree(t *testing.T) {
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join("testdata", "fleet"), dir); err != nil {
		t.Fatal(err)
	}
	res := renderDir(t, dir)
	golden := filepath.Join("testdata", "golden")
	if *update {
		os.RemoveAll(golden)
		for site, files := range res.Sites {
			for p, data := range files {
				f := filepath.Join(golden, site, filepath.FromSlash(p))
				os.MkdirAll(filepath.Dir(f), 0o755)
				if err := os.WriteFile(f, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	want := readTree(t, golden)
	got := map[string][]byte{}
	for site, files := range res.Sites {
		for p, data := range files {
			got[site+"/"+p] = data
		}
	}
	for p := range want {
		if _, ok := got[p]; !ok {
			t.Errorf("%s: in the golden tree, not rendered", p)
		}
	}
	for p, data := range got {
		w, ok := want[p]
		switch {
		case !ok:
			t.Errorf("%s: rendered, not in the golden tree (run with -update)", p)
		case !bytes.Equal(w, data):
			t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", p, lineDiff(string(w), string(data)))
		}
	}
}

func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	return out
}

// lineDiff shows the first differing lines as -want +got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n-" + a + "\n+" + b
		}
	}
	return ""
}

// BenchmarkLoadRender1000: load, validate, resolve and render a generated
// fleet of 10 sites x 100 clusters.
func BenchmarkLoadRender1000(b *testing.B) {
	dir := testrepo.New(b, false)
	testrepo.WriteFiles(b, dir, fleetgen.Generate(fleetgen.Options{Seed: 1, Sites: 10, ClustersPerSite: 100}))
	fsys := source.Worktree(dir)
	b.ResetTimer()
	for b.Loop() {
		res, err := pipeline.Render(context.Background(), pipeline.Default(fsys))
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Releases) != 1000 {
			b.Fatalf("%d clusters", len(res.Releases))
		}
	}
}

// TestRemovedSite: the generated tree of a site whose definitions are gone
// is extra for the check, and render removes it.
func TestRemovedSite(t *testing.T) {
	dir := testrepo.New(t, true)
	if err := render.Write(dir, renderDir(t, dir).Sites); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "clusters/edi"))
	for _, e := range entries {
		if !e.IsDir() {
			os.Remove(filepath.Join(dir, "clusters/edi", e.Name()))
		}
	}
	res := renderDir(t, dir)
	cr, err := pipeline.Check(context.Background(), res, source.Worktree(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Drift) == 0 {
		t.Fatal("the tree of a removed site is not reported")
	}
	for _, d := range cr.Drift {
		if d.State != "extra" || !strings.HasPrefix(d.Path, "clusters/edi/generated/") {
			t.Errorf("unexpected drift %v", d)
		}
	}
	if err := render.Write(dir, res.Sites); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters/edi/generated")); !os.IsNotExist(err) {
		t.Errorf("the removed site's tree is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters/lon/generated/kustomization.yaml")); err != nil {
		t.Errorf("the remaining site's tree is gone: %v", err)
	}

	// A hand-written file in an orphaned tree stops render from removing it.
	os.MkdirAll(filepath.Join(dir, "clusters/old/generated"), 0o755)
	os.WriteFile(filepath.Join(dir, "clusters/old/generated/notes.yaml"), []byte("mine: true\n"), 0o644)
	if err := render.Write(dir, res.Sites); err == nil || !strings.Contains(err.Error(), "clusters/old/generated/notes.yaml") {
		t.Errorf("render removed or ignored a hand-written file: %v", err)
	}
}
