package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// injections are a key and a value of an addon's values and a cluster field that try to
// start GitHub workflow commands in the CI log, or to change the structure
// of the pull request comment.
var injections = struct{ key, value, zone string }{
	key:   "x\n::warning file=x::pwned-key",
	value: "a\n::error file=x::pwned-value%0A::notice::b\r::warning::c ##[add-mask]d <img src=x onerror=alert(1)> ``` | </details> @octocat",
	zone:  "nova-b\n::warning file=x::pwned-zone\u2028::error::e",
}

// withLabels writes into the research cluster of dir a key and value of
// its jupyterhub values and an availability zone: hostile ones, or plain ones of the same shape.
func withLabels(t *testing.T, dir string, hostile bool) {
	t.Helper()
	key, value, zone := "example.org/plain", "plain", "nova-c"
	if hostile {
		key, value, zone = injections.key, injections.value, injections.zone
	}
	def := filepath.Join(dir, "clusters/lon/research.yaml")
	data, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	// JSON strings are YAML: the values are written exactly. Label keys
	// and values are judged by Kubernetes' own validation, which refuses
	// these; an addon's values take any string.
	s := strings.Replace(string(data), "            memory: {limit: 8G, guarantee: 2G}\n",
		"            memory: {limit: 8G, guarantee: 2G}\n            "+strconv.Quote(key)+": "+strconv.Quote(value)+"\n", 1)
	s = strings.Replace(s, "availabilityZone: nova-b", "availabilityZone: "+strconv.Quote(zone), 1)
	if s == string(data) {
		t.Fatal("the research cluster has changed: update the test")
	}
	if err := os.WriteFile(def, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withVersion sets the Kubernetes version of the analytics cluster, which
// the site does not offer: every command reports an error that quotes it.
func withVersion(t *testing.T, dir, version string) {
	t.Helper()
	def := filepath.Join(dir, "clusters/lon/analytics.yaml")
	data, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "kubernetesVersion: v1.35.4", "kubernetesVersion: "+strconv.Quote(version), 1)
	if s == string(data) {
		t.Fatal("the analytics cluster has changed: update the test")
	}
	if err := os.WriteFile(def, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hostileVersion is quoted by the errors of every command.
const hostileVersion = "v1.35.4\n::warning file=x::pwned-version\r##[error]y</details><img src=x onerror=alert(1)> | @octocat [x](javascript:alert(1))"

// commandLine is a line the GitHub runner reads as a workflow command: "::"
// after leading white space, or "##[" anywhere in the line; it splits lines
// at CR and LF.
func commandLine(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || strings.Contains(line, "##[")
}

func logLines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
}

// TestNoWorkflowCommandFromInput runs every command on a repository whose
// definitions quote workflow commands: no line of stdout or stderr starts
// one, but capiform's own annotations of -o github.
func TestNoWorkflowCommandFromInput(t *testing.T) {
	labels := gitRepo(t)
	withLabels(t, labels, true)
	version := gitRepo(t)
	withVersion(t, version, hostileVersion)
	tests := []struct {
		dir  string
		name string
		args []string
		// shows says which of the injected texts the output must show
		// (escaped), so that the test cannot pass by printing nothing.
		shows string
	}{
		{dir: labels, name: "validate", args: []string{"validate"}},
		{dir: labels, name: "validate -o github", args: []string{"validate", "-o", "github"}},
		{dir: labels, name: "validate -o json", args: []string{"validate", "-o", "json"}},
		{dir: labels, name: "render --check", args: []string{"render", "--check"}},
		{dir: labels, name: "summary", args: []string{"summary"}},
		{dir: labels, name: "expand one cluster", args: []string{"expand", "lon/research"}},
		{dir: labels, name: "expand --all", args: []string{"expand", "--all"}},
		{dir: labels, name: "diff", args: []string{"diff", "--base", "HEAD", "-v"}, shows: "pwned-value"},
		{dir: labels, name: "diff -o markdown", args: []string{"diff", "--base", "HEAD", "-o", "markdown"}, shows: "pwned-value"},
		{dir: labels, name: "diff -o json", args: []string{"diff", "--base", "HEAD", "-o", "json"}, shows: "pwned-value"},
		{dir: version, name: "validate an error", args: []string{"validate"}, shows: "pwned-version"},
		{dir: version, name: "validate -o github an error", args: []string{"validate", "-o", "github"}, shows: "pwned-version"},
		{dir: version, name: "render an error", args: []string{"render"}, shows: "pwned-version"},
		{dir: version, name: "render --check an error", args: []string{"render", "--check"}, shows: "pwned-version"},
		{dir: version, name: "summary of an error", args: []string{"summary"}, shows: "pwned-version"},
		{dir: version, name: "expand an error", args: []string{"expand", "lon/analytics"}, shows: "pwned-version"},
		{dir: version, name: "expand --all an error", args: []string{"expand", "--all"}, shows: "pwned-version"},
		{dir: version, name: "diff an error", args: []string{"diff", "--base", "HEAD"}, shows: "pwned-version"},
		{dir: version, name: "diff -o markdown an error", args: []string{"diff", "--base", "HEAD", "-o", "markdown"}, shows: "pwned-version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"-C", tt.dir}, tt.args...)...)
			if code > 2 {
				t.Errorf("exit %d", code)
			}
			streams := map[string]string{"stderr": errOut, "stdout": out}
			if tt.args[0] == "expand" && code == 0 {
				// expand prints the objects' YAML, as Flux applies them,
				// to be redirected to a file: a value with line breaks is
				// a block scalar there. Its stderr is checked.
				delete(streams, "stdout")
			}
			for stream, text := range streams {
				for _, line := range logLines(text) {
					own := stream == "stdout" && strings.Contains(strings.Join(tt.args, " "), "-o github") &&
						(strings.HasPrefix(line, "::error file=clusters/") || strings.HasPrefix(line, "::warning file=clusters/"))
					if commandLine(line) && !own {
						t.Errorf("%s line %q starts a workflow command", stream, line)
					}
				}
			}
			if tt.shows != "" && !strings.Contains(out+errOut, tt.shows) {
				t.Errorf("the output does not show %q:\nstdout:\n%s\nstderr:\n%s", tt.shows, out, errOut)
			}
		})
	}
}

// TestMarkdownStructureWithInjections: the pull request comment of a change
// that adds a hostile label, or of a head whose error quotes a hostile
// version, has the structure of one with plain values: as many <details>
// tags, table rows and lines outside code blocks, and no raw HTML, link or
// mention from the values.
func TestMarkdownStructureWithInjections(t *testing.T) {
	type shape struct{ tags, rows, lines int }
	comment := func(edit func(dir string), wantCode int) (shape, string) {
		dir := gitRepo(t)
		edit(dir)
		code, out, errOut := run(t, "-C", dir, "diff", "--base", "HEAD", "-o", "markdown")
		if code != wantCode {
			t.Fatalf("diff -o markdown: exit %d, want %d\n%s", code, wantCode, errOut)
		}
		// Outside code blocks: the comment's own markup.
		var text strings.Builder
		var sh shape
		fence := ""
		for _, line := range strings.Split(out, "\n") {
			switch {
			case fence != "":
				if t := strings.TrimSpace(line); len(t) >= len(fence) && strings.Trim(t, "`") == "" {
					fence = ""
				}
			case strings.HasPrefix(line, "```") && strings.Trim(line, "`") == "":
				fence = line
			default:
				text.WriteString(line + "\n")
				sh.lines++
				if strings.HasPrefix(line, "|") {
					sh.rows++
				}
			}
		}
		sh.tags = strings.Count(text.String(), "<details>") + strings.Count(text.String(), "</details>")
		return sh, text.String()
	}
	tests := []struct {
		name           string
		plain, hostile func(dir string)
		code           int
	}{
		{name: "a label and a zone", code: 1,
			plain:   func(dir string) { withLabels(t, dir, false) },
			hostile: func(dir string) { withLabels(t, dir, true) }},
		{name: "an error quoting a version", code: 2,
			plain:   func(dir string) { withVersion(t, dir, "v1.35.4-plain") },
			hostile: func(dir string) { withVersion(t, dir, hostileVersion) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, _ := comment(tt.plain, tt.code)
			got, md := comment(tt.hostile, tt.code)
			if got != want {
				t.Errorf("structure %+v, want %+v:\n%s", got, want, md)
			}
			for _, raw := range []string{"<img", "@octocat", "](javascript"} {
				if strings.Contains(md, raw) {
					t.Errorf("the comment holds %q outside code blocks:\n%s", raw, md)
				}
			}
		})
	}
}

// TestMissingChartNamesIt: a revision without the chart is an error that
// names the chart's file, in every command that expands.
func TestMissingChartNamesIt(t *testing.T) {
	dir := gitRepo(t)
	// The base revision has the chart; the work tree does not.
	if err := os.RemoveAll(filepath.Join(dir, "charts/openstack-cluster")); err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(dir, "clusters/lon/research.yaml")
	data, _ := os.ReadFile(def)
	os.WriteFile(def, []byte(strings.Replace(string(data), "replicas: 4", "replicas: 5", 1)), 0o644)
	const want = "charts/openstack-cluster/Chart.yaml: the chart is missing from this revision"
	tests := []struct {
		name   string
		args   []string
		code   int
		stream string
	}{
		{name: "expand", args: []string{"expand", "lon/research"}, code: 1, stream: "stderr"},
		{name: "expand --all", args: []string{"expand", "--all"}, code: 1, stream: "stderr"},
		{name: "render --check", args: []string{"render", "--check"}, code: 1, stream: "stderr"},
		{name: "diff", args: []string{"diff", "--base", "HEAD"}, code: 2, stream: "stdout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"-C", dir}, tt.args...)...)
			text := map[string]string{"stdout": out, "stderr": errOut}[tt.stream]
			if code != tt.code || !strings.Contains(text, want) || strings.Contains(out+errOut, "open .") {
				t.Errorf("exit %d, want %d; %s lacks %q\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.stream, want, out, errOut)
			}
		})
	}
}
