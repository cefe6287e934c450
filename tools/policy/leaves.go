package policy

import (
	"fmt"

	"cuelang.org/go/cue"
)

// leaf is one scalar of a definition; see #Leaf in policies/rules.cue.
type leaf struct {
	P string `json:"p"`
	K string `json:"k"`
	V any    `json:"v"`
}

// leaves lists the scalars of a definition for the CUE rules that judge
// every value wherever it is (#NoCredentials): CUE cannot recurse into a
// free-form value of any depth, so Go walks and CUE judges.
func leaves(v cue.Value) []leaf {
	out := []leaf{}
	var walk func(v cue.Value, p, k string)
	walk = func(v cue.Value, p, k string) {
		switch v.Kind() {
		case cue.StructKind:
			it, err := v.Fields()
			if err != nil {
				return
			}
			for it.Next() {
				name := it.Selector().Unquoted()
				q := name
				if p != "" {
					q = p + "." + name
				}
				walk(it.Value(), q, name)
			}
		case cue.ListKind:
			it, err := v.List()
			if err != nil {
				return
			}
			for i := 0; it.Next(); i++ {
				walk(it.Value(), fmt.Sprintf("%s[%d]", p, i), k)
			}
		case cue.StringKind:
			s, _ := v.String()
			out = append(out, leaf{P: p, K: k, V: s})
		case cue.IntKind, cue.FloatKind, cue.NumberKind:
			f, _ := v.Float64()
			out = append(out, leaf{P: p, K: k, V: f})
		case cue.BoolKind:
			b, _ := v.Bool()
			out = append(out, leaf{P: p, K: k, V: b})
		}
	}
	walk(v, "", "")
	return out
}
