package diag

import (
	"strings"
	"testing"
	"unicode"
)

// startsCommand is how the GitHub runner finds a workflow command in a
// line: "::" after leading white space, or "##[" anywhere.
func startsCommand(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || strings.Contains(line, "##[")
}

// lineBreaks are what a reader of the log splits lines at.
const lineBreaks = "\r\n\v\f\u0085\u2028\u2029"

func TestEscapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, inline, line string
	}{
		{name: "plain", in: "flavor m1.large", inline: "flavor m1.large", line: "flavor m1.large"},
		{name: "an IPv6 address inside a line", in: "::/0", inline: "::/0", line: `\x3a:/0`},
		{name: "a newline and a command", in: "a\n::warning file=x::pwned", inline: `a\n::warning file=x::pwned`, line: `a\n::warning file=x::pwned`},
		{name: "a carriage return", in: "a\r::error::x", inline: `a\r::error::x`, line: `a\r::error::x`},
		{name: "percent escapes stay text", in: "a%0A::warning::x", inline: "a%0A::warning::x", line: "a%0A::warning::x"},
		{name: "a command at the start", in: "::warning file=x::pwned", inline: "::warning file=x::pwned", line: `\x3a:warning file=x::pwned`},
		{name: "a command after spaces", in: "  \t::add-mask::x", inline: "  \t::add-mask::x", line: "  \t\\x3a:add-mask::x"},
		{name: "a legacy command anywhere", in: "key ##[error]pwned", inline: `key #\x23[error]pwned`, line: `key #\x23[error]pwned`},
		{name: "three hashes", in: "###[stop-commands]t", inline: `##\x23[stop-commands]t`, line: `##\x23[stop-commands]t`},
		{name: "a NUL byte and DEL", in: "a\x00b\x7f", inline: `a\x00b\x7f`, line: `a\x00b\x7f`},
		{name: "not UTF-8", in: "a\xffb", inline: `a\xffb`, line: `a\xffb`},
		{name: "Unicode line breaks", in: "a\u2028::x\u0085b", inline: `a\u2028::x\u0085b`, line: `a\u2028::x\u0085b`},
		{name: "a non-ASCII space before a command", in: "\u00a0::warning::x", inline: `\u00a0::warning::x`, line: `\u00a0::warning::x`},
		{name: "a bidirectional override", in: "a\u202eb", inline: `a\u202eb`, line: `a\u202eb`},
		{name: "printable Unicode stays", in: "→ é ⛔", inline: "→ é ⛔", line: "→ é ⛔"},
		{name: "backslashes stay", in: `a\nb`, inline: `a\nb`, line: `a\nb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Inline(tt.in); got != tt.inline {
				t.Errorf("Inline(%q) = %q, want %q", tt.in, got, tt.inline)
			}
			got := Line(tt.in)
			if got != tt.line {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
			}
			if strings.ContainsAny(got, lineBreaks) || startsCommand(got) {
				t.Errorf("Line(%q) = %q can break the line or start a command", tt.in, got)
			}
			if again := Line(got); again != got {
				t.Errorf("Line is not idempotent: %q -> %q", got, again)
			}
		})
	}
}

// TestDiagnosticIsOneSafeLine: a diagnostic whose file and message quote
// hostile values prints as one line that starts no workflow command.
func TestDiagnosticIsOneSafeLine(t *testing.T) {
	t.Parallel()
	hostile := []string{"\n::warning file=x::pwned", "%0A::error::x", "\r::error::x", "##[add-mask]x", "a\u2028::x"}
	for _, h := range hostile {
		var l List
		l.Add(Pos{File: "clusters/lon/" + h + ".yaml", Line: 3, Col: 5}, "load.x", "label key %s is bad", h)
		if strings.ContainsAny(l[0].Message, lineBreaks) {
			t.Errorf("message %q holds a line break", l[0].Message)
		}
		// A diagnostic made whole (from a CUE error) is safe when printed.
		l = append(l, Diagnostic{Pos: Pos{File: h}, Rule: "policy.x", Message: h})
		out := l.Error()
		if n := strings.Count(out, "\n"); n != len(l)-1 {
			t.Errorf("%d diagnostics on %d lines:\n%s", len(l), n+1, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.ContainsAny(line, lineBreaks) || startsCommand(line) {
				t.Errorf("line %q can start a workflow command", line)
			}
		}
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	got := Lines("error: chart failed:\n::warning file=x::pwned\r\n  ##[error]y")
	want := "error: chart failed:\n\\x3a:warning file=x::pwned\\r\n  #\\x23[error]y"
	if got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}
