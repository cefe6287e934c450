package source

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDigest: the work tree and a revision with the same files have the
// same digest; any change of a file's content, name or presence changes
// it; skipped folders and missing folders behave.
func TestDigest(t *testing.T) {
	dir, write := gitRepo(t, map[string]string{
		"clusters/s1/site.yaml":        "site: 1\n",
		"clusters/s1/a.yaml":           "a: 1\n",
		"clusters/s1/generated/x.yaml": "x: 1\n",
		"clusters/s1/sub/deep.yaml":    "deep: 1\n",
		"clusters/s2/site.yaml":        "site: 2\n",
	})
	rev, _, err := Revision(dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	digest := func(fsys any, d string, skip ...string) string {
		t.Helper()
		var s string
		var err error
		switch f := fsys.(type) {
		case *treeFS:
			s, err = Digest(f, d, skip...)
		default:
			s, err = Digest(Worktree(dir), d, skip...)
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	wtFS := "worktree"
	s1 := digest(rev, "clusters/s1", "generated")
	if s1 == "" || s1 != digest(wtFS, "clusters/s1", "generated") {
		t.Fatalf("revision and work tree differ: %q", s1)
	}
	if s1 == digest(rev, "clusters/s2", "generated") {
		t.Error("two different folders have one digest")
	}
	if s1 == digest(rev, "clusters/s1") {
		t.Error("skipping generated/ changes nothing")
	}
	if got := digest(rev, "clusters/none"); got != "" {
		t.Errorf("missing folder in a revision: %q", got)
	}
	if got := digest(wtFS, "clusters/none"); got != "" {
		t.Errorf("missing folder in the work tree: %q", got)
	}
	for _, c := range []struct {
		name    string
		change  func()
		changed bool
	}{
		{"a skipped file", func() { write("clusters/s1/generated/x.yaml", "x: 2\n") }, false},
		{"a file's content", func() { write("clusters/s1/sub/deep.yaml", "deep: 2\n") }, true},
		{"a file's name", func() { os.Rename(filepath.Join(dir, "clusters/s1/a.yaml"), filepath.Join(dir, "clusters/s1/b.yaml")) }, true},
		{"a new empty file", func() { write("clusters/s1/c.yaml", "") }, true},
	} {
		before := digest(wtFS, "clusters/s1", "generated")
		c.change()
		if after := digest(wtFS, "clusters/s1", "generated"); (before != after) != c.changed {
			t.Errorf("%s: digest changed = %v, want %v", c.name, before != after, c.changed)
		}
	}
	if digest(wtFS, "clusters/s1", "generated") == s1 {
		t.Error("the work tree's changes do not show")
	}
}

// TestDigestOfOddFiles: links, dangling links and links to folders are
// summed by their targets, never read as folders nor taken for a missing
// folder.
func TestDigestOfOddFiles(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "clusters", "s")
	os.MkdirAll(filepath.Join(site, "sub"), 0o755)
	os.WriteFile(filepath.Join(site, "a.yaml"), []byte("a: 1\n"), 0o644)
	fsys := Worktree(dir)
	sum := func() string {
		t.Helper()
		s, err := Digest(fsys, "clusters/s")
		if err != nil {
			t.Fatal(err)
		}
		if s == "" {
			t.Fatal("an existing folder has the digest of a missing one")
		}
		return s
	}
	before := sum()
	if err := os.Symlink("user@host.1234:1", filepath.Join(site, ".#notes.md")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	dangling := sum()
	if dangling == before {
		t.Error("a dangling link changes nothing")
	}
	os.Symlink("sub", filepath.Join(site, "dirlink"))
	withDir := sum()
	if withDir == dangling {
		t.Error("a link to a folder changes nothing")
	}
	os.Symlink("a.yaml", filepath.Join(site, "b.yaml"))
	withFile := sum()
	os.WriteFile(filepath.Join(site, "a.yaml"), []byte("a: 2\n"), 0o644)
	if sum() == withFile {
		t.Error("the content behind a link is not summed")
	}
}
