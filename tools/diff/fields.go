package diff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Action is what happened to an object, a field or a node group.
type Action string

// Actions.
const (
	Added   Action = "added"
	Removed Action = "removed"
	Changed Action = "changed"
	// Kept is an object that disappears from the release but that Helm
	// keeps (helm.sh/resource-policy: keep), such as a superseded machine
	// template that Machines still refer to.
	Kept Action = "kept"
)

// Redacted stands for a Secret value in every output.
const Redacted = "(redacted)"

// FieldChange is one changed leaf (or subtree) of an object.
type FieldChange struct {
	// Path is the field's path, e.g. spec.template.spec.flavor or
	// spec.joinConfiguration.nodeRegistration.taints[key=nvidia.com/gpu].
	Path   string `json:"path"`
	Action Action `json:"action"`
	// Old and New are the values as compact YAML-like text; empty when the
	// field is absent on that side; Redacted for Secret data.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// String renders the change on one line.
func (f FieldChange) String() string {
	switch f.Action {
	case Added:
		return fmt.Sprintf("%s: + %s", f.Path, f.New)
	case Removed:
		return fmt.Sprintf("%s: - %s", f.Path, f.Old)
	}
	if f.Old == Redacted || f.New == Redacted {
		return f.Path + ": value changed"
	}
	return fmt.Sprintf("%s: %s -> %s", f.Path, f.Old, f.New)
}

// compareFields returns the changed fields between two values, sorted by
// path. Lists of maps that all carry a "name" (or "key", or "type") are
// matched by it, so that inserting a node group does not show as a change
// of every later one; other lists are compared whole.
func compareFields(prefix string, a, b any) []FieldChange {
	var out []FieldChange
	walkFields(prefix, a, b, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func walkFields(p string, a, b any, out *[]FieldChange) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil:
		if m, ok := b.(map[string]any); ok && len(m) > 0 {
			// Leaf by leaf, so that each path can be classified.
			for _, k := range sortedKeys(m) {
				walkFields(join(p, k), nil, m[k], out)
			}
			return
		}
		*out = append(*out, FieldChange{Path: p, Action: Added, New: text(b)})
		return
	case b == nil:
		if m, ok := a.(map[string]any); ok && len(m) > 0 {
			for _, k := range sortedKeys(m) {
				walkFields(join(p, k), m[k], nil, out)
			}
			return
		}
		*out = append(*out, FieldChange{Path: p, Action: Removed, Old: text(a)})
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			walkFields(join(p, k), am[k], bm[k], out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		if key := listKey(al, bl); key != "" {
			ai, bi := index(al, key), index(bl, key)
			keys := map[string]bool{}
			for k := range ai {
				keys[k] = true
			}
			for k := range bi {
				keys[k] = true
			}
			for _, k := range sortedKeys(keys) {
				walkFields(fmt.Sprintf("%s[%s=%s]", p, key, k), ai[k], bi[k], out)
			}
			return
		}
		if len(al) == len(bl) {
			for i := range al {
				walkFields(fmt.Sprintf("%s[%d]", p, i), al[i], bl[i], out)
			}
			return
		}
	}
	if !equal(a, b) {
		*out = append(*out, FieldChange{Path: p, Action: Changed, Old: text(a), New: text(b)})
	}
}

func join(p, k string) string {
	if strings.ContainsAny(k, ".[]") {
		k = strconv.Quote(k)
	}
	if p == "" {
		return k
	}
	return p + "." + k
}

// listKey returns the field that identifies the items of both lists, or "".
func listKey(a, b []any) string {
	for _, key := range []string{"name", "key", "type"} {
		if keyed(a, key) && keyed(b, key) && (len(a) > 0 || len(b) > 0) {
			return key
		}
	}
	return ""
}

func keyed(l []any, key string) bool {
	seen := map[string]bool{}
	for _, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			return false
		}
		v, ok := m[key].(string)
		if !ok || seen[v] {
			return false
		}
		seen[v] = true
	}
	return true
}

func index(l []any, key string) map[string]any {
	out := make(map[string]any, len(l))
	for _, it := range l {
		m := it.(map[string]any)
		out[m[key].(string)] = m
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// equal compares two decoded values; numbers compare by value whatever
// their Go type (YAML gives int64, JSON float64).
func equal(a, b any) bool {
	return text(a) == text(b)
}

// text renders a value compactly and deterministically (JSON, which sorts
// map keys); strings are unquoted when unambiguous.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// isSecret reports whether the object is a Secret, none of whose content
// may be shown: its data, and its metadata too (a kubectl
// last-applied-configuration annotation holds the data; labels and
// annotations are where tools put tokens). Any apiVersion: a Secret that
// decodes with a group is still read as one by whoever wrote it.
func isSecret(o *unstructured.Unstructured) bool {
	return o != nil && o.GetKind() == "Secret"
}

// redact replaces every value in the changes of a Secret (data,
// stringData, annotations, labels, type, everything but its name and
// namespace, which are its key and never a field change), keeping which
// fields changed.
func redact(changes []FieldChange) []FieldChange {
	for i, c := range changes {
		if c.Old != "" {
			changes[i].Old = Redacted
		}
		if c.New != "" {
			changes[i].New = Redacted
		}
	}
	return changes
}

// secretKeys lists a Secret's data and stringData keys, without values.
func secretKeys(o *unstructured.Unstructured) []string {
	var keys []string
	for _, f := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedMap(o.Object, f)
		for _, k := range sortedKeys(m) {
			keys = append(keys, f+"."+k)
		}
	}
	return keys
}
