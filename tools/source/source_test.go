package source

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// TestRevisionReadsTheObjectStore: a revision reads as an fs.FS the same
// as the work tree did when it was committed, whatever the work tree holds
// now.
func TestRevisionReadsTheObjectStore(t *testing.T) {
	dir, write := gitRepo(t, map[string]string{
		"clusters/s1/site.yaml": "site: 1\n",
		"clusters/s1/b.yaml":    "b: 1\n",
		"charts/c/Chart.yaml":   "version: 0.1.0\n",
	})
	// The work tree moves on; the revision does not.
	write("clusters/s1/b.yaml", "b: 2\n")
	write("clusters/s1/new.yaml", "new: 1\n")

	fsys, hash, err := Revision(dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if hash.IsZero() {
		t.Error("no commit hash")
	}
	if err := fstest.TestFS(fsys, "clusters/s1/site.yaml", "clusters/s1/b.yaml", "charts/c/Chart.yaml"); err != nil {
		t.Fatal(err)
	}
	if b, _ := fs.ReadFile(fsys, "clusters/s1/b.yaml"); string(b) != "b: 1\n" {
		t.Errorf("b.yaml at HEAD = %q", b)
	}
	if _, err := fs.Stat(fsys, "clusters/s1/new.yaml"); err == nil {
		t.Error("an uncommitted file is in the revision")
	}
	if b, _ := fs.ReadFile(Worktree(dir), "clusters/s1/b.yaml"); string(b) != "b: 2\n" {
		t.Errorf("b.yaml in the work tree = %q", b)
	}
	entries, _ := fs.ReadDir(fsys, "clusters/s1")
	if len(entries) != 2 || entries[0].Name() != "b.yaml" || entries[1].Name() != "site.yaml" {
		t.Errorf("entries = %v", entries)
	}

	_, _, err = Revision(dir, "no-such-branch")
	if err == nil || !strings.Contains(err.Error(), `"no-such-branch"`) || strings.Contains(err.Error(), "shallow") {
		t.Errorf("unknown revision: %v", err)
	}
	if _, _, err := Revision(t.TempDir(), "HEAD"); err == nil {
		t.Error("a folder that is no repository gives no error")
	}
}

// TestRevisionConcurrentReads: a revision is read from many goroutines at
// once, as the loader does (go-git's trees are not safe for that by
// themselves; run with -race to see).
func TestRevisionConcurrentReads(t *testing.T) {
	files := map[string]string{}
	for s := range 8 {
		for c := range 20 {
			files[fmt.Sprintf("clusters/s%d/c%02d.yaml", s, c)] = fmt.Sprintf("site: %d\ncluster: %d\n", s, c)
		}
	}
	dir, _ := gitRepo(t, files)
	for range 5 {
		fsys, _, err := Revision(dir, "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for s := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				site := fmt.Sprintf("clusters/s%d", s)
				entries, err := fs.ReadDir(fsys, site)
				if err != nil || len(entries) != 20 {
					errs <- fmt.Errorf("%s: %d entries, %v", site, len(entries), err)
					return
				}
				for c, e := range entries {
					b, err := fs.ReadFile(fsys, site+"/"+e.Name())
					if want := fmt.Sprintf("site: %d\ncluster: %d\n", s, c); err != nil || string(b) != want {
						errs <- fmt.Errorf("%s/%s = %q, %v", site, e.Name(), b, err)
						return
					}
				}
				if _, err := Digest(fsys, site); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// gitRepo makes a git repository with files committed, and returns it and a
// function that writes a file into its work tree.
func gitRepo(t *testing.T, files map[string]string) (string, func(name, content string)) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		write(name, content)
	}
	wt, _ := repo.Worktree()
	wt.AddGlob(".")
	sig := &object.Signature{Name: "t", Email: "t@example.org", When: time.Unix(0, 0)}
	if _, err := wt.Commit("files", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	return dir, write
}
