package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// gitRepo makes a real git repository of the example fleet with one commit.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := testrepo.New(t, true)
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "test", Email: "test@example.org", When: time.Unix(0, 0)}
	if _, err := wt.Commit("fleet", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDiffCommand(t *testing.T) {
	dir := gitRepo(t)
	if code, out, errOut := run(t, "-C", dir, "diff", "--base", "HEAD"); code != 0 || !strings.Contains(out, "no change") {
		t.Fatalf("diff of a clean work tree: exit %d\n%s\n%s", code, out, errOut)
	}
	def := filepath.Join(dir, "clusters/lon/research.yaml")
	data, _ := os.ReadFile(def)
	os.WriteFile(def, []byte(strings.Replace(string(data), "flavor: m1.xlarge\n      replicas: 4", "flavor: m1.large\n      replicas: 4", 1)), 0o644)

	code, out, errOut := run(t, "-C", dir, "diff", "--base", "HEAD")
	if code != 1 {
		t.Fatalf("diff with a change: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"research-general", "m1.xlarge", "m1.large"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "research-highmem") && strings.Contains(out, "research-highmem rolls") {
		t.Errorf("an untouched group is said to roll:\n%s", out)
	}
	// -v says what was done: only lon was rendered, only research expanded.
	code, _, errOut = run(t, "-C", dir, "diff", "--base", "HEAD", "-v", "-o", "json")
	if want := "diff: rendered 1 of 2 site(s); expanded 1 of their 3 cluster(s) (2 chart render(s))\n"; code != 1 || errOut != want {
		t.Errorf("diff -v: exit %d, stderr %q, want %q", code, errOut, want)
	}
	code, out, _ = run(t, "-C", dir, "diff", "--base", "HEAD", "-o", "markdown")
	if code != 1 || !strings.Contains(out, "<details>") || len(out) > 65536 {
		t.Errorf("markdown: exit %d, %d characters\n%s", code, len(out), out)
	}
	code, out, _ = run(t, "-C", dir, "diff", "--base", "HEAD", "-o", "json")
	if code != 1 || !strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Errorf("json: exit %d\n%s", code, out)
	}
	if code, _, errOut := run(t, "-C", dir, "diff", "--base", "no-such-rev"); code != 2 || !strings.Contains(errOut, "no-such-rev") {
		t.Errorf("unknown base: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, "-C", dir, "diff", "--base", "HEAD", "-o", "yaml"); code != 2 || !strings.Contains(errOut, `unknown output format "yaml"`) {
		t.Errorf("unknown format: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, "-C", dir, "diff"); code != 2 || !strings.Contains(errOut, "--base") {
		t.Errorf("no base: exit %d\n%s", code, errOut)
	}
}
