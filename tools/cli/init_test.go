package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// TestInitFleetRendersCleanly lays out a fleet with capiform init in a new
// folder and runs the real commands on it, as an operator would: it
// validates, renders, and render --check finds it up to date and sound.
func TestInitFleetRendersCleanly(t *testing.T) {
	for _, tc := range []struct {
		name, ci string
		pipeline string
	}{
		{"github", "github", ".github/workflows/capiform.yaml"},
		{"gitlab", "gitlab", "ci/gitlab/capiform.gitlab-ci.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fleet")
			code, _, errOut := run(t, "init", dir, "--site", "lab", "--ci", tc.ci, "--tool-version", "v0.3.0")
			if code != 0 {
				t.Fatalf("init: exit %d\n%s", code, errOut)
			}
			if !strings.Contains(errOut, "laid out") || strings.Contains(errOut, "warning") {
				t.Errorf("init's report: %s", errOut)
			}
			b, err := os.ReadFile(filepath.Join(dir, tc.pipeline))
			if err != nil || !strings.Contains(string(b), "CAPIFORM_VERSION: v0.3.0\n") {
				t.Errorf("%s not pinned to v0.3.0 (%v)", tc.pipeline, err)
			}
			if tc.ci == "github" {
				l, err := actionlint.NewLinter(&strings.Builder{}, &actionlint.LinterOptions{})
				if err != nil {
					t.Fatal(err)
				}
				errs, err := l.Lint(tc.pipeline, b, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range errs {
					t.Errorf("%s", e.Error())
				}
			}
			for _, step := range []struct {
				args []string
				want string
			}{
				{[]string{"validate"}, "valid: 1 site(s), 1 cluster(s)"},
				{[]string{"render"}, "rendered 1 site(s), 1 cluster(s)"},
				{[]string{"render", "--check"}, "up to date: 1 site(s), 1 cluster(s) expanded"},
			} {
				code, _, errOut := run(t, append([]string{"-C", dir}, step.args...)...)
				if code != 0 || !strings.Contains(errOut, step.want) || strings.Contains(errOut, "warning") {
					t.Errorf("capiform %s: exit %d\n%s", strings.Join(step.args, " "), code, errOut)
				}
			}
		})
	}
}

// TestInitNeverOverwrites: in a repository that holds any file init would
// write, it writes nothing, names the files and exits 1.
func TestInitNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "clusters", "example", "site.yaml")
	os.MkdirAll(filepath.Dir(mine), 0o755)
	os.WriteFile(mine, []byte("mine\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("mine\n"), 0o644)
	code, _, errOut := run(t, "-C", dir, "init", "--tool-version", "v0.3.0")
	if code != ExitFailed || !strings.Contains(errOut, "clusters/example/site.yaml") || !strings.Contains(errOut, "nothing was written") {
		t.Fatalf("exit %d, want 1 naming clusters/example/site.yaml\n%s", code, errOut)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "README.md,clusters" {
		t.Errorf("the repository holds %v after a refused init", names)
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine\n" {
		t.Errorf("site.yaml overwritten: %q", b)
	}
}
