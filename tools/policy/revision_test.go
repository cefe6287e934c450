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

// TestDeletionTakesTwoChanges runs the deletion rule on revisions of a real
// git repository, as validate --base does in CI: deleting a protected
// cluster fails, so does marking it deletable and deleting it in one change
// (the base decides), and deleting it after a merged change that marked it
// deletable passes.
func TestDeletionTakesTwoChanges(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(corpusDir, "fleet"))); err != nil {
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
	commit := func(msg string) {
		t.Helper()
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "test", Email: "test@example.org", When: time.Unix(0, 0)}
		if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig}); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(dir, "clusters/dev/work.yaml")
	protected, err := os.ReadFile(work)
	if err != nil {
		t.Fatal(err)
	}
	deletable := []byte(string(protected) + "  deletionProtection: false\n")
	validate := func() []string {
		t.Helper()
		base, _, err := source.Revision(dir, "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		head := source.Worktree(dir)
		f, _ := load.Load(head)
		got, err := Validate(t.Context(), f, DefaultOptions(head, base))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range got {
			out = append(out, d.Rule+" "+d.Pos.String())
		}
		return out
	}
	commit("base")

	steps := []struct {
		name   string
		change func()
		want   string
	}{
		{"deleting a protected cluster", func() { os.Remove(work) }, "policy.deletion-protection clusters/dev/work.yaml:4:9"},
		{"marking it deletable and deleting it at once", func() { os.WriteFile(work, deletable, 0o644); os.Remove(work) }, "policy.deletion-protection clusters/dev/work.yaml:4:9"},
		{"marking it deletable", func() { os.WriteFile(work, deletable, 0o644) }, ""},
	}
	for _, s := range steps {
		os.WriteFile(work, protected, 0o644)
		s.change()
		if got := strings.Join(validate(), "\n"); got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}
	// The first change merged, the second deletes the file.
	commit("mark work deletable")
	os.Remove(work)
	if got := validate(); len(got) != 0 {
		t.Errorf("deleting a cluster the base marks deletable: got %q", got)
	}
}
