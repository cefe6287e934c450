package load

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/source"
)

const outsideMarker = "MARKER-read-from-outside"

// TestLoadRefusesLinksAndSubmodules: a site folder, a definition, a site
// policy or a generated tree that is a link, and a site that is a
// submodule, are each an error naming the path, in the work tree and in a
// git revision alike; none is passed over and none is followed (what they
// point to, outside the repository, never shows).
func TestLoadRefusesLinksAndSubmodules(t *testing.T) {
	outside := t.TempDir()
	// What the links point to: definitions that would fail loudly if they
	// were read, so that a silent skip and a read both show.
	bad := "apiVersion: capiform.dev/v1alpha1\nkind: Site\nmetadata: {name: " + outsideMarker + "}\n"
	os.WriteFile(filepath.Join(outside, "site.yaml"), []byte(bad), 0o644)
	os.WriteFile(filepath.Join(outside, "c.yaml"), []byte(bad), 0o644)
	sub := strings.Repeat("ab", 20)

	for _, c := range []struct {
		name  string
		links map[string]string // path -> target; "" for a submodule
		want  []string          // "file [rule]"
	}{
		{"a site folder that links out", map[string]string{"clusters/evil": outside},
			[]string{"clusters/evil [load.symlink]"}},
		{"a site folder that links to another site", map[string]string{"clusters/twin": "s1"},
			[]string{"clusters/twin [load.symlink]"}},
		{"a definition that links out", map[string]string{"clusters/s1/c.yaml": filepath.Join(outside, "c.yaml")},
			[]string{"clusters/s1/c.yaml [load.symlink]"}},
		{"a site.yaml that links out", map[string]string{"clusters/s2/site.yaml": filepath.Join(outside, "site.yaml"), "clusters/s2/x.yaml": "!" + mgmtYAML},
			[]string{"clusters/s2/site.yaml [load.symlink]"}},
		{"a site policy that links", map[string]string{"clusters/s1/policy.cue": filepath.Join(outside, "c.yaml")},
			[]string{"clusters/s1/policy.cue [load.symlink]"}},
		{"a generated tree that links", map[string]string{"clusters/s1/generated": outside},
			[]string{"clusters/s1/generated [load.symlink]"}},
		{"a site that is a submodule", map[string]string{"clusters/mod": ""},
			[]string{"clusters/mod [load.submodule]"}},
		{"a submodule in a site", map[string]string{"clusters/s1/vendor": ""},
			[]string{"clusters/s1/vendor [load.submodule]"}},
		{"a link that is never read", map[string]string{"clusters/s1/.#notes.md": "user@host.1:1"}, nil},
	} {
		// The same repository as a work tree and as a revision.
		wt := t.TempDir()
		files := map[string][]byte{"clusters/s1/site.yaml": []byte(siteYAML), "clusters/s1/mgmt.yaml": []byte(mgmtYAML)}
		entries := map[string]testrepo.Entry{}
		for p, d := range files {
			entries[p] = testrepo.Entry{Mode: filemode.Regular, Data: string(d)}
		}
		var gitlinks []string
		for p, target := range c.links {
			switch {
			case target == "":
				gitlinks = append(gitlinks, p)
				entries[p] = testrepo.Entry{Mode: filemode.Submodule, Data: sub}
			case strings.HasPrefix(target, "!"): // a plain file
				files[p] = []byte(target[1:])
				entries[p] = testrepo.Entry{Mode: filemode.Regular, Data: target[1:]}
			default:
				entries[p] = testrepo.Entry{Mode: filemode.Symlink, Data: target}
			}
		}
		testrepo.WriteFiles(t, wt, files)
		for p, target := range c.links {
			full := filepath.Join(wt, filepath.FromSlash(p))
			switch {
			case target == "":
				// A checked-out submodule: a repository of its own.
				testrepo.WriteFiles(t, full, map[string][]byte{".git": []byte("gitdir: elsewhere\n"), "site.yaml": []byte(bad)})
			case !strings.HasPrefix(target, "!"):
				if err := os.Symlink(target, full); err != nil {
					t.Skip("no symbolic links here:", err)
				}
			}
		}
		revDir := t.TempDir()
		testrepo.Commit(t, revDir, entries)
		rev, _, err := source.Revision(revDir, "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		for fsName, fsys := range map[string]fs.FS{"work tree": source.Worktree(wt), "revision": rev} {
			t.Run(c.name+"/"+fsName, func(t *testing.T) {
				fleet, err := Load(fsys)
				var got []string
				var l diag.List
				if err != nil && !errors.As(err, &l) {
					t.Fatalf("not a list of problems: %v", err)
				}
				for _, d := range l {
					got = append(got, d.File+" ["+d.Rule+"]")
					if !strings.Contains(d.Message, "capiform") {
						t.Errorf("message says not what to do: %s", d)
					}
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("problems = %q, want %q (%v)", got, c.want, err)
				}
				if err != nil && strings.Contains(err.Error(), outsideMarker) {
					t.Errorf("read outside the repository: %v", err)
				}
				if fleet != nil && fleet.Site("s1") == nil && c.want == nil {
					t.Error("site s1 was not loaded")
				}
			})
		}
	}
}
