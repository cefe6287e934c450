package fleetbench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/capiform/capiform/tools/fleetgen"
	"github.com/capiform/capiform/tools/pipeline"
)

// Branches of the fleet repository.
const (
	// BranchMain holds the generated fleet with the chart and platforms;
	// the work tree is left at it.
	BranchMain = "main"
	// BranchOne adds a node group to one cluster (OneCluster).
	BranchOne = "one"
	// BranchAll changes a chart template, with the chart's version bump,
	// so that every cluster changes.
	BranchAll = "all"
)

// OneCluster is the site and cluster index that branch one changes: the
// 42nd cluster of the 4th site when the fleet is that big, else the last
// one that exists (a workload cluster when there is one).
func OneCluster(sites, clustersPerSite int) (site, cluster int) {
	return min(3, sites-1), min(42, clustersPerSite-1)
}

// makeFleet writes the generated fleet and the repository's charts/ and
// platforms/ into dir and commits main, one and all with go-git.
func makeFleet(dir, repoRoot string, sites, clustersPerSite int) error {
	if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(pipeline.ChartDir), "Chart.yaml")); err != nil {
		return fmt.Errorf("-repo %s holds no %s (run from the repository's root or set -repo): %w", repoRoot, pipeline.ChartDir, err)
	}
	for _, sub := range []string{"charts", "platforms"} {
		if err := copyTree(filepath.Join(repoRoot, sub), filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("copying %s: %w", sub, err)
		}
	}
	files := fleetgen.Generate(fleetgen.Options{Seed: 1, Sites: sites, ClustersPerSite: clustersPerSite})
	for _, p := range files.Paths() {
		if err := writeFile(dir, p, files[p]); err != nil {
			return err
		}
	}

	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(BranchMain)},
	})
	if err != nil {
		return err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return err
	}
	c := &committer{repo: repo, wt: wt}
	base, err := c.commit(fmt.Sprintf("fleet of %d sites x %d clusters", sites, clustersPerSite))
	if err != nil {
		return err
	}

	si, ci := OneCluster(sites, clustersPerSite)
	cluster := "clusters/" + fleetgen.SiteName(si) + "/" + fleetgen.ClusterName(si, ci) + ".yaml"
	if err := c.branch(dir, BranchOne, base, "one more node group in "+cluster, map[string]func(string) (string, error){
		cluster: replace("  nodeGroups:\n", "  nodeGroups:\n    - {name: extra, flavor: m1.medium, replicas: 2}\n"),
	}); err != nil {
		return err
	}
	return c.branch(dir, BranchAll, base, "longer node drain timeout in every cluster", map[string]func(string) (string, error){
		pipeline.ChartDir + "/templates/_helpers.tpl": replace("nodeDrainTimeoutSeconds: 600", "nodeDrainTimeoutSeconds: 900"),
		pipeline.ChartDir + "/Chart.yaml":             bumpPatch,
	})
}

type committer struct {
	repo *git.Repository
	wt   *git.Worktree
	n    int
}

// commit commits the index on the current branch, at a fixed time.
func (c *committer) commit(msg string) (plumbing.Hash, error) {
	c.n++
	sig := &object.Signature{Name: "fleetbench", Email: "fleetbench@example.org", When: time.Date(2026, 1, 1, 0, c.n, 0, 0, time.UTC)}
	return c.wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
}

// branch makes a branch of one commit on top of base with the edits, then
// puts the files, the index and main back as they were at base.
func (c *committer) branch(dir, name string, base plumbing.Hash, msg string, edits map[string]func(string) (string, error)) error {
	orig := map[string][]byte{}
	for p, edit := range edits {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		orig[p] = b
		s, err := edit(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := writeFile(dir, p, []byte(s)); err != nil {
			return err
		}
		if _, err := c.wt.Add(p); err != nil {
			return err
		}
	}
	h, err := c.commit(msg)
	if err != nil {
		return err
	}
	st := c.repo.Storer
	if err := st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), h)); err != nil {
		return err
	}
	for p, b := range orig {
		if err := writeFile(dir, p, b); err != nil {
			return err
		}
		if _, err := c.wt.Add(p); err != nil {
			return err
		}
	}
	return st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(BranchMain), base))
}

func replace(old, new string) func(string) (string, error) {
	return func(s string) (string, error) {
		if !strings.Contains(s, old) {
			return "", fmt.Errorf("does not contain %q", old)
		}
		return strings.Replace(s, old, new, 1), nil
	}
}

// bumpPatch raises the patch number of a Chart.yaml's version.
func bumpPatch(s string) (string, error) {
	i := strings.Index(s, "\nversion: ")
	if i < 0 {
		return "", fmt.Errorf("no version")
	}
	line, _, _ := strings.Cut(s[i+1:], "\n")
	parts := strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "version: ")), ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", line)
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return "", fmt.Errorf("version %q: %w", line, err)
	}
	parts[2] = strconv.Itoa(n + 1)
	return s[:i+1] + "version: " + strings.Join(parts, ".") + s[i+1+len(line):], nil
}

func writeFile(dir, rel string, b []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return writeFile(dst, filepath.ToSlash(rel), b)
	})
}
