package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// adoptFleet is a repository with the chart, the platforms and the fleet of
// testdata/adopt (site uni, whose research cluster adopts a capi-helm-charts
// release), and the path of that release's live values.
func adoptFleet(t *testing.T) (dir, values string) {
	t.Helper()
	dir = testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join(testrepo.Root(), "testdata", "adopt", "clusters"), filepath.Join(dir, "clusters")); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(testrepo.Root(), "testdata", "adopt", "research.values")
}

// TestDiffLiveValues: `capiform diff --live-values` prints the report the
// diff library makes of the hand-over (testdata/adopt/live-diff.golden.txt,
// held to the library by tools/diff's TestLiveDiff) and exits 1, as any
// diff that changes machines does; -o json carries the same verdicts.
func TestDiffLiveValues(t *testing.T) {
	dir, values := adoptFleet(t)
	want, err := os.ReadFile(filepath.Join(testrepo.Root(), "testdata", "adopt", "live-diff.golden.txt"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "-C", dir, "diff", "--live-values", values, "--chart-version", "0.26.1", "--cluster", "uni/research", "--color", "never")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d (the hand-over rolls machines); stderr:\n%s", code, ExitFailed, errOut)
	}
	// The report names the values file as given on the command line.
	got := strings.ReplaceAll(out, values, "research.values")
	if got != string(want) {
		t.Errorf("stdout is not the library's report of the hand-over:\n--- got\n%s\n--- want\n%s", got, want)
	}

	code, out, errOut = run(t, "-C", dir, "diff", "--live-values", values, "--chart-version", "0.26.1", "--cluster", "uni/research", "-o", "json")
	if code != ExitFailed {
		t.Fatalf("-o json: exit %d; stderr:\n%s", code, errOut)
	}
	var rep struct {
		Clusters []struct {
			Site, Cluster string
			ControlPlane  *struct{ Replace bool }
			NodeGroups    []struct {
				Name    string
				Replace bool
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if len(rep.Clusters) != 1 || rep.Clusters[0].ControlPlane == nil || !rep.Clusters[0].ControlPlane.Replace ||
		len(rep.Clusters[0].NodeGroups) != 1 || !rep.Clusters[0].NodeGroups[0].Replace {
		t.Errorf("-o json: want research's control plane and md-0 rolling, got %s", out)
	}
}

// TestDiffLiveValuesRefuses: each misuse exits 2 with what to do, and
// writes no report.
func TestDiffLiveValuesRefuses(t *testing.T) {
	dir, values := adoptFleet(t)
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"no cluster", []string{"--live-values", values}, "give both, the cluster as its site and name"},
		{"cluster without site", []string{"--live-values", values, "--cluster", "research"}, "give both, the cluster as its site and name"},
		{"no values", []string{"--cluster", "uni/research"}, "give both"},
		{"with --base", []string{"--live-values", values, "--cluster", "uni/research", "--base", "main"}, "leave out --base and --head"},
		{"unreadable values", []string{"--live-values", filepath.Join(dir, "absent.values"), "--cluster", "uni/research"}, "absent.values: cannot be read"},
		{"unknown cluster", []string{"--live-values", values, "--chart-version", "0.26.1", "--cluster", "uni/nosuch"}, "nosuch"},
		{"unknown output", []string{"--live-values", values, "--cluster", "uni/research", "-o", "yaml"}, "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"-C", dir, "diff"}, tc.args...)...)
			if code != ExitCantRun {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitCantRun, errOut)
			}
			if !strings.Contains(errOut, tc.says) {
				t.Errorf("stderr does not say %q:\n%s", tc.says, errOut)
			}
			if out != "" {
				t.Errorf("a report was written:\n%s", out)
			}
		})
	}
}
