package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// run runs capiform with args and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestEveryCommandHasHelpAndExamples(t *testing.T) {
	root := NewCommand(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	if len(root.Commands()) < 4 {
		t.Fatalf("only %d commands", len(root.Commands()))
	}
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Example == "" || c.Long == "" {
			t.Errorf("capiform %s has no example or long help", c.Name())
		}
		code, out, _ := run(t, c.Name(), "--help")
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("capiform %s --help: exit %d\n%s", c.Name(), code, out)
		}
	}
}

func TestCommands(t *testing.T) {
	dir := testrepo.New(t, true)
	bad := testrepo.New(t, true)
	testrepo.WriteFiles(t, bad, map[string][]byte{
		"clusters/edi/teaching.yaml": []byte("apiVersion: capiform.dev/v1alpha1\nkind: Cluster\nmetadata: {name: teaching}\nspec:\n  kubernetesVersion: v1.36.1\n  controlPlane: {flavour: standard.small}\n"),
	})
	quota := testrepo.New(t, true)
	testrepo.WriteFiles(t, quota, map[string][]byte{
		"clusters/edi/teaching.yaml": []byte("apiVersion: capiform.dev/v1alpha1\nkind: Cluster\nmetadata: {name: teaching}\nspec:\n  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: standard.small, replicas: 2}\n  apiServer: {allowedCIDRs: [10.0.0.0/8]}\n  platforms: [{name: base}]\n"),
	})
	gpu := testrepo.New(t, true)
	research, _ := os.ReadFile(filepath.Join(gpu, "clusters/lon/research.yaml"))
	testrepo.WriteFiles(t, gpu, map[string][]byte{
		"clusters/lon/research.yaml": []byte(strings.Replace(string(research), "- name: highmem\n      flavor: m1.xlarge", "- name: highmem\n      flavor: g1.a100x1", 1)),
	})
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{name: "render --check on the committed tree", args: []string{"-C", dir, "render", "--check"}, code: 0, stderr: []string{"up to date: 2 site(s), 5 cluster(s) expanded"}},
		{name: "validate a clean fleet", args: []string{"-C", dir, "validate"}, code: 0, stderr: []string{"valid: 2 site(s), 5 cluster(s)"}},
		{name: "validate a bad definition", args: []string{"-C", bad, "validate"}, code: 1, stderr: []string{`clusters/edi/teaching.yaml:6:18: unknown field "spec.controlPlane.flavour": did you mean "flavor"?`}},
		{name: "validate -o github", args: []string{"-C", bad, "validate", "-o", "github"}, code: 1, stdout: []string{"::error file=clusters/edi/teaching.yaml,line=6,col=18,title=load.unknown-field::"}},
		{name: "validate -o json", args: []string{"-C", bad, "validate", "-o", "json"}, code: 1, stdout: []string{`"file": "clusters/edi/teaching.yaml"`, `"line": 6`}},
		{name: "validate -o json when clean", args: []string{"-C", dir, "validate", "-o", "json"}, code: 0, stdout: []string{"[]"}},
		{name: "validate -o xml on a clean fleet", args: []string{"-C", dir, "validate", "-o", "xml"}, code: 2, stderr: []string{`unknown output format "xml": use text, json or github`}, noStdout: true},
		{name: "validate -o xml on a bad definition", args: []string{"-C", bad, "validate", "-o", "xml"}, code: 2, stderr: []string{`unknown output format "xml": use text, json or github`}, noStdout: true},
		{name: "diff -o xml", args: []string{"-C", dir, "diff", "--base", "HEAD", "-o", "xml"}, code: 2, stderr: []string{`unknown output format "xml": use text, markdown or json`}, noStdout: true},
		{name: "validate with a policy violation", args: []string{"-C", quota, "validate"}, code: 1, stderr: []string{"clusters/edi/teaching.yaml:6:", "replicas"}},
		{name: "the lon site's own policy", args: []string{"-C", gpu, "validate"}, code: 1, stderr: []string{"clusters/lon/research.yaml:26:13: GPU flavor g1.a100x1 may only be used by a node group named gpu [lon.gpu-groups]"}},
		{name: "render refuses bad input", args: []string{"-C", bad, "render"}, code: 1, stderr: []string{"clusters/edi/teaching.yaml:6:18", "problem(s) found"}},
		{name: "expand a cluster", args: []string{"-C", dir, "expand", "lon/research"}, code: 0, stdout: []string{"kind: KubeadmControlPlane", "name: research-gpu", "helm.toolkit.fluxcd.io/name: research"}},
		{name: "expand needs only its own site valid", args: []string{"-C", bad, "expand", "lon/research"}, code: 0, stdout: []string{"kind: KubeadmControlPlane"}},
		{name: "expand of a site with a bad definition", args: []string{"-C", bad, "expand", "edi/edi-mgmt"}, code: 1, stderr: []string{"clusters/edi/teaching.yaml:6:18"}},
		{name: "expand an unknown cluster", args: []string{"-C", dir, "expand", "lon/nope"}, code: 1, stderr: []string{"no cluster nope in site lon"}, noStdout: true},
		{name: "expand a malformed argument", args: []string{"-C", dir, "expand", "research"}, code: 2, stderr: []string{"expand takes SITE/CLUSTER"}},
		{name: "summary", args: []string{"-C", dir, "summary"}, code: 0, stdout: []string{"research", "general=4 highmem=2 gpu=0-4", "2 site(s), 5 cluster(s)"}},
		{name: "not a repository", args: []string{"-C", t.TempDir(), "validate"}, code: 2, stderr: []string{"no clusters/ folder here"}},
		{name: "bootstrap --dry-run prints the plan", args: []string{"-C", dir, "bootstrap", "lon", "--dry-run"}, code: 0, stdout: []string{"bootstrap plan for site lon (management cluster lon-mgmt)", "move", "install the chart as Helm release lon-mgmt/lon-mgmt", "cleanup"}},
		{name: "bootstrap of an unknown site", args: []string{"-C", dir, "bootstrap", "nope", "--dry-run"}, code: 2, stderr: []string{`no site "nope"`}},
		{name: "bootstrap without a deploy key", args: []string{"-C", dir, "bootstrap", "lon", "--chart-cache", t.TempDir()}, code: 2, stderr: []string{"--deploy-key"}},
		{name: "bootstrap --until an unknown step", args: []string{"-C", dir, "bootstrap", "lon", "--dry-run", "--until", "teatime"}, code: 2, stderr: []string{"--until teatime: no such step; the steps are ephemeral, providers-ephemeral"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{"unknown command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tt.noStdout && out != "" {
				t.Errorf("stdout should be empty:\n%s", out)
			}
		})
	}
}

// TestRenderThenCheckAfterEdit: render writes a tree that --check accepts;
// after a definition is edited --check exits 1 naming the stale file.
func TestRenderThenCheckAfterEdit(t *testing.T) {
	dir := testrepo.New(t, true)
	if code, _, errOut := run(t, "-C", dir, "render"); code != 0 {
		t.Fatalf("render: exit %d\n%s", code, errOut)
	}
	def := filepath.Join(dir, "clusters/lon/analytics.yaml")
	data, _ := os.ReadFile(def)
	os.WriteFile(def, bytes.Replace(data, []byte("flavor: m1.medium"), []byte("flavor: m1.large"), 1), 0o644)
	code, _, errOut := run(t, "-C", dir, "render", "--check")
	if code != 1 || !strings.Contains(errOut, "clusters/lon/generated/clusters/analytics/helmrelease.yaml: stale") {
		t.Fatalf("render --check after an edit: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, "-C", dir, "render"); code != 0 {
		t.Fatalf("render: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, "-C", dir, "render", "--check"); code != 0 {
		t.Fatalf("render --check after render: exit %d\n%s", code, errOut)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out, _ := run(t, "schema")
	committed, err := os.ReadFile(filepath.Join(testrepo.Root(), "policies", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || out != string(committed) {
		t.Fatalf("capiform schema: exit %d; output equals policies/schema.json: %v", code, out == string(committed))
	}
	if !strings.Contains(out, `"kubernetesVersion"`) {
		t.Errorf("schema lacks the Cluster's fields:\n%.400s", out)
	}
}
