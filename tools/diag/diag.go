// Package diag carries the problems found in definitions: each with the
// file, line and column it is about, the name of the rule that found it and
// a message that says what to do.
package diag

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
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

// String formats the diagnostic as file:line:col: message [rule].
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s [%s]", d.Pos, d.Message, d.Rule)
}

// List is a set of diagnostics; as an error it stands for all of them.
type List []Diagnostic

// Add appends a diagnostic.
func (l *List) Add(pos Pos, rule, format string, args ...any) {
	*l = append(*l, Diagnostic{Pos: pos, Rule: rule, Message: fmt.Sprintf(format, args...), Severity: Error})
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
