//go:build unix

package source

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDigestDoesNotReadPipes: a named pipe in a folder is summed by its
// type; reading it would wait for a writer for ever.
func TestDigestDoesNotReadPipes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "s"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(dir, "s", "pipe"), 0o644); err != nil {
		t.Skip("no named pipes here:", err)
	}
	if s, err := Digest(Worktree(dir), "s"); err != nil || s == "" {
		t.Fatalf("digest %q, %v", s, err)
	}
}
