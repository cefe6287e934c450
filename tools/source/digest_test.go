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
