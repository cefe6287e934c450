package importer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/capiform/capiform/tools/diag"
)

// doc is one parsed input with what has been read of it, so that whatever
// is left at the end can be named in a warning.
type doc struct {
	file string
	root *yaml.Node
	used map[*yaml.Node]bool
	r    *run
}

// run collects an import's findings.
type run struct {
	warnings diag.List
	errs     diag.List
}

func (r *run) warn(pos diag.Pos, rule, format string, args ...any) {
	r.warnings = append(r.warnings, diag.Diagnostic{Pos: pos, Rule: rule, Message: diag.Inline(fmt.Sprintf(format, args...)), Severity: diag.Warning})
}

func (r *run) fail(pos diag.Pos, rule, format string, args ...any) {
	r.errs.Add(pos, rule, format, args...)
}

// val is a node of a doc and its key path, like nodeGroups[1].machineFlavor.
type val struct {
	d    *doc
	n    *yaml.Node
	path string
}

func (d *doc) top() val { return val{d: d, n: d.root} }

func (v val) join(key string) string {
	if v.path == "" {
		return key
	}
	return v.path + "." + key
}

// get returns the value of key in a mapping; a missing key, or a null
// value, is a val that is not ok.
func (v val) get(key string) val {
	out := val{d: v.d, path: v.join(key)}
	if v.n == nil || v.n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(v.n.Content); i += 2 {
		if v.n.Content[i].Value == key {
			out.n = v.n.Content[i+1]
			if out.n.Kind == yaml.AliasNode {
				out.n = out.n.Alias
			}
			if out.n != nil && out.n.Tag == "!!null" {
				out.n = nil
			}
			return out
		}
	}
	return out
}

// at follows a dotted path of keys.
func (v val) at(path string) val {
	for _, k := range strings.Split(path, ".") {
		v = v.get(k)
	}
	return v
}

func (v val) ok() bool { return v.n != nil }

func (v val) isMap() bool { return v.n != nil && v.n.Kind == yaml.MappingNode }

func (v val) pos() diag.Pos {
	p := diag.Pos{File: v.d.file}
	if v.n != nil {
		p.Line, p.Col = v.n.Line, v.n.Column
	}
	return p
}

// use marks the node and everything under it as read.
func (v val) use() {
	if v.n == nil {
		return
	}
	var mark func(n *yaml.Node)
	mark = func(n *yaml.Node) {
		v.d.used[n] = true
		for _, c := range n.Content {
			mark(c)
		}
	}
	mark(v.n)
}

// str reads a scalar as a string.
func (v val) str() (string, bool) {
	if v.n == nil {
		return "", false
	}
	if v.n.Kind != yaml.ScalarNode {
		v.d.r.fail(v.pos(), "import.type", "%s: want a single value, found a %s", v.path, kindName(v.n))
		v.use()
		return "", false
	}
	v.use()
	return v.n.Value, true
}

// boolean reads true/false, also as the strings Magnum's labels are.
func (v val) boolean() (bool, bool) {
	s, ok := v.str()
	if !ok {
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(s))
	if err != nil {
		v.d.r.fail(v.pos(), "import.type", "%s: %q is not true or false", v.path, s)
		return false, false
	}
	return b, true
}

// integer reads a whole number, also as a string.
func (v val) integer() (int, bool) {
	s, ok := v.str()
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || i < 0 || i > 1<<20 {
		v.d.r.fail(v.pos(), "import.type", "%s: %q is not a whole number from 0", v.path, s)
		return 0, false
	}
	return i, true
}

// mapping marks a mapping read and says whether v is one; a value of
// another kind fails the import (a missing one does not).
func (v val) mapping() bool {
	if !v.isMap() {
		if v.n != nil {
			v.d.r.fail(v.pos(), "import.type", "%s: want a mapping, found a %s", v.path, kindName(v.n))
			v.use()
		}
		return false
	}
	v.d.used[v.n] = true
	return true
}

// keys are the keys of a mapping, sorted; the mapping (not its values)
// is marked read.
func (v val) keys() []string {
	if !v.mapping() {
		return nil
	}
	out := make([]string, 0, len(v.n.Content)/2)
	for i := 0; i+1 < len(v.n.Content); i += 2 {
		out = append(out, v.n.Content[i].Value)
	}
	sort.Strings(out)
	return out
}

// strings reads a list of scalars (or one scalar).
func (v val) strings() []string {
	if v.n == nil {
		return nil
	}
	if v.n.Kind == yaml.ScalarNode {
		s, _ := v.str()
		return splitList(s)
	}
	var out []string
	for _, it := range v.items() {
		if s, ok := it.str(); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// items are the entries of a sequence.
func (v val) items() []val {
	if v.n == nil {
		return nil
	}
	if v.n.Kind != yaml.SequenceNode {
		v.d.r.fail(v.pos(), "import.type", "%s: want a list, found a %s", v.path, kindName(v.n))
		v.use()
		return nil
	}
	v.d.used[v.n] = true
	out := make([]val, len(v.n.Content))
	for i, c := range v.n.Content {
		out[i] = val{d: v.d, n: c, path: fmt.Sprintf("%s[%d]", v.path, i)}
	}
	return out
}

// stringMap reads a mapping of scalars, in key order.
func (v val) stringMap() map[string]string {
	if !v.mapping() {
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.n.Content); i += 2 {
		k := v.n.Content[i].Value
		if s, ok := v.get(k).str(); ok {
			out[k] = s
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}

// leftovers warns of every setting of v that was not read: once for a
// subtree with a known reason, else once per leaf. Empty values are not
// settings.
func (v val) leftovers(rule string, reasons func(path string) (string, bool)) {
	if v.n == nil || v.d.used[v.n] {
		return
	}
	if empty(v.n) {
		return
	}
	// An alias may refer to a node that holds it: each node is reported
	// once.
	v.d.used[v.n] = true
	generic := genericPath(v.path)
	if reason, ok := reasons(generic); ok && !v.d.partlyUsed(v.n) {
		v.d.r.warn(v.pos(), rule, "%s: %s: left out", v.path, reason)
		return
	}
	switch v.n.Kind {
	case yaml.MappingNode:
		keys := make([]string, 0, len(v.n.Content)/2)
		for i := 0; i+1 < len(v.n.Content); i += 2 {
			keys = append(keys, v.n.Content[i].Value)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v.get(k).leftovers(rule, reasons)
		}
	case yaml.SequenceNode:
		for i, c := range v.n.Content {
			val{d: v.d, n: c, path: fmt.Sprintf("%s[%d]", v.path, i)}.leftovers(rule, reasons)
		}
	default:
		v.d.r.warn(v.pos(), rule, "%s: capiform has no equivalent setting: left out", v.path)
	}
}

// partlyUsed reports whether anything under n was read: then its
// subtree is reported key by key, not as a whole.
func (d *doc) partlyUsed(n *yaml.Node) bool {
	for _, c := range n.Content {
		if d.used[c] || d.partlyUsed(c) {
			return true
		}
	}
	return false
}

// genericPath drops list indices: nodeGroups[2].x is nodeGroups[].x.
func genericPath(p string) string {
	var b strings.Builder
	skip := false
	for _, r := range p {
		switch {
		case r == '[':
			skip = true
			b.WriteString("[]")
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func empty(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return n.Tag == "!!null"
	}
	return false
}
