package platform

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/capiform/capiform/tools/internal/testrepo"
	reposource "github.com/capiform/capiform/tools/source"
)

// TestCatalogueRefusesLinksAndSubmodules: a platform folder, a
// platform.yaml or a manifests folder that is a link, and a platform that
// is a submodule, are each an error naming the path, in the work tree and
// in a revision alike; nothing is followed or passed over.
func TestCatalogueRefusesLinksAndSubmodules(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "platform.yaml"), []byte("MARKER-outside: 1\n"), 0o644)
	for _, c := range []struct {
		name  string
		links map[string]string // path -> target; "" for a submodule
		want  []string
	}{
		{"a platform folder that links out", map[string]string{"platforms/evil": outside}, []string{"platforms/evil [load.symlink]"}},
		{"a platform.yaml that links out", map[string]string{"platforms/extra/platform.yaml": filepath.Join(outside, "platform.yaml")}, []string{"platforms/extra/platform.yaml [load.symlink]"}},
		{"a folder of a platform that links", map[string]string{"platforms/base/files": outside}, []string{"platforms/base/files [load.symlink]"}},
		{"a platform that is a submodule", map[string]string{"platforms/mod": ""}, []string{"platforms/mod [load.submodule]"}},
	} {
		files := fixture("1.0.0", "", nil)
		wt := t.TempDir()
		entries := map[string]testrepo.Entry{}
		for p, f := range files {
			if _, linked := c.links[p]; linked {
				continue
			}
			testrepo.WriteFiles(t, wt, map[string][]byte{p: f.Data})
			entries[p] = testrepo.Entry{Mode: filemode.Regular, Data: string(f.Data)}
		}
		for p, target := range c.links {
			full := filepath.Join(wt, filepath.FromSlash(p))
			if target == "" {
				testrepo.WriteFiles(t, full, map[string][]byte{".git": []byte("gitdir: x\n"), "platform.yaml": []byte("x")})
				entries[p] = testrepo.Entry{Mode: filemode.Submodule, Data: strings.Repeat("ab", 20)}
				continue
			}
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.Symlink(target, full); err != nil {
				t.Skip("no symbolic links here:", err)
			}
			entries[p] = testrepo.Entry{Mode: filemode.Symlink, Data: target}
		}
		revDir := t.TempDir()
		testrepo.Commit(t, revDir, entries)
		rev, _, err := reposource.Revision(revDir, "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		for fsName, fsys := range map[string]fs.FS{"work tree": reposource.Worktree(wt), "revision": rev} {
			t.Run(c.name+"/"+fsName, func(t *testing.T) {
				_, err := LoadCatalogue(fsys)
				var got []string
				for _, d := range diagnostics(t, err) {
					got = append(got, d.File+" ["+d.Rule+"]")
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("problems = %q, want %q", got, c.want)
				}
				if strings.Contains(err.Error(), "MARKER") {
					t.Errorf("read outside the repository: %v", err)
				}
			})
		}
	}
}
