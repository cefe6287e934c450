// Package testrepo builds throw-away copies of this repository for tests:
// the chart, the platforms and policies as they are, with clusters/ of the
// test's choosing.
package testrepo

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the repository's root folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Shared are the folders of the repository that a test repository copies.
var Shared = []string{"charts", "platforms", "policies"}

// New copies the shared folders and, when withFleet is set, the example
// fleet under clusters/ into a temporary folder and returns it.
func New(tb testing.TB, withFleet bool) string {
	tb.Helper()
	dir := tb.TempDir()
	dirs := Shared
	if withFleet {
		dirs = append(append([]string{}, Shared...), "clusters")
	}
	for _, d := range dirs {
		if err := CopyDir(filepath.Join(Root(), d), filepath.Join(dir, d)); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// CopyDir copies a folder tree; a missing source is not an error.
func CopyDir(src, dst string) error {
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// WriteFiles writes repository-relative files under dir.
func WriteFiles(tb testing.TB, dir string, files map[string][]byte) {
	tb.Helper()
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}
