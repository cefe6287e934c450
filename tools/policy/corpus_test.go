package policy

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/load"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/policy/cases")

// corpusDir holds the corpus: fleet/ is a valid repository every case
// starts from; each cases/*.txtar overlays files on it.
const corpusDir = "../../testdata/policy"

// A case is a txtar archive. Its comment holds directives, one a line:
//
//	base                  the case has a base revision: the fleet with the
//	                      base/ files of the archive overlaid
//	delete PATH           PATH is gone from head
//
// Files named base/PATH overlay the base, other files the head, and the
// "want" file lists the expected diagnostics, "RULE FILE:LINE" a line
// (empty for a valid case). An optional "want messages" file, before
// "want", holds "RULE FILE:LINE: TEXT" lines: the diagnostic's message
// must contain TEXT (-update leaves it alone).
type corpusCase struct {
	name       string
	directives []string
	head, base fstest.MapFS
	want       []string
	messages   []string
	archive    []byte
}

func readCorpus(t *testing.T) []*corpusCase {
	t.Helper()
	fleet := corpusFleet(t)
	names, _ := filepath.Glob(filepath.Join(corpusDir, "cases", "*.txtar"))
	var out []*corpusCase
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		comment, files := parseTxtar(data)
		c := &corpusCase{name: strings.TrimSuffix(filepath.Base(n), ".txtar"), head: clone(fleet), archive: data}
		hasBase := false
		for _, line := range strings.Split(comment, "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 1 && f[0] == "base":
				hasBase = true
				c.base = clone(fleet)
			case len(f) == 2 && f[0] == "delete":
				delete(c.head, f[1])
			}
		}
		for _, f := range files {
			switch {
			case f.name == "want":
				for _, l := range strings.Split(string(f.data), "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						c.want = append(c.want, l)
					}
				}
			case f.name == "want messages":
				for _, l := range strings.Split(string(f.data), "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						c.messages = append(c.messages, l)
					}
				}
			case strings.HasPrefix(f.name, "base/"):
				if !hasBase {
					t.Fatalf("%s: base/ files without the base directive", n)
				}
				c.base[strings.TrimPrefix(f.name, "base/")] = &fstest.MapFile{Data: f.data}
			default:
				c.head[f.name] = &fstest.MapFile{Data: f.data}
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no corpus cases found")
	}
	return out
}

func clone(m fstest.MapFS) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

type txtarFile struct {
	name string
	data []byte
}

// parseTxtar reads a txtar archive: a comment, then files each opened by
// a line "-- NAME --".
func parseTxtar(data []byte) (string, []txtarFile) {
	var (
		comment strings.Builder
		files   []txtarFile
		cur     *txtarFile
	)
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trim := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trim, "-- ") && strings.HasSuffix(trim, " --") && len(trim) > 6 {
			files = append(files, txtarFile{name: strings.TrimSpace(trim[3 : len(trim)-3])})
			cur = &files[len(files)-1]
			continue
		}
		if cur == nil {
			comment.WriteString(line)
		} else {
			cur.data = append(cur.data, line...)
		}
	}
	return comment.String(), files
}

func runCase(t *testing.T, c *corpusCase, goChecks bool) []string {
	t.Helper()
	lines, _ := runCaseMessages(t, c, goChecks)
	return lines
}

// runCaseMessages returns the "RULE FILE:LINE" lines of a case's
// diagnostics, and their messages under those lines.
func runCaseMessages(t *testing.T, c *corpusCase, goChecks bool) ([]string, map[string][]string) {
	t.Helper()
	fleet, _ := load.Load(c.head) // the loader's own findings are not the policy's
	if fleet == nil {
		t.Fatalf("the head of %s does not load", c.name)
	}
	opts := Options{Head: c.head, GoChecks: goChecks}
	if c.base != nil {
		opts.Base = c.base
	}
	got, err := Validate(t.Context(), fleet, opts)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	messages := map[string][]string{}
	for _, d := range got {
		if d.Line == 0 {
			t.Errorf("%s: no line: %s", c.name, d)
		}
		l := fmt.Sprintf("%s %s:%d", d.Rule, d.File, d.Line)
		lines = append(lines, l)
		messages[l] = append(messages[l], d.Message)
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	if testing.Verbose() {
		t.Logf("%s (go checks %v):\n%s", c.name, goChecks, Format(got, FormatText))
	}
	return lines, messages
}

// checkMessages holds a case's diagnostics to its "want messages".
func checkMessages(t *testing.T, c *corpusCase, messages map[string][]string) {
	t.Helper()
	for _, m := range c.messages {
		at, text, ok := strings.Cut(m, ": ")
		if !ok {
			t.Fatalf("%s: want messages line %q is not RULE FILE:LINE: TEXT", c.name, m)
		}
		if !slices.ContainsFunc(messages[at], func(got string) bool { return strings.Contains(got, text) }) {
			t.Errorf("%s: no message with %q among %q", at, text, messages[at])
		}
	}
}

// TestCorpus runs every case of the corpus, with and without the Go
// checks: CUE alone must find every violation.
func TestCorpus(t *testing.T) {
	cases := readCorpus(t)
	rules := map[string]bool{}
	for _, c := range cases {
		for _, goChecks := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/go=%v", c.name, goChecks), func(t *testing.T) {
				got, messages := runCaseMessages(t, c, goChecks)
				want := slices.Sorted(slices.Values(c.want))
				if *update && goChecks {
					writeWant(t, c, got)
					return
				}
				if !slices.Equal(got, want) {
					t.Errorf("diagnostics differ\n got: %q\nwant: %q", got, want)
				}
				checkMessages(t, c, messages)
			})
		}
		for _, w := range c.want {
			rules[strings.Fields(w)[0]] = true
		}
	}
	// Every rule has a failing case (and the fleet every case starts
	// from, valid, passes them all).
	for _, r := range Rules {
		if !rules[r] {
			t.Errorf("rule %s has no failing case in the corpus", r)
		}
	}
}

func writeWant(t *testing.T, c *corpusCase, got []string) {
	t.Helper()
	i := bytes.Index(c.archive, []byte("-- want --\n"))
	if i < 0 {
		t.Fatalf("%s has no want section", c.name)
	}
	out := append(slices.Clip(c.archive[:i]), "-- want --\n"...)
	for _, g := range got {
		out = append(out, g+"\n"...)
	}
	if err := os.WriteFile(filepath.Join(corpusDir, "cases", c.name+".txtar"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}
