package diff

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// TestDiffReportsLinksAndSubmodules: a head revision that adds a site
// folder that is a link or a submodule, or a definition that links out of
// the repository, does not render, and the diff says so with the path; it
// is never taken for "no change", and nothing behind the link is read.
func TestDiffReportsLinksAndSubmodules(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("MARKER-outside\n"), 0o644)
	base := map[string]testrepo.Entry{}
	for src, dst := range map[string]string{chartSrc: "charts/openstack-cluster", fleetSrc: "."} {
		filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			b, _ := os.ReadFile(p)
			base[filepath.ToSlash(filepath.Join(dst, rel))] = testrepo.Entry{Mode: filemode.Regular, Data: string(b)}
			return nil
		})
	}
	var site string
	for p := range base {
		if strings.HasPrefix(p, "clusters/") && strings.HasSuffix(p, "/site.yaml") {
			site = strings.Split(p, "/")[1]
		}
	}
	for _, c := range []struct {
		name  string
		path  string
		entry testrepo.Entry
	}{
		{"a site folder that links out", "clusters/evil", testrepo.Entry{Mode: filemode.Symlink, Data: outside}},
		{"a site folder that is a submodule", "clusters/mod", testrepo.Entry{Mode: filemode.Submodule, Data: strings.Repeat("ab", 20)}},
		{"a definition that links out", "clusters/" + site + "/extra.yaml", testrepo.Entry{Mode: filemode.Symlink, Data: filepath.Join(outside, "secret")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			testrepo.Commit(t, dir, base)
			head := map[string]testrepo.Entry{c.path: c.entry}
			for p, e := range base {
				head[p] = e
			}
			testrepo.Commit(t, dir, head)
			rep, err := Run(context.Background(), Options{Repo: dir, Base: "HEAD~1", Head: "HEAD"})
			if !errors.Is(err, ErrIncomplete) || rep == nil {
				t.Fatalf("err = %v, want the head reported as not rendering", err)
			}
			text := strings.Join(rep.Errors, "\n")
			if !strings.Contains(text, c.path+": is a ") {
				t.Errorf("errors do not name %s: %s", c.path, text)
			}
			if strings.Contains(text, "MARKER") {
				t.Errorf("read outside the repository: %s", text)
			}
		})
	}
}
