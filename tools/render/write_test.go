package render

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteLeavesSameTreesAlone: Write leaves a site's tree that is exactly
// what it would write untouched, and replaces any other: a changed, missing
// or extra file, an empty folder.
func TestWriteLeavesSameTreesAlone(t *testing.T) {
	root := t.TempDir()
	sites := map[string]Files{
		"s": {"a.yaml": []byte(Header + "a: 1\n"), "b/c.yaml": []byte(Header + "c: 1\n")},
		"t": {"x.yaml": []byte(Header + "x: 1\n")},
	}
	for site := range sites {
		os.MkdirAll(filepath.Join(root, "clusters", site), 0o755)
	}
	if err := Write(root, sites); err != nil {
		t.Fatal(err)
	}
	gen := func(site, p string) string {
		return filepath.Join(root, filepath.FromSlash(Dir(site)), filepath.FromSlash(p))
	}
	old := time.Unix(1, 0)
	mark := func() {
		for site, files := range sites {
			for p := range files {
				os.Chtimes(gen(site, p), old, old)
			}
		}
	}
	untouched := func(site string) bool {
		for p := range sites[site] {
			st, err := os.Stat(gen(site, p))
			if err != nil || !st.ModTime().Equal(old) {
				return false
			}
		}
		return true
	}
	mark()
	if err := Write(root, sites); err != nil {
		t.Fatal(err)
	}
	if !untouched("s") || !untouched("t") {
		t.Fatal("a tree that was already right was written again")
	}
	for _, c := range []struct {
		name   string
		spoil  func()
		absent string // left behind unless the tree is rewritten
	}{
		{"a changed file", func() { os.WriteFile(gen("s", "a.yaml"), []byte(Header+"changed\n"), 0o644) }, ""},
		{"a missing file", func() { os.Remove(gen("s", "b/c.yaml")) }, ""},
		{"an extra file", func() { os.WriteFile(gen("s", "zz.yaml"), []byte(Header), 0o644) }, "zz.yaml"},
		{"an extra file after every expected one", func() { os.WriteFile(gen("s", "b/zz.yaml"), []byte(Header), 0o644) }, "b/zz.yaml"},
		{"an empty folder", func() { os.MkdirAll(gen("s", "empty/deeper"), 0o755) }, "empty"},
	} {
		mark()
		c.spoil()
		if err := Write(root, sites); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if untouched("s") {
			t.Errorf("%s: the tree was not rewritten", c.name)
		}
		if !untouched("t") {
			t.Errorf("%s: the other site's tree was rewritten", c.name)
		}
		if c.absent != "" {
			if _, err := os.Lstat(gen("s", c.absent)); err == nil {
				t.Errorf("%s: %s is still there", c.name, c.absent)
			}
		}
		for p, want := range sites["s"] {
			if got, err := os.ReadFile(gen("s", p)); err != nil || string(got) != string(want) {
				t.Errorf("%s: %s = %q, %v", c.name, p, got, err)
			}
		}
	}
}
