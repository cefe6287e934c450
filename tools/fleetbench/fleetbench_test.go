package fleetbench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// capiformBin is the capiform binary built once by TestMain.
var capiformBin string

// repoRoot holds charts/ and platforms/.
const repoRoot = "../.."

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fleetbench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	capiformBin = filepath.Join(dir, "capiform")
	out, err := exec.Command("go", "build", "-o", capiformBin, "github.com/capiform/capiform/tools/cmd/capiform").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building capiform: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// tiny is the fleet of the tests: 2 sites x 3 clusters, one run each.
func tiny(helm string) Options {
	return Options{Capiform: capiformBin, Helm: helm, Sites: 2, ClustersPerSite: 3, Runs: 1, Repo: repoRoot}
}

func TestRunTinyFleet(t *testing.T) {
	t.Parallel()
	res, err := Run(t.Context(), tiny(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(res.WorkDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the work folder %s is still there (%v)", res.WorkDir, err)
	}
	want := []string{StageValidate, StageRender, StageExpand, StageDiffOne, StageDiffAll}
	if len(res.Stages) != len(want) {
		t.Fatalf("want the stages %v, got %d", want, len(res.Stages))
	}
	for i, s := range res.Stages {
		if s.Name != want[i] {
			t.Errorf("stage %d is %q, want %q", i, s.Name, want[i])
		}
		if len(s.Times) != 1 || s.Median <= 0 || s.PeakRSS <= 0 {
			t.Errorf("%s: times %v, median %v, peak RSS %d: want one run, a positive time and RSS", s.Name, s.Times, s.Median, s.PeakRSS)
		}
	}
	// Branch one changes one cluster of a 3-cluster site; branch all
	// changes the chart of every cluster.
	if n := res.Stage(StageDiffOne).Note; !strings.Contains(n, "rendered 1 of 2 site(s); expanded 1 of their 3 cluster(s)") {
		t.Errorf("diff one: want exactly one cluster expanded, got note %q", n)
	}
	if n := res.Stage(StageDiffAll).Note; !strings.Contains(n, "rendered 2 of 2 site(s); expanded 6 of their 6 cluster(s)") {
		t.Errorf("diff all: want every cluster expanded, got note %q", n)
	}
	if n := res.Stage(StageExpand).Note; !strings.HasPrefix(n, "expanded 6 cluster(s)") {
		t.Errorf("expand all: got note %q", n)
	}
	if res.HelmLoop != nil {
		t.Errorf("a helm loop ran without helm: %+v", res.HelmLoop)
	}

	var b strings.Builder
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	t.Log("\n" + table)
	for _, s := range res.Stages {
		if !strings.Contains(table, s.Name) || !strings.Contains(table, s.Command()) {
			t.Errorf("the table misses stage %s (%s)", s.Name, s.Command())
		}
	}
	for _, w := range []string{"2 sites x 3 clusters = 6 clusters", "1 run(s) per stage", "GOMAXPROCS", res.WorkDir, "helm loop", "skipped", "speed-up",
		"what capiform is built to meet with 1000 clusters on 2 CPUs (here 6 clusters"} {
		if !strings.Contains(table, w) {
			t.Errorf("the table misses %q", w)
		}
	}
	// Words that mean nothing to the reader of the table.
	for _, w := range []string{"issue", "seed"} {
		if strings.Contains(table, w) {
			t.Errorf("the table says %q", w)
		}
	}
}

// findHelm is the binary hack/helm.sh builds, else helm on PATH, else "".
func findHelm() string {
	version := os.Getenv("HELM_VERSION")
	if version == "" {
		version = "v4.2.4"
	}
	version = "v" + strings.TrimPrefix(version, "v")
	root := os.Getenv("HELM_CACHE_DIR")
	if root == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			cache = filepath.Join(home, ".cache")
		}
		root = filepath.Join(cache, "capiform", "helm")
	}
	if p := filepath.Join(root, version, "helm"); isExecutable(p) {
		return p
	}
	p, _ := exec.LookPath("helm")
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func TestHelmLoopTinyFleet(t *testing.T) {
	t.Parallel()
	helm := findHelm()
	if helm == "" {
		t.Skip("no helm binary: run hack/helm.sh to build it (or put helm on PATH) to test the helm template loop")
	}
	res, err := Run(t.Context(), tiny(helm))
	if err != nil {
		t.Fatal(err)
	}
	l := res.HelmLoop
	if l == nil {
		t.Fatal("no helm loop")
	}
	if l.Clusters != 6 || l.Wall <= 0 || l.PeakRSS <= 0 || l.Speedup <= 0 {
		t.Errorf("helm loop: %+v; want 6 processes, a positive time, RSS and speed-up", l)
	}
	if res.HelmVersion == "" {
		t.Error("no helm version")
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	if !strings.Contains(b.String(), fmt.Sprintf("%.1fx", l.Speedup)) || !strings.Contains(b.String(), res.HelmVersion) {
		t.Errorf("the table misses the speed-up or helm's version:\n%s", b.String())
	}
}

// A capiform that exits with another code than the stage's is an error
// with the command and its stderr: diff in a folder that is not a git
// repository exits 2, not 1.
func TestWrongExitCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := measure(t.Context(), dir, 1, capiformBin, "-C", dir, "diff", "--base", "main", "--head", "one", "-v", "-o", "json")
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want an *ExitError, got %v", err)
	}
	if ee.Code != 2 || ee.Want != 1 {
		t.Errorf("exit code %d, want %d; want 2 and 1", ee.Code, ee.Want)
	}
	msg := err.Error()
	if !strings.Contains(msg, "diff --base main --head one") || strings.TrimSpace(ee.Stderr) == "" || !strings.Contains(msg, strings.TrimSpace(ee.Stderr)) {
		t.Errorf("the error does not hold the command and its stderr: %s", msg)
	}

	// A stage that must exit 0 and does not is an error too.
	if _, err := measure(t.Context(), dir, 0, capiformBin, "-C", dir, "expand", "no-such/cluster"); !errors.As(err, &ee) || ee.Code == 0 {
		t.Errorf("want an *ExitError, got %v", err)
	}
}

func TestRunNeedsTheChart(t *testing.T) {
	t.Parallel()
	o := tiny("")
	o.Repo = t.TempDir()
	o.Dir = filepath.Join(t.TempDir(), "work")
	_, err := Run(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "charts/openstack-cluster") {
		t.Fatalf("want an error naming the missing chart, got %v", err)
	}
	if _, err := os.Stat(o.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the work folder %s is still there (%v)", o.Dir, err)
	}
}

func TestBumpPatch(t *testing.T) {
	got, err := bumpPatch("apiVersion: v2\nappVersion: 0.2.0\nversion: 0.2.9\nkeywords: []\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "apiVersion: v2\nappVersion: 0.2.0\nversion: 0.2.10\nkeywords: []\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := bumpPatch("apiVersion: v2\n"); err == nil {
		t.Error("want an error without a version")
	}
}

func TestOneClusterExists(t *testing.T) {
	for _, c := range []struct{ sites, clusters, site, cluster int }{
		{10, 100, 3, 42}, {2, 3, 1, 2}, {1, 1, 0, 0}, {5, 50, 3, 42},
	} {
		s, cl := OneCluster(c.sites, c.clusters)
		if s != c.site || cl != c.cluster {
			t.Errorf("OneCluster(%d, %d) = %d, %d; want %d, %d", c.sites, c.clusters, s, cl, c.site, c.cluster)
		}
	}
}

// A missed target is named with what was measured, so that make bench can
// fail and say why; met targets are not listed.
func TestMissed(t *testing.T) {
	t.Parallel()
	stage := func(name string, wall time.Duration, rss int64, target Target) Stage {
		return Stage{Name: name, Median: wall, PeakRSS: rss, Target: target}
	}
	for _, tc := range []struct {
		name string
		res  Result
		want []string
	}{
		{"all met", Result{
			Stages:   []Stage{stage(StageValidate, 1500*time.Millisecond, 500<<20, Target{Wall: 2 * time.Second, RSS: 1 << 30})},
			HelmLoop: &HelmLoop{Speedup: 31.4},
		}, nil},
		{"time, memory and speed-up missed", Result{
			Stages: []Stage{
				stage(StageValidate, 2230*time.Millisecond, 551<<20, Target{Wall: 2 * time.Second, RSS: 1 << 30}),
				stage(StageRender, 1900*time.Millisecond, 1100<<20, Target{Wall: 2 * time.Second, RSS: 1 << 30}),
				stage(StageDiffOne, 200*time.Millisecond, 137<<20, Target{Wall: time.Second}),
			},
			HelmLoop: &HelmLoop{Speedup: 29.0},
		}, []string{
			"validate: 2.23 s, 551 MiB (target <= 2 s, <= 1 GiB)",
			"render: 1.90 s, 1100 MiB (target <= 2 s, <= 1 GiB)",
			"speed-up over the helm loop: 29.0x (target >= 30x)",
		}},
		{"no helm loop is no miss", Result{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.res.Missed(); !slices.Equal(got, tc.want) {
				t.Errorf("Missed() = %q, want %q", got, tc.want)
			}
		})
	}
}
