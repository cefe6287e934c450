package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// TestImport runs capiform import as an operator would: into a site of a
// fleet, then validate. Left-out settings exit 1 after writing; input it
// cannot read or a chart version it does not know writes nothing.
func TestImport(t *testing.T) {
	in := func(name string) string { return filepath.Join("..", "importer", "testdata", "input", name) }
	dir := testrepo.New(t, false)
	fleet := map[string][]byte{}
	for _, f := range []string{"site.yaml", "imp-mgmt.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "importer", "testdata", "fleet", "clusters", "imp", f))
		if err != nil {
			t.Fatal(err)
		}
		fleet["clusters/imp/"+f] = b
	}
	testrepo.WriteFiles(t, dir, fleet)
	research := filepath.Join(dir, "clusters", "imp", "research.yaml")
	for _, step := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
		file   string // written by the step
		absent string // not written by the step
	}{
		{"unknown chart version", []string{"import", in("values.yaml"), "--name", "research", "--chart-version", "0.9.0", "--into", "imp"}, 1,
			[]string{"--chart-version", `"0.9.0"`, "nothing written"}, "", research},
		{"unreadable file", []string{"import", in("missing.yaml"), "--into", "imp"}, 1, []string{"missing.yaml: cannot be read", "nothing written"}, "", ""},
		{"left out settings", []string{"import", in("values.yaml"), "--name", "research", "--chart-version", "0.26.1", "--into", "imp"}, 1,
			[]string{"warning: ", "registryMirrors", "wrote ", "research.yaml", "left out or changed"}, research, ""},
		{"valid", []string{"validate"}, 0, []string{"valid: 1 site(s), 2 cluster(s)"}, "", ""},
		{"never overwrites", []string{"import", in("values.yaml"), "--name", "research", "--chart-version", "0.26.1", "--into", "imp"}, 1,
			[]string{"exist(s) already: nothing written"}, "", ""},
		{"nothing left out", []string{"import", in("helm-get-values.txt"), "--name", "batch", "--chart-version", "0.27.0", "--into", "imp"}, 0,
			[]string{"wrote ", "batch.yaml"}, filepath.Join(dir, "clusters", "imp", "batch.yaml"), ""},
		{"printed", []string{"import", in("magnum-template.json"), in("magnum-cluster.json")}, 1, []string{"printed the definition of physics"}, "", filepath.Join(dir, "clusters", "imp", "physics.yaml")},
		{"still valid", []string{"render"}, 0, []string{"rendered 1 site(s), 3 cluster(s)"}, "", ""},
	} {
		before, _ := os.ReadFile(research)
		code, _, errOut := run(t, append([]string{"-C", dir}, step.args...)...)
		if code != step.code {
			t.Errorf("%s: exit %d, want %d\n%s", step.name, code, step.code, errOut)
		}
		for _, w := range step.stderr {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", step.name, w, errOut)
			}
		}
		if step.file != "" {
			if _, err := os.Stat(step.file); err != nil {
				t.Errorf("%s: %v", step.name, err)
			}
		}
		if step.absent != "" {
			if _, err := os.Stat(step.absent); err == nil {
				t.Errorf("%s: %s written", step.name, step.absent)
			}
		}
		if after, _ := os.ReadFile(research); len(before) > 0 && string(after) != string(before) {
			t.Errorf("%s: research.yaml changed", step.name)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "clusters", "imp"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".import-") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
	}
}

// TestImportedClustersRender: every golden definition of the importer's
// tests (one per source format) validates, renders and passes render
// --check in a fleet of its own, with the real commands.
func TestImportedClustersRender(t *testing.T) {
	goldens, _ := filepath.Glob(filepath.Join("..", "importer", "testdata", "golden", "*.yaml"))
	if len(goldens) < 5 {
		t.Fatalf("only %d golden definitions", len(goldens))
	}
	for _, g := range goldens {
		if strings.HasSuffix(g, ".site.yaml") {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(g), ".yaml"), func(t *testing.T) {
			t.Parallel()
			cluster, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			name := ""
			for _, line := range strings.Split(string(cluster), "\n") {
				if n, ok := strings.CutPrefix(line, "  name: "); ok && name == "" {
					name = n
				}
			}
			dir := testrepo.New(t, false)
			fleet := map[string][]byte{"clusters/imp/" + name + ".yaml": cluster}
			for _, f := range []string{"site.yaml", "imp-mgmt.yaml"} {
				b, err := os.ReadFile(filepath.Join("..", "importer", "testdata", "fleet", "clusters", "imp", f))
				if err != nil {
					t.Fatal(err)
				}
				fleet["clusters/imp/"+f] = b
			}
			testrepo.WriteFiles(t, dir, fleet)
			for _, args := range [][]string{{"validate"}, {"render"}, {"render", "--check"}} {
				if code, _, errOut := run(t, append([]string{"-C", dir}, args...)...); code != 0 {
					t.Errorf("capiform %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
				}
			}
		})
	}
}
