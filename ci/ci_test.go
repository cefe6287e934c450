// Package ci_test checks the pipelines under ci/: the GitHub workflow with
// actionlint, the GitLab template structurally.
package ci_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"sigs.k8s.io/yaml"
)

// lint runs actionlint over a workflow, with shellcheck when it is
// installed.
func lint(t *testing.T, name string, content []byte) []*actionlint.Error {
	t.Helper()
	opts := &actionlint.LinterOptions{}
	if p, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = p
	}
	var out strings.Builder
	l, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(name, content, nil)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

func TestGitHubWorkflowLints(t *testing.T) {
	for _, tc := range []struct {
		file    string
		install []string
	}{
		{"github/capiform.yaml", []string{"go-version-file: go.mod", `go build -o "$CAPIFORM" ./tools/cmd/capiform`}},
		// A fleet repository has no go.mod and no source: it installs a
		// pinned release, cached under its version, and builds nothing
		// when the cache hits.
		{"github/fleet.yaml", []string{
			"CAPIFORM_VERSION: latest",
			`go install "github.com/capiform/capiform/tools/cmd/capiform@$CAPIFORM_VERSION"`,
			"actions/cache@",
			"key: capiform-${{ runner.os }}-${{ runner.arch }}-${{ env.CAPIFORM_VERSION }}",
			"if: ${{ steps.tool.outputs.cache-hit != 'true' }}",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) { checkGitHub(t, tc.file, tc.install) })
	}
}

func checkGitHub(t *testing.T, file string, install []string) {
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lint(t, file, content) {
		t.Errorf("%s", e.Error())
	}
	s := string(content)
	for _, want := range append(install,
		"fetch-depth: 0",
		"actions/setup-go@",
		`validate -o github`,
		`render --check`,
		`diff --base "$BASE" -o markdown`,
		"BASE: origin/${{ github.base_ref }}",
		"actions/github-script@",
		"<!-- capiform-diff -->",
		"updateComment",
	) {
		if !strings.Contains(s, want) {
			t.Errorf("workflow lacks %q", want)
		}
	}
}

// TestActionlintCatchesBrokenWorkflows makes sure the lint above can fail.
func TestActionlintCatchesBrokenWorkflows(t *testing.T) {
	content, err := os.ReadFile("github/capiform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(string) string{
		"unknown key":         func(s string) string { return strings.Replace(s, "runs-on:", "runs_on:", 1) },
		"bad expression":      func(s string) string { return strings.Replace(s, "github.base_ref", "github.base_reff", 1) },
		"unknown step output": func(s string) string { return strings.Replace(s, "steps.diff.outputs", "steps.dif.outputs", 1) },
		"bad action input":    func(s string) string { return strings.Replace(s, "fetch-depth: 0", "fetch_depth: 0", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			broken := breakIt(string(content))
			if broken == string(content) {
				t.Fatal("the change did not apply")
			}
			if errs := lint(t, "broken.yaml", []byte(broken)); len(errs) == 0 {
				t.Errorf("actionlint found nothing wrong with a broken workflow")
			}
		})
	}
}

type gitlabJob struct {
	Stage        string           `json:"stage"`
	Extends      any              `json:"extends"`
	Script       []string         `json:"script"`
	BeforeScript []string         `json:"before_script"`
	Rules        []map[string]any `json:"rules"`
	Artifacts    map[string]any   `json:"artifacts"`
	Needs        any              `json:"needs"`
	Image        string           `json:"image"`
	Cache        map[string]any   `json:"cache"`
}

func TestGitLabTemplate(t *testing.T) {
	for _, tc := range []struct {
		file, install, cacheKey string
	}{
		{"gitlab/capiform.gitlab-ci.yml", "go build -o /usr/local/bin/capiform ./tools/cmd/capiform", "capiform-go"},
		{"gitlab/fleet.gitlab-ci.yml", `test -x "$GOBIN/capiform" || go install "github.com/capiform/capiform/tools/cmd/capiform@$CAPIFORM_VERSION"`, "capiform-$CAPIFORM_VERSION"},
	} {
		t.Run(tc.file, func(t *testing.T) { checkGitLab(t, tc.file, tc.install, tc.cacheKey) })
	}
}

func checkGitLab(t *testing.T, file, install, cacheKey string) {
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(content, &doc); err != nil {
		t.Fatal(err)
	}
	vars, _ := doc["variables"].(map[string]any)
	if vars["GIT_DEPTH"] != "0" {
		t.Errorf("GIT_DEPTH = %v, want \"0\" (full history for the base revision)", vars["GIT_DEPTH"])
	}
	var stages []string
	for _, s := range doc["stages"].([]any) {
		stages = append(stages, s.(string))
	}
	if strings.Join(stages, ",") != "validate,diff,report" {
		t.Errorf("stages = %v", stages)
	}
	jobs := map[string]gitlabJob{}
	for name, v := range doc {
		switch name {
		case "variables", "stages", "include", "default", "workflow":
			continue
		}
		b, _ := yaml.Marshal(v)
		var j gitlabJob
		if err := yaml.Unmarshal(b, &j); err != nil {
			t.Fatalf("job %s: %v", name, err)
		}
		jobs[name] = j
	}
	// Resolve extends (one level, as the template uses).
	for name, j := range jobs {
		if base, ok := j.Extends.(string); ok {
			b := jobs[base]
			if j.Image == "" {
				j.Image = b.Image
			}
			if j.BeforeScript == nil {
				j.BeforeScript = b.BeforeScript
			}
			if j.Rules == nil {
				j.Rules = b.Rules
			}
			jobs[name] = j
		}
	}
	want := map[string]struct {
		stage  string
		script []string
	}{
		"capiform-validate": {"validate", []string{`capiform validate --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"`, "capiform render --check"}},
		"capiform-diff":     {"diff", []string{`capiform diff --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" -o markdown > "$CAPIFORM_REPORT" || code=$?`, `if [ "$code" -ge 2 ]; then exit "$code"; fi`}},
		"capiform-note":     {"report", []string{`sh ci/gitlab/sticky-note.sh "$CAPIFORM_REPORT"`}},
	}
	for name, w := range want {
		j, ok := jobs[name]
		if !ok {
			t.Errorf("no job %s", name)
			continue
		}
		if j.Stage != w.stage {
			t.Errorf("%s: stage %q, want %q", name, j.Stage, w.stage)
		}
		for _, line := range w.script {
			if !contains(j.Script, line) {
				t.Errorf("%s: script lacks %q", name, line)
			}
		}
		if len(j.Rules) == 0 || !strings.Contains(j.Rules[0]["if"].(string), `$CI_PIPELINE_SOURCE == "merge_request_event"`) {
			t.Errorf("%s: runs on merge requests only: %v", name, j.Rules)
		}
		if j.Image == "" {
			t.Errorf("%s: no image", name)
		}
	}
	for name, j := range jobs {
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !contains(stages, j.Stage) {
			t.Errorf("%s: stage %q is not declared", name, j.Stage)
		}
	}
	if d := jobs["capiform-diff"]; d.Artifacts["when"] != "always" {
		t.Errorf("capiform-diff must keep its report when it fails: %v", d.Artifacts)
	}
	if !contains(jobs["capiform-diff"].BeforeScript, install) {
		t.Errorf("capiform-diff does not install capiform with %q: %v", install, jobs["capiform-diff"].BeforeScript)
	}
	if key := jobs[".capiform"].Cache["key"]; key != cacheKey {
		t.Errorf("cache key %v, want %q", key, cacheKey)
	}
	if _, err := os.Stat("gitlab/sticky-note.sh"); err != nil {
		t.Error(err)
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}
