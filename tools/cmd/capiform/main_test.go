package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfile: CAPIFORM_CPUPROFILE writes a profile of the run; a path
// that cannot be written is an error (exit 2) before anything runs.
func TestCPUProfile(t *testing.T) {
	var out, errOut bytes.Buffer
	p := filepath.Join(t.TempDir(), "cpu.out")
	if code := run([]string{"--help"}, p, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	if st, err := os.Stat(p); err != nil || st.Size() == 0 {
		t.Errorf("no profile written: %v", err)
	}
	errOut.Reset()
	bad := filepath.Join(t.TempDir(), "missing", "cpu.out")
	if code := run([]string{"--help"}, bad, strings.NewReader(""), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "CAPIFORM_CPUPROFILE") {
		t.Errorf("unwritable profile: exit %d\n%s", code, errOut.String())
	}
}
