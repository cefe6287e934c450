package repocheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testrepo.Root(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFlakeParses: flake.nix is valid Nix, pins nixpkgs by revision and
// has the dev shell's tools. It needs nix-instantiate (Debian's nix-bin;
// .ci/run installs it).
func TestFlakeParses(t *testing.T) {
	flake := read(t, "flake.nix")
	if !regexp.MustCompile(`github:NixOS/nixpkgs/[0-9a-f]{40}"`).MatchString(flake) {
		t.Error("nixpkgs is not pinned by a 40-character revision")
	}
	for _, tool := range []string{"go", "kubectl", "kubernetes-helm", "kind", "clusterctl", "fluxcd", "cue"} {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(tool) + `$`).MatchString(flake) {
			t.Errorf("the dev shell lacks %s", tool)
		}
	}
	bin, err := exec.LookPath("nix-instantiate")
	if err != nil {
		t.Skip("nix-instantiate is not installed (apt-get install nix-bin): only the text was checked")
	}
	out, err := exec.Command(bin, "--parse", filepath.Join(testrepo.Root(), "flake.nix")).CombinedOutput()
	if err != nil {
		t.Fatalf("nix-instantiate --parse flake.nix: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "devShells") {
		t.Errorf("parsed flake has no devShells:\n%s", out)
	}
}

// TestReadmeCommands: the two commands a new user runs are near the top of
// the README, the Makefile has them, and CI runs the test one.
func TestReadmeCommands(t *testing.T) {
	readme := read(t, "README.md")
	top := readme
	if len(top) > 2500 {
		top = top[:2500]
	}
	for _, c := range []string{"make demo", "make test"} {
		if !strings.Contains(top, c) {
			t.Errorf("%q is not near the top of README.md", c)
		}
	}
	mk := read(t, "Makefile")
	for _, target := range []string{"demo:", "test:", "build:", "render:", "lint:", "bench:"} {
		if !strings.Contains(mk, "\n"+target) {
			t.Errorf("Makefile has no %s target", target)
		}
	}
	if ci := read(t, ".ci/run"); !strings.Contains(ci, "make test") {
		t.Error(".ci/run does not run make test")
	}
}
