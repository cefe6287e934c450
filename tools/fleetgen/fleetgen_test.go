package fleetgen_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/capiform/capiform/tools/fleetgen"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/source"
)

func TestDeterministic(t *testing.T) {
	a := fleetgen.Generate(fleetgen.Options{Seed: 7, Sites: 3, ClustersPerSite: 20})
	b := fleetgen.Generate(fleetgen.Options{Seed: 7, Sites: 3, ClustersPerSite: 20})
	c := fleetgen.Generate(fleetgen.Options{Seed: 8, Sites: 3, ClustersPerSite: 20})
	if len(a) != 3*21 {
		t.Fatalf("%d files, want %d", len(a), 3*21)
	}
	same := true
	for p := range a {
		if !bytes.Equal(a[p], b[p]) {
			t.Errorf("%s differs for the same seed", p)
		}
		same = same && bytes.Equal(a[p], c[p])
	}
	if same {
		t.Error("another seed gives the same fleet")
	}
}

// TestGeneratedFleetRenders: a generated fleet is valid input with the
// variety the benchmarks need (autoscaled groups from zero, existing
// networks, several versions).
func TestGeneratedFleetRenders(t *testing.T) {
	dir := testrepo.New(t, false)
	files := fleetgen.Generate(fleetgen.Options{Seed: 1, Sites: 2, ClustersPerSite: 30})
	testrepo.WriteFiles(t, dir, files)
	res, err := pipeline.Render(context.Background(), pipeline.Default(source.Worktree(dir)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Releases) != 60 {
		t.Fatalf("%d clusters, want 60", len(res.Releases))
	}
	var all []byte
	for _, f := range files {
		all = append(all, f...)
	}
	for _, want := range []string{"autoscale: {min: 0", "existing:", "v1.35.4", "v1.36.2", "oidc:", "rootVolume"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("no cluster has %q", want)
		}
	}
}

// TestGeneratedFleetHasNoWarnings: benchmarks measure clean input.
func TestGeneratedFleetHasNoWarnings(t *testing.T) {
	dir := testrepo.New(t, false)
	testrepo.WriteFiles(t, dir, fleetgen.Generate(fleetgen.Options{Seed: 1, Sites: 2, ClustersPerSite: 30}))
	res, err := pipeline.Render(context.Background(), pipeline.Default(source.Worktree(dir)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("%d warnings, the first: %v", len(res.Warnings), res.Warnings[0])
	}
}
