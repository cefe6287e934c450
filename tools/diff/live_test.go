package diff

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/capiform/capiform/tools/importer"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/source"
)

// adoptRepo is a repository with the chart, the platforms and the test
// fleet of a site that adopts a capi-helm-charts cluster (testdata/adopt),
// edited by edit when not nil.
func adoptRepo(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join(testrepo.Root(), "testdata", "adopt", "clusters"), filepath.Join(dir, "clusters")); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		p := filepath.Join(dir, "clusters", "uni", "research.yaml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(edit(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func liveReport(t *testing.T, dir string) *Report {
	t.Helper()
	values, err := os.ReadFile(filepath.Join(testrepo.Root(), "testdata", "adopt", "research.values"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Live(context.Background(), LiveOptions{
		FS: source.Worktree(dir), Site: "uni", Cluster: "research",
		Values:       importer.Input{Name: "research.values", Data: values},
		ChartVersion: "0.26.1",
		Pipeline:     func(fsys fs.FS) pipeline.Options { return pipeline.Default(fsys) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestLiveDiff: capiform diff --live-values on testdata/adopt's research
// cluster and the live values of its capi-helm-charts release. The
// hand-over rolls the control plane and the node group once (new machine
// templates: Cluster API's verdict, not a rule of ours), the autoscaling
// bound the definition raises shows, the registry mirror the live values
// set and the definition does not is removed from the node group's files,
// the extra packages capiform cannot install are reported dropped, and
// the report is the golden
// testdata/adopt/live-diff.golden.txt (-update rewrites it).
func TestLiveDiff(t *testing.T) {
	rep := liveReport(t, adoptRepo(t, nil))
	if len(rep.Clusters) != 1 {
		t.Fatalf("%d cluster reports, want research's", len(rep.Clusters))
	}
	cr := rep.Clusters[0]
	if cp := cr.ControlPlane; cp == nil || !cp.Replace || cp.Replaced != 3 {
		t.Errorf("control plane %+v: want a rollout of its 3 machines", cp)
	}
	if len(cr.NodeGroups) != 1 || !cr.NodeGroups[0].Replace || cr.NodeGroups[0].Name != "md-0" {
		t.Errorf("node groups %+v: want md-0 rolling", cr.NodeGroups)
	}
	var text bytes.Buffer
	if err := rep.Text(&text, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dropped at hand-over: research.values:24: additionalPackages", "KubeadmConfigTemplate.spec.template.spec.files: - [{\"content\":\"# The mirrors of docker.io", "autoscale 1..3 -> 1..5", "Flux upgrades release research in namespace clusters"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, text.String())
		}
	}
	golden := filepath.Join(testrepo.Root(), "testdata", "adopt", "live-diff.golden.txt")
	if *update {
		if err := os.WriteFile(golden, text.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if d := cmp.Diff(string(want), text.String()); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", golden, d)
	}
}

// TestLiveDiffWarns: the hand-over's mistakes of a definition, each said.
func TestLiveDiffWarns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edit     func(string) string
		severity Severity
		says     string
	}{
		{"no adoption: a second cluster", func(s string) string {
			return strings.Replace(s, "  adopt:\n    namespace: clusters\n    naming: capi-helm-charts\n", "", 1)
		}, Unsafe, "beside the live cluster"},
		{"capiform naming: the autoscaler's selector", func(s string) string {
			return strings.Replace(s, "    naming: capi-helm-charts\n", "", 1)
		}, Warning, "autoscaler Deployment's selector changes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := liveReport(t, adoptRepo(t, tc.edit))
			for _, f := range rep.Clusters[0].Findings {
				if f.Severity == tc.severity && strings.Contains(f.Message, tc.says) {
					return
				}
			}
			t.Errorf("no %s finding saying %q: %+v", tc.severity, tc.says, rep.Clusters[0].Findings)
		})
	}
}
