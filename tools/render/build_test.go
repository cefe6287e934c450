package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/kustomize"
)

// TestBuildRunsNothing: a generated tree whose kustomization refers to a
// remote base is refused by render --check's build with the file:line of
// the kustomization, and git (with the command it would run) never runs.
func TestBuildRunsNothing(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	pwned := filepath.Join(outside, "pwned")
	files := Files{
		"kustomization.yaml":        []byte("resources:\n  - addons\n"),
		"addons/kustomization.yaml": []byte("resources:\n  - file://" + filepath.ToSlash(outside) + "/x?ref=--upload-pack=touch " + pwned + "\n"),
	}
	_, err := BuildAll("lon", files)
	if _, statErr := os.Stat(pwned); statErr == nil {
		t.Fatal("the build ran the command")
	}
	var l diag.List
	if !errors.As(err, &l) {
		t.Fatalf("error %v is not a diag.List", err)
	}
	if len(l) != 1 || l[0].Rule != kustomize.RuleRemote || l[0].Pos.String() != "clusters/lon/generated/addons/kustomization.yaml:2:5" {
		t.Errorf("got %v, want [%s] at clusters/lon/generated/addons/kustomization.yaml:2:5", l, kustomize.RuleRemote)
	}
	if !strings.HasPrefix(err.Error(), "kustomize build clusters/lon/generated: ") {
		t.Errorf("error %q does not name the folder built", err)
	}
}
