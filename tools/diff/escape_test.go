package diff

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// hostile are values a pull request can put in a name, a label, a field
// or an error: each tries to start a workflow command in the CI log or to
// change the structure of the pull request comment.
var hostile = map[string]string{
	"workflow command after a newline": "\n::warning file=x::pwned",
	"encoded newline":                  "%0A::warning file=x::pwned",
	"carriage return":                  "a\r::error::pwned",
	"legacy command":                   "x ##[add-mask]secret",
	"Unicode line break":               "a\u2028::warning::pwned",
	"HTML":                             "<img src=x onerror=alert(1)>",
	"backtick runs":                    "a ``` b ```` c `",
	"table cells":                      "a | b | c",
	"closing details":                  "</summary></details><details><summary>x",
	"blank line and heading":           "x\n\n# heading\n- item\n```",
	"javascript link":                  "[x](javascript:alert(1)) ![i](https://x/i.png)",
	"mention":                          "@octocat @org/team",
	"HTML comment":                     "<!-- hidden",
	"entities":                         "&lt;b&gt; &#64;x",
}

// reportWith is a report of every kind of section, with v in every name and
// value the revisions supply.
func reportWith(v string) *Report {
	two, three := 2, 3
	field := FieldChange{Path: "metadata.labels." + v, Action: Changed, Old: v, New: "b" + v}
	lead := FieldChange{Path: v, Action: Added, New: v}
	obj := ObjectChange{ObjectKey: ObjectKey{Kind: "Secret", Namespace: v, Name: v}, Action: Added, Keys: []string{v}}
	changed := ObjectChange{ObjectKey: ObjectKey{Kind: "ConfigMap", Namespace: "n", Name: v}, Action: Changed, Fields: []FieldChange{lead, field}}
	return &Report{
		Base:     Revision{Ref: v, Commit: "1111111111111111111111111111111111111111"},
		Head:     Revision{Ref: "HEAD"},
		Errors:   []string{"rendering " + v + ": failed"},
		Findings: []Finding{{Severity: Warning, Message: "chart " + v}},
		Chart:    &ChartChange{Path: "charts/openstack-cluster", VersionFrom: v, VersionTo: "1" + v, Files: []FileChange{{Path: "templates/" + v, Action: Changed}}},
		Clusters: []*ClusterReport{{
			Site: v, Cluster: v, Action: Changed,
			ControlPlane: &Rollout{Name: v, Action: Changed, Replace: true, Replaced: 3, Reasons: []string{"version " + v},
				VersionFrom: v, VersionTo: "2" + v, TemplateFields: []FieldChange{field}},
			NodeGroups: []Rollout{{Name: v, Action: Changed, Scale: &Scale{From: &two, To: &three}, InPlace: []FieldChange{field}}},
			Findings:   []Finding{{Severity: Unsafe, Message: "group " + v + " upgraded"}},
			Objects:    []ObjectChange{changed, obj},
			Error:      "expanding " + v,
		}},
		Sites: []*SiteReport{{
			Site: v, Dir: "clusters/" + v + "/generated",
			Addons:  []AddonChange{{Cluster: v, Name: v, Action: Changed, Chart: v, VersionFrom: "1", VersionTo: "2"}},
			Objects: []ObjectChange{changed},
			Errors:  []string{v},
		}},
	}
}

// startsCommand is how the GitHub runner finds a workflow command in a
// line: "::" after leading white space, or "##[" anywhere. Lines are split
// at CR and LF as the runner does; a line holding another Unicode line
// break is refused too.
func startsCommand(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || strings.Contains(line, "##[") ||
		strings.ContainsAny(line, "\r\u0085\u2028\u2029")
}

func TestTextEscapesForCILog(t *testing.T) {
	t.Parallel()
	var plain bytes.Buffer
	if err := reportWith("v").Text(&plain, false); err != nil {
		t.Fatal(err)
	}
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, color := range []bool{false, true} {
				var b bytes.Buffer
				if err := reportWith(h).Text(&b, color); err != nil {
					t.Fatal(err)
				}
				got := strings.Split(b.String(), "\n")
				if !color && len(got) != strings.Count(plain.String(), "\n")+1 {
					t.Errorf("%d lines, want %d as with a plain value:\n%s", len(got), strings.Count(plain.String(), "\n")+1, b.String())
				}
				for _, line := range got {
					if startsCommand(line) {
						t.Errorf("line %q starts a workflow command", line)
					}
				}
			}
		})
	}
}

func TestJSONEscapesForCILog(t *testing.T) {
	t.Parallel()
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := reportWith(h).JSON(&b); err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(b.String(), "\n") {
				if startsCommand(line) {
					t.Errorf("line %q starts a workflow command", line)
				}
			}
			var back Report
			if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Base.Ref != h || back.Clusters[0].Site != h {
				t.Errorf("JSON does not keep the values as they are: %q, %v", back.Base.Ref, err)
			}
		})
	}
}

// skeleton is the structure of a markdown comment: the kind of every line
// (table row and its cell count, details, summary, fence, list, quote,
// heading, text), code blocks excepted.
func skeleton(md string) []string {
	var out []string
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		if fence != "" {
			if closes(line, fence) {
				out = append(out, "fence-end")
				fence = ""
			}
			continue
		}
		switch {
		case fenceOpen.MatchString(line):
			fence = fenceOpen.FindStringSubmatch(line)[1]
			out = append(out, "fence")
		case strings.HasPrefix(line, "|"):
			out = append(out, "row "+strings.Repeat("|", len(unescapedPipe.FindAllString(line, -1))))
		case strings.HasPrefix(line, "<details>"):
			out = append(out, "details "+strings.Repeat("<", strings.Count(line, "<")))
		case strings.HasPrefix(line, "</details>"):
			out = append(out, "/details "+strings.Repeat("<", strings.Count(line, "<")))
		case strings.HasPrefix(line, "- "), strings.HasPrefix(line, "> "), strings.HasPrefix(line, "#"):
			out = append(out, line[:2])
		case line == "":
			out = append(out, "")
		default:
			out = append(out, "text")
		}
	}
	return out
}

// fenceOpen is CommonMark's opening code fence of backticks: its info
// string holds no backtick.
var fenceOpen = regexp.MustCompile("^ {0,3}(`{3,})[^`]*$")

// closes is true when line closes a code block opened by fence: backticks
// alone, at least as many.
func closes(line, fence string) bool {
	t := strings.TrimSpace(line)
	return len(t) >= len(fence) && strings.Trim(t, "`") == ""
}

// outsideCode is the markdown without its code blocks and code spans.
func outsideCode(md string) string {
	var b strings.Builder
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		switch {
		case fence != "":
			if closes(line, fence) {
				fence = ""
			}
		case fenceOpen.MatchString(line):
			fence = fenceOpen.FindStringSubmatch(line)[1]
		default:
			b.WriteString(withoutCodeSpans(line) + "\n")
		}
	}
	return b.String()
}

var unescapedLink = regexp.MustCompile(`(^|[^\\])\]\(`)

// withoutCodeSpans is line without its inline code spans, whose content
// Markdown shows as it is.
func withoutCodeSpans(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		if line[i] != '`' {
			b.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		end := strings.Index(line[i+n:], strings.Repeat("`", n))
		for end >= 0 && i+n+end+n < len(line) && line[i+n+end+n] == '`' {
			next := strings.Index(line[i+n+end+n:], strings.Repeat("`", n))
			if next < 0 {
				end = -1
				break
			}
			end += n + next
		}
		if end < 0 {
			b.WriteString(line[i : i+n])
			i += n
			continue
		}
		i += n + end + n
	}
	return b.String()
}

var unescapedPipe = regexp.MustCompile(`(^|[^\\])\|`)

func TestMarkdownEscapes(t *testing.T) {
	t.Parallel()
	var plain bytes.Buffer
	if err := reportWith("v").Markdown(&plain, 0); err != nil {
		t.Fatal(err)
	}
	want := skeleton(plain.String())
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := reportWith(h).Markdown(&b, 0); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			if got := skeleton(md); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("the comment's structure changed:\n%s", md)
			}
			for _, tag := range []string{"<details>", "</details>", "<summary>", "</summary>"} {
				if n, m := strings.Count(outsideCode(md), tag), strings.Count(plain.String(), tag); n != m {
					t.Errorf("%d %s, want %d", n, tag, m)
				}
			}
			// Outside code blocks no raw HTML, link, image or mention
			// comes from the value.
			fence := ""
			for _, line := range strings.Split(md, "\n") {
				if startsCommand(line) {
					t.Errorf("line %q starts a workflow command", line)
				}
				if fence != "" {
					if closes(line, fence) {
						fence = ""
					}
					continue
				}
				if m := fenceOpen.FindStringSubmatch(line); m != nil {
					fence = m[1]
					continue
				}
				text := withoutCodeSpans(line)
				for _, bad := range []string{"<img", "<!-- hidden", "@octocat", "@org", "&lt;b"} {
					if strings.Contains(text, bad) {
						t.Errorf("line %q holds %q unescaped", line, bad)
					}
				}
				// In a <summary> (HTML) Markdown is not read.
				if !strings.HasPrefix(line, "<details>") && unescapedLink.MatchString(text) {
					t.Errorf("line %q holds a link", line)
				}
			}
			if fence != "" {
				t.Errorf("a code block is never closed:\n%s", md)
			}
		})
	}
}

func TestMarkdownLimitWithHostileValues(t *testing.T) {
	t.Parallel()
	rep := reportWith(strings.Repeat("<`|@\n", 60))
	var full bytes.Buffer
	if err := rep.Markdown(&full, 0); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{800, 1500, full.Len() - 1} {
		var b bytes.Buffer
		if err := rep.Markdown(&b, limit); err != nil {
			t.Fatal(err)
		}
		if b.Len() > limit || !strings.Contains(b.String(), "The report is cut to fit") ||
			strings.Count(b.String(), "<details>") != strings.Count(b.String(), "</details>") {
			t.Errorf("limit %d: %d characters, cut badly:\n%s", limit, b.Len(), b.String())
		}
	}
}

func TestMarkdownPieces(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, got, want string }{
		{"code span around backticks", mdCode("a `` b"), "```a `` b```"},
		{"code span starting with a backtick", mdCode("`a"), "`` `a ``"},
		{"code span on one line", mdCode("a\nb"), "`a\\nb`"},
		{"text", mdText("<b>*x*_[y](z)|~@u&\\"), `&lt;b&gt;\*x\*\_\[y\](z)\|\~@&#8203;u&amp;\\`},
		{"HTML", mdHTML(`</summary>"@x&`), "&lt;/summary&gt;&#34;@&#8203;x&amp;"},
		{"fence longer than the runs inside", codeBlock("a\n````\nb"), "`````\na\n````\nb\n`````\n"},
		{"fence of three", codeBlock("a\n"), "```\na\n```\n"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
