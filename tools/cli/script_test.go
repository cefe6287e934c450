package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// TestScripts runs the CLI scripts of testdata/script, in the style of
// cue's: each archive's comment holds one `capiform ARGS` line and an
// `exit N` line; its files other than stdout and stderr are laid over a
// copy of the example fleet; stdout and stderr are the exact expected
// output, with the repository's folder written as $REPO. Run with
// CAPIFORM_UPDATE_SCRIPTS=1 to rewrite the expectations.
func TestScripts(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if len(names) == 0 {
		t.Fatal("no scripts")
	}
	update := os.Getenv("CAPIFORM_UPDATE_SCRIPTS") != ""
	for _, name := range names {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var (
				args []string
				want = -1
			)
			for _, line := range strings.Split(string(ar.Comment), "\n") {
				switch f := strings.Fields(line); {
				case len(f) > 0 && f[0] == "capiform":
					args = f[1:]
				case len(f) == 2 && f[0] == "exit":
					want, _ = strconv.Atoi(f[1])
				}
			}
			if args == nil || want < 0 {
				t.Fatalf("%s: the comment needs a `capiform ARGS` and an `exit N` line", name)
			}
			dir := testrepo.New(t, true)
			expect := map[string]*txtar.File{}
			for i := range ar.Files {
				f := &ar.Files[i]
				if f.Name == "stdout" || f.Name == "stderr" {
					expect[f.Name] = f
					continue
				}
				testrepo.WriteFiles(t, dir, map[string][]byte{f.Name: f.Data})
			}
			var out, errOut bytes.Buffer
			code := Main(append([]string{"-C", dir}, args...), strings.NewReader(""), &out, &errOut)
			got := map[string]string{
				"stdout": strings.ReplaceAll(out.String(), dir, "$REPO"),
				"stderr": strings.ReplaceAll(errOut.String(), dir, "$REPO"),
			}
			if code != want {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, got["stdout"], got["stderr"])
			}
			expectStreams(t, name, ar, expect, got, update)
		})
	}
}

// expectStreams compares a script's stdout and stderr with the archive's,
// or, with update, rewrites the archive with them.
func expectStreams(t *testing.T, name string, ar *txtar.Archive, expect map[string]*txtar.File, got map[string]string, update bool) {
	t.Helper()
	if update {
		for _, stream := range []string{"stdout", "stderr"} {
			if f, ok := expect[stream]; ok {
				f.Data = []byte(got[stream])
			} else if got[stream] != "" {
				ar.Files = append(ar.Files, txtar.File{Name: stream, Data: []byte(got[stream])})
			}
		}
		if err := os.WriteFile(name, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, stream := range []string{"stdout", "stderr"} {
		w := ""
		if f, ok := expect[stream]; ok {
			w = string(f.Data)
		}
		if got[stream] != w {
			t.Errorf("%s differs (CAPIFORM_UPDATE_SCRIPTS=1 rewrites it):\n--- want\n%s\n--- got\n%s", stream, w, got[stream])
		}
	}
}
