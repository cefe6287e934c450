package source

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

const marker = "MARKER-outside-the-repository"

// linkedRepos makes the same repository twice, as a work tree on disk and
// as a git revision, each with links and submodules where a pull request
// could put them: a site folder that links out, a definition that links
// out, a chain of links, a link that stays inside, a submodule.
func linkedRepos(t *testing.T) map[string]fs.FS {
	t.Helper()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "site.yaml"), []byte(marker), 0o644)
	os.WriteFile(filepath.Join(outside, "secret"), []byte(marker), 0o644)

	wt := t.TempDir()
	testrepo.WriteFiles(t, wt, map[string][]byte{
		"clusters/t/site.yaml": []byte("site: t\n"),
		"clusters/sub/.keep":   nil, // replaced below by an empty folder
	})
	os.Remove(filepath.Join(wt, "clusters/sub/.keep"))
	for link, target := range map[string]string{
		"clusters/s":          outside,
		"clusters/t/c.yaml":   filepath.Join(outside, "secret"),
		"clusters/t/chain1":   "chain2",
		"clusters/t/chain2":   filepath.Join(outside, "secret"),
		"clusters/t/in.yaml":  "site.yaml",
		"clusters/t/up.yaml":  "../../../" + filepath.Base(outside) + "/secret",
		"clusters/t/dir/link": "..",
	} {
		p := filepath.Join(wt, filepath.FromSlash(link))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Skip("no symbolic links here:", err)
		}
	}
	// A submodule that is not checked out: an empty folder that git's index
	// records as a submodule.
	repo, err := git.PlainInit(wt, false)
	if err != nil {
		t.Fatal(err)
	}
	idx := &index.Index{Version: 2, Entries: []*index.Entry{{Name: "clusters/sub", Mode: filemode.Submodule, Hash: plumbing.NewHash(strings.Repeat("ab", 20))}}}
	if err := repo.Storer.SetIndex(idx); err != nil {
		t.Fatal(err)
	}
	// A repository of its own inside: a checked-out submodule.
	testrepo.WriteFiles(t, wt, map[string][]byte{"clusters/nested/.git": []byte("gitdir: elsewhere\n"), "clusters/nested/site.yaml": []byte("site: n\n")})

	revDir := t.TempDir()
	testrepo.Commit(t, revDir, map[string]testrepo.Entry{
		"clusters/t/site.yaml":   {Mode: filemode.Regular, Data: "site: t\n"},
		"clusters/s":             {Mode: filemode.Symlink, Data: outside},
		"clusters/t/c.yaml":      {Mode: filemode.Symlink, Data: filepath.Join(outside, "secret")},
		"clusters/t/chain1":      {Mode: filemode.Symlink, Data: "chain2"},
		"clusters/t/chain2":      {Mode: filemode.Symlink, Data: filepath.Join(outside, "secret")},
		"clusters/t/in.yaml":     {Mode: filemode.Symlink, Data: "site.yaml"},
		"clusters/t/up.yaml":     {Mode: filemode.Symlink, Data: "../../../x/secret"},
		"clusters/t/dir/link":    {Mode: filemode.Symlink, Data: ".."},
		"clusters/sub":           {Mode: filemode.Submodule, Data: strings.Repeat("ab", 20)},
		"clusters/nested":        {Mode: filemode.Submodule, Data: strings.Repeat("cd", 20)},
		"clusters/t/placeholder": {Mode: filemode.Regular, Data: ""},
	})
	rev, _, err := Revision(revDir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]fs.FS{"work tree": Worktree(wt), "revision": rev}
}

// TestLinksAndSubmodulesAreRefused: in the work tree and in a revision
// alike, no read follows a link or enters a submodule, whatever the link
// points to; the error names the link or submodule, and listings show them
// for what they are.
func TestLinksAndSubmodulesAreRefused(t *testing.T) {
	for fsName, fsys := range linkedRepos(t) {
		for _, c := range []struct {
			name    string
			path    string
			at      string // the path the error names
			want    error
			readDir bool
		}{
			{"a site folder that links out", "clusters/s/site.yaml", "clusters/s", ErrSymlink, false},
			{"listing a site folder that links out", "clusters/s", "clusters/s", ErrSymlink, true},
			{"a definition that links out", "clusters/t/c.yaml", "clusters/t/c.yaml", ErrSymlink, false},
			{"a chain of links", "clusters/t/chain1", "clusters/t/chain1", ErrSymlink, false},
			{"a link that stays inside", "clusters/t/in.yaml", "clusters/t/in.yaml", ErrSymlink, false},
			{"a link up and out", "clusters/t/up.yaml", "clusters/t/up.yaml", ErrSymlink, false},
			{"a path through a link to a parent", "clusters/t/dir/link/site.yaml", "clusters/t/dir/link", ErrSymlink, false},
			{"a submodule", "clusters/sub", "clusters/sub", ErrSubmodule, true},
			{"a file in a submodule", "clusters/nested/site.yaml", "clusters/nested", ErrSubmodule, false},
			{"a path with ..", "clusters/t/../s/secret", "clusters/t/../s/secret", fs.ErrInvalid, false},
		} {
			t.Run(fsName+"/"+c.name, func(t *testing.T) {
				var (
					data []byte
					err  error
				)
				if c.readDir {
					_, err = fs.ReadDir(fsys, c.path)
				} else {
					data, err = fs.ReadFile(fsys, c.path)
				}
				if !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) || pe.Path != c.at {
					t.Errorf("err = %v, want it to name %s", err, c.at)
				}
				if strings.Contains(string(data)+err.Error(), marker) {
					t.Errorf("read outside the repository: %q, %v", data, err)
				}
				if _, err := fs.Stat(fsys, c.path); !errors.Is(err, c.want) {
					t.Errorf("stat: %v", err)
				}
			})
		}
		t.Run(fsName+"/listings", func(t *testing.T) {
			entries, err := fs.ReadDir(fsys, "clusters")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, e := range entries {
				switch err := Refused("clusters/"+e.Name(), e); {
				case errors.Is(err, ErrSymlink):
					got[e.Name()] = "link"
				case errors.Is(err, ErrSubmodule):
					got[e.Name()] = "submodule"
				case e.IsDir():
					got[e.Name()] = "folder"
				}
			}
			want := map[string]string{"s": "link", "sub": "submodule", "nested": "submodule", "t": "folder"}
			for n, w := range want {
				if got[n] != w {
					t.Errorf("%s is a %q, want %q (all: %v)", n, got[n], w, got)
				}
			}
			if b, err := fs.ReadFile(fsys, "clusters/t/site.yaml"); err != nil || string(b) != "site: t\n" {
				t.Errorf("a plain file = %q, %v", b, err)
			}
		})
		t.Run(fsName+"/digest", func(t *testing.T) {
			// The digest sums links by their targets' names and never
			// reads what they point to.
			if _, err := Digest(fsys, "clusters/t"); err != nil {
				t.Errorf("digest of a folder with links: %v", err)
			}
			if _, err := Digest(fsys, "clusters/s"); err == nil {
				t.Error("a site folder that links out has a digest")
			}
		})
	}
}
