// Package diag carries the problems found in definitions: each with the
// file, line and column it is about, the name of the rule that found it and
// a message that says what to do.
package diag

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Severity of a diagnostic.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Pos is a place in a file. Line and Col start at 1; 0 means unknown.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String formats the position as file:line:col.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Diagnostic is one problem.
type Diagnostic struct {
	Pos
	// Rule names the check, like "load.unknown-field" or "policy.quota".
	Rule string `json:"rule"`
	// Message says what is wrong and what to do.
	Message  string   `json:"message"`
	Severity Severity `json:"severity,omitempty"`
}

// String formats the diagnostic as file:line:col: message [rule], on one
// line: the file and the message quote the repository, so both are made
// safe for a CI log (see Line).
func (d Diagnostic) String() string {
	return Line(fmt.Sprintf("%s: %s [%s]", d.Pos, d.Message, d.Rule))
}

// List is a set of diagnostics; as an error it stands for all of them.
type List []Diagnostic

// Add appends a diagnostic. The message is made one line (see Inline):
// its arguments are often values of the repository.
func (l *List) Add(pos Pos, rule, format string, args ...any) {
	*l = append(*l, Diagnostic{Pos: pos, Rule: rule, Message: Inline(fmt.Sprintf(format, args...)), Severity: Error})
}

// Error lists every diagnostic, one a line.
func (l List) Error() string {
	var b strings.Builder
	for i, d := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// Err returns the list sorted and de-duplicated as an error, or nil when it
// is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l.Sorted()
}

// Sorted returns a sorted copy without duplicates.
func (l List) Sorted() List {
	out := slices.Clone(l)
	slices.SortFunc(out, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(out)
}

// The output of every command may land in a CI log, where the runner reads
// a line that starts with "::" (after leading white space) as a workflow
// command, and "##[" anywhere in a line as a legacy one: an annotation, a
// mask, even "stop-commands". Values of the repository under review are
// embedded in messages, so each is escaped where it is embedded: it can then
// never break the line it is in nor start a command.

// Inline returns s fit to be embedded in one line of output: line breaks,
// other control and invisible characters (bidirectional overrides,
// zero-width and non-ASCII spaces) and bytes that are not UTF-8 are written
// as Go escapes (\n, \r, \x00, \u202e), and "##[" as "#\x23[". Tabs stay;
// backslashes are kept as they are, so that the text reads as written.
func Inline(s string) string {
	if plain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, w := 0, 0; i < len(s); i += w {
		r := rune(s[i])
		w = 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		switch {
		case r == utf8.RuneError && w == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t' || unicode.IsPrint(r):
			b.WriteString(s[i : i+w])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return strings.ReplaceAll(b.String(), "##[", `#\x23[`)
}

// plain is true when Inline would not change s.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return !strings.Contains(s, "##[")
}

// Line returns s fit to be printed as a whole line: Inline, and a line that
// would start with "::" starts with "\x3a:" instead.
func Line(s string) string {
	s = Inline(s)
	rest := strings.TrimLeft(s, " \t")
	if strings.HasPrefix(rest, "::") {
		return s[:len(s)-len(rest)] + `\x3a` + rest[1:]
	}
	return s
}

// JSON returns encoded JSON with "##[" written "#\u0023[", which decodes
// to the same: JSON escapes line breaks itself, and starts every line of an
// indented document with a quote or a bracket, but not the legacy command.
func JSON(data []byte) []byte {
	return bytes.ReplaceAll(data, []byte("##["), []byte(`#\u0023[`))
}

// Lines is Line for each line of a text of several: for messages made
// elsewhere (a library's error) whose line breaks are meant.
func Lines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Line(l)
	}
	return strings.Join(lines, "\n")
}
