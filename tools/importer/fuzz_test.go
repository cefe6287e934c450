package importer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/capiform/capiform/tools/diag"
)

// FuzzImport: whatever the bytes, Import returns a definition or an error,
// never both, never panics, and every warning and error names its file.
func FuzzImport(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "input", "*"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "0.26.1")
	}
	f.Add([]byte("USER-SUPPLIED VALUES:\nnodeGroups: [{name: a, autoscale: yes}]\n"), "0.10.0")
	f.Add([]byte("a: &x [*x]\n"), "")
	f.Add([]byte("addons: &x {monitoring: *x}\nnodeGroups: &g [{name: a, machineFlavor: *g}]\n"), "0.20.0")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		res, err := Import([]Input{{Name: "in.yaml", Data: data}}, Options{Name: "fuzz", ChartVersion: version})
		if (res == nil) == (err == nil) {
			t.Fatalf("result %v and error %v", res, err)
		}
		if err != nil {
			if dl, ok := err.(diag.List); ok {
				for _, d := range dl {
					if d.File == "" {
						t.Errorf("error without a file: %s", d)
					}
				}
			}
			return
		}
		for _, w := range res.Warnings {
			if w.File == "" {
				t.Errorf("warning without a file: %s", w)
			}
		}
		if _, _, err := Marshal(res, []string{"in.yaml"}); err != nil {
			t.Fatal(err)
		}
	})
}
