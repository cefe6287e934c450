package diff

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/capiform/capiform/tools/pipeline"
)

// testRepo is a real git repository made in the test: the repository's
// chart and a small fleet, committed; edits are committed one by one.
type testRepo struct {
	t    testing.TB
	dir  string
	repo *git.Repository
	n    int
}

// chartSrc and fleetSrc are copied into every test repository.
const (
	chartSrc = "../../charts/openstack-cluster"
	fleetSrc = "../../testdata/diff/fleet"
)

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	tr := newChartRepo(t)
	tr.copyTree(fleetSrc, ".")
	tr.commit("base")
	return tr
}

// newPlatformsRepo is newTestRepo with the platform catalogue committed
// and cluster app on the given platforms.
func newPlatformsRepo(t testing.TB, platforms ...string) *testRepo {
	t.Helper()
	r := newTestRepo(t)
	r.copyTree("../../platforms", "platforms")
	list := ""
	for _, p := range platforms {
		list += "    - name: " + p + "\n"
	}
	r.edit("clusters/s1/app.yaml", "  nodeGroups:\n", "  platforms:\n"+list+"  nodeGroups:\n")
	r.commit("platforms")
	return r
}

// newChartRepo is a repository holding the chart, nothing committed.
func newChartRepo(t testing.TB) *testRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	tr := &testRepo{t: t, dir: dir, repo: r}
	tr.copyTree(chartSrc, "charts/openstack-cluster")
	return tr
}

func (r *testRepo) copyTree(src, dst string) {
	r.t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r.write(filepath.ToSlash(filepath.Join(dst, rel)), string(b))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(name)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// edit replaces old with new in a file, failing when old is absent.
func (r *testRepo) edit(name, old, new string) {
	r.t.Helper()
	s := r.read(name)
	if !strings.Contains(s, old) {
		r.t.Fatalf("%s does not contain %q", name, old)
	}
	r.write(name, strings.Replace(s, old, new, 1))
}

func (r *testRepo) remove(name string) {
	r.t.Helper()
	if err := os.Remove(filepath.Join(r.dir, filepath.FromSlash(name))); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits every change of the work tree, at a fixed time.
func (r *testRepo) commit(msg string) {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatal(err)
	}
	r.n++
	when := time.Date(2026, 1, 1, 0, r.n, 0, 0, time.UTC)
	sig := &object.Signature{Name: "test", Email: "test@example.org", When: when}
	if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true}); err != nil {
		r.t.Fatal(err)
	}
}

// diff runs the diff of the last commit against the one before.
func (r *testRepo) diff() (*Report, error) {
	r.t.Helper()
	return Run(context.Background(), Options{Repo: r.dir, Base: "HEAD~1", Head: "HEAD"})
}

func (r *testRepo) mustDiff() *Report {
	r.t.Helper()
	rep, err := r.diff()
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

// mustDiffWithPlatforms diffs the last commit with the repository's
// platform catalogue rendered too.
func (r *testRepo) mustDiffWithPlatforms() *Report {
	r.t.Helper()
	rep, err := Run(context.Background(), Options{Repo: r.dir, Base: "HEAD~1", Head: "HEAD", Pipeline: func(fsys fs.FS) pipeline.Options {
		return pipeline.Options{FS: fsys, Addons: pipeline.Platforms}
	}})
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

// cluster returns a cluster's report, failing when absent.
func cluster(t testing.TB, rep *Report, site, name string) *ClusterReport {
	t.Helper()
	for _, c := range rep.Clusters {
		if c.Site == site && c.Cluster == name {
			return c
		}
	}
	t.Fatalf("no report for cluster %s/%s; clusters: %v", site, name, clusterNames(rep))
	return nil
}

func clusterNames(rep *Report) []string {
	var out []string
	for _, c := range rep.Clusters {
		out = append(out, c.Site+"/"+c.Cluster)
	}
	return out
}

func group(t testing.TB, c *ClusterReport, name string) *Rollout {
	t.Helper()
	for i := range c.NodeGroups {
		if c.NodeGroups[i].Name == name {
			return &c.NodeGroups[i]
		}
	}
	return nil
}

func textOf(t testing.TB, rep *Report) string {
	t.Helper()
	var b strings.Builder
	if err := rep.Text(&b, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func markdownOf(t testing.TB, rep *Report) string {
	t.Helper()
	var b strings.Builder
	if err := rep.Markdown(&b, 0); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func jsonOf(t testing.TB, rep *Report) string {
	t.Helper()
	var b strings.Builder
	if err := rep.JSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
