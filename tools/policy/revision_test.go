package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/source"
)

// TestBaseFromGitRevision runs the change rules with the base read from a
// real git repository's object store, as validate --base does: the chart
// changes without a version bump in the work tree.
func TestBaseFromGitRevision(t *testing.T) {
	dir := t.TempDir()
	fleet := filepath.Join(corpusDir, "fleet")
	if err := os.CopyFS(dir, os.DirFS(fleet)); err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "test", Email: "test@example.org", When: time.Unix(0, 0)}
	if _, err := wt.Commit("base", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "charts/demo/templates/cm.yaml"), []byte("changed: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _, err := source.Revision(dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	head := source.Worktree(dir)
	f, err := load.Load(head)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Validate(t.Context(), f, DefaultOptions(head, base))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Rule != "policy.chart-version" || got[0].File != "charts/demo/Chart.yaml" || got[0].Line != 3 {
		t.Errorf("want one policy.chart-version at charts/demo/Chart.yaml:3, got:\n%s", Format(got, FormatText))
	}
}

// TestSitePolicyThatIsALink: a site policy that is a link is not taken for
// no policy (the site judged by the base alone without a word): it is an
// error naming it, and what it points to is not read.
func TestSitePolicyThatIsALink(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(corpusDir, "fleet"))); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "policy.cue")
	os.WriteFile(outside, []byte("package capiform\nMARKER: 1\n"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "clusters/dev/policy.cue")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	head := source.Worktree(dir)
	f, _ := load.Load(head) // the loader reports the link too
	got, err := Validate(t.Context(), f, DefaultOptions(head, nil))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range got {
		found = found || (d.File == "clusters/dev/policy.cue" && d.Rule == "load.symlink")
		if strings.Contains(d.Message, "MARKER") {
			t.Errorf("read outside the repository: %s", d)
		}
	}
	if !found {
		t.Errorf("want load.symlink at clusters/dev/policy.cue, got:\n%s", Format(got, FormatText))
	}
}
