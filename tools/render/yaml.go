package render

import (
	"bytes"
	"sort"
	"strconv"
	"sync"
	"unicode"
	"unsafe"

	yamlv2 "go.yaml.in/yaml/v2"
)

// This file writes YAML exactly as go.yaml.in/yaml/v2 (and so
// sigs.k8s.io/yaml) would, for the values that decoding JSON gives, about
// five times faster: the YAML encoder weighs every string through
// reflection and its emitter's state machine, which is most of the cost of
// writing a fleet's trees and of `expand --all`. Whatever it cannot write
// byte for byte as yaml.v2 would (a multi-line string, a long string with
// spaces that yaml.v2 may fold, an odd key), it leaves to yaml.v2 itself:
// fastYAML then reports false and the whole object goes through yaml.v2.
// TestFastYAMLMatchesYAMLv2 and FuzzFastYAML hold it to that.

// bestWidth is yaml.v2's preferred line width: a scalar with spaces that
// reaches past it may be folded onto the next line.
const bestWidth = 80

// fastYAML returns the YAML of m (map[string]any, []any, string, int64,
// float64, bool and nil inside), or false.
func fastYAML(m map[string]any) ([]byte, bool) {
	var e yamlEmitter
	if len(m) == 0 {
		return []byte("{}\n"), true
	}
	if !e.mapping(m, 0, false) {
		return nil, false
	}
	return e.buf, true
}

type yamlEmitter struct{ buf []byte }

func (e *yamlEmitter) indent(n int) {
	for range n {
		e.buf = append(e.buf, ' ')
	}
}

// mapping writes m's keys at column indent; inline means the first key
// follows a "- " already written.
func (e *yamlEmitter) mapping(m map[string]any, indent int, inline bool) bool {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !plainString(k) || len(k) > 128 {
			return false
		}
		keys = append(keys, k)
	}
	sort.Sort(yamlKeys(keys))
	for i, k := range keys {
		if i > 0 || !inline {
			e.indent(indent)
		}
		e.buf = append(e.buf, k...)
		e.buf = append(e.buf, ':')
		if !e.value(m[k], indent, indent+len(k)+2, true) {
			return false
		}
	}
	return true
}

// sequence writes s's items at column indent; inline means the first item
// follows a "- " already written.
func (e *yamlEmitter) sequence(s []any, indent int, inline bool) bool {
	for i, v := range s {
		if i > 0 || !inline {
			e.indent(indent)
		}
		e.buf = append(e.buf, '-')
		if !e.value(v, indent, indent+2, false) {
			return false
		}
	}
	return true
}

// value writes what follows "key:" or "-": a scalar at column col, or a
// nested block. In a mapping (inMap), a nested sequence is not indented.
func (e *yamlEmitter) value(v any, indent, col int, inMap bool) bool {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			e.buf = append(e.buf, " {}\n"...)
			return true
		}
		if inMap {
			e.buf = append(e.buf, '\n')
			return e.mapping(t, indent+2, false)
		}
		e.buf = append(e.buf, ' ')
		return e.mapping(t, indent+2, true)
	case []any:
		if len(t) == 0 {
			e.buf = append(e.buf, " []\n"...)
			return true
		}
		if inMap {
			e.buf = append(e.buf, '\n')
			return e.sequence(t, indent, false)
		}
		e.buf = append(e.buf, ' ')
		return e.sequence(t, indent+2, true)
	}
	s, ok := scalar(v, col)
	if !ok {
		return false
	}
	e.buf = append(e.buf, ' ')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, '\n')
	return true
}

// scalar is the YAML of a scalar written at column col.
func scalar(v any, col int) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "null", true
	case bool:
		if t {
			return "true", true
		}
		return "false", true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int:
		return strconv.Itoa(t), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 64)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, true
	case string:
		if plainString(t) {
			return t, true
		}
		return quotedString(t, col)
	}
	return "", false
}

// plainString reports whether yaml.v2 writes s as it is: it starts with a
// letter, '_' or '/', holds only letters, digits and "_./-=@" and colons
// not at its end, and is none of the words YAML 1.1 reads as a bool or
// null. Such a string resolves to a string, needs no quotes and is never
// folded.
func plainString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '/':
		case i == 0:
			return false
		case c >= '0' && c <= '9', c == '.', c == '-', c == '=', c == '@':
		case c == ':' && i < len(s)-1:
		default:
			return false
		}
	}
	return !yaml11Word[s]
}

// yaml11Word are the plain scalars that start with a letter and yet do not
// resolve to a string in yaml.v2.
var yaml11Word = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true,
	"false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true,
	"off": true, "Off": true, "OFF": true,
	"null": true, "Null": true, "NULL": true,
}

// quoted caches yaml.v2's own one-line form of strings that plainString
// does not take (numbers as strings, timestamps, strings with spaces):
// values repeat across a fleet.
var quoted sync.Map // string -> string ("" when yaml.v2 needs more than a line)

// quotedString asks yaml.v2 for s alone. Its one-line form is the same at
// any column as long as it ends by the preferred width (yaml.v2 folds only
// at a space past it); a string it writes on more lines (a literal block)
// is left to yaml.v2 in context.
func quotedString(s string, col int) (string, bool) {
	var line string
	if v, ok := quoted.Load(s); ok {
		line = v.(string)
	} else {
		if len(s) <= 256 {
			b, err := yamlv2.Marshal(s)
			if err == nil && bytes.IndexByte(b, '\n') == len(b)-1 && b[0] != '|' && b[0] != '>' {
				line = string(b[:len(b)-1])
			}
		}
		quoted.Store(s, line)
	}
	if line == "" {
		return "", false
	}
	for i := 0; i < len(line); i++ {
		if line[i] >= 0x80 {
			return "", false // columns count runes; keep to ASCII
		}
	}
	if col+len(line) > bestWidth {
		for i := 0; i < len(s); i++ {
			if s[i] == ' ' {
				return "", false
			}
		}
	}
	return line, true
}

// yamlKeys sorts keys as yaml.v2 does: letters before other characters,
// runs of digits by their value.
type yamlKeys []string

func (l yamlKeys) Len() int      { return len(l) }
func (l yamlKeys) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l yamlKeys) Less(i, j int) bool {
	if isASCII(l[i]) && isASCII(l[j]) {
		// The keys' bytes, read in place: sorting must not allocate.
		return keyLess(unsafe.Slice(unsafe.StringData(l[i]), len(l[i])), unsafe.Slice(unsafe.StringData(l[j]), len(l[j])))
	}
	return keyLess([]rune(l[i]), []rune(l[j]))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// keyLess is yaml.v2's order of two keys, as bytes (ASCII) or runes.
func keyLess[T byte | rune](ar, br []T) bool {
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al := unicode.IsLetter(rune(ar[i]))
		bl := unicode.IsLetter(rune(br[i]))
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(rune(ar[j])); j-- {
				if ar[j] != '0' {
					an = 1
					bn = 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(rune(ar[ai])); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(rune(br[bi])); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}
