package diff

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/diff/golden")

const goldenDir = "../../testdata/diff/golden"

// TestGolden pins the three outputs of one scenario. The chart's template
// hashes appear in them: after a chart change, run
// go test ./tools/diff -run TestGolden -update and review the diff.
func TestGolden(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("clusters/s1/app.yaml", "flavor: m1.xlarge", "flavor: m1.large")
	r.edit("clusters/s1/app.yaml", "replicas: 3\n    - name: big", "replicas: 5\n    - name: big")
	r.edit("clusters/s1/app.yaml", "autoscale: {min: 1, max: 5}", "autoscale: {min: 1, max: 8}")
	r.edit("clusters/s1/mgmt.yaml", "kubernetesVersion: v1.36.1", "kubernetesVersion: v1.36.2")
	r.commit("change")
	rep := r.mustDiff()
	// Commit hashes depend on the chart's bytes; the golden files do not.
	rep.Base.Commit = "1111111111111111111111111111111111111111"
	rep.Head.Commit = "2222222222222222222222222222222222222222"

	outputs := map[string]func(*bytes.Buffer) error{
		"report.txt":       func(b *bytes.Buffer) error { return rep.Text(b, false) },
		"report.color.txt": func(b *bytes.Buffer) error { return rep.Text(b, true) },
		"report.md":        func(b *bytes.Buffer) error { return rep.Markdown(b, 0) },
		"report.json":      func(b *bytes.Buffer) error { return rep.JSON(b) },
	}
	for name, write := range outputs {
		var got bytes.Buffer
		if err := write(&got); err != nil {
			t.Fatal(err)
		}
		// Twice: the output is a pure function of the report.
		var again bytes.Buffer
		_ = write(&again)
		if !bytes.Equal(got.Bytes(), again.Bytes()) {
			t.Errorf("%s: output is not deterministic", name)
		}
		path := filepath.Join(goldenDir, name)
		if *update {
			if err := os.MkdirAll(goldenDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(want, got.Bytes()) {
			t.Errorf("%s differs from the golden file (run with -update and review):\n-want +got\n%s", name, lineDiff(string(want), got.String()))
		}
	}
}

// lineDiff is a minimal -want +got listing of the lines that differ.
func lineDiff(want, got string) string {
	w, g := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	var b bytes.Buffer
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			b.WriteString("-" + string(wl) + "\n+" + string(gl) + "\n")
		}
	}
	return b.String()
}

// TestMarkdownLimit cuts a report to small limits: never over, always
// saying so, never a <details> block cut in half.
func TestMarkdownLimit(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("clusters/s1/app.yaml", "flavor: m1.xlarge", "flavor: m1.large")
	r.edit("clusters/s1/mgmt.yaml", "kubernetesVersion: v1.36.1", "kubernetesVersion: v1.36.2")
	r.commit("change")
	rep := r.mustDiff()
	var full bytes.Buffer
	if err := rep.Markdown(&full, 0); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1200, 2000, 3000, full.Len() - 1} {
		var b bytes.Buffer
		if err := rep.Markdown(&b, limit); err != nil {
			t.Fatal(err)
		}
		s := b.String()
		if len(s) > limit {
			t.Errorf("limit %d: %d characters", limit, len(s))
		}
		if !bytes.Contains(b.Bytes(), []byte("The report is cut to fit")) {
			t.Errorf("limit %d: no cut note", limit)
		}
		if bytes.Count(b.Bytes(), []byte("<details>")) != bytes.Count(b.Bytes(), []byte("</details>")) {
			t.Errorf("limit %d: a details block is cut", limit)
		}
	}
	if bytes.Contains(full.Bytes(), []byte("The report is cut")) {
		t.Errorf("the full report says it was cut")
	}
}
