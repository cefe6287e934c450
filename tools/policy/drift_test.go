package policy

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capiform/capiform/tools/api/v1alpha1"
)

// TestGoTypesMatchCUE walks the Go definition kinds by reflection and the
// CUE schemas side by side: the same fields, the same optionality
// (omitempty is optional, anything else required) and the same types.
func TestGoTypesMatchCUE(t *testing.T) {
	v, err := compile(cuecontext.New())
	if err != nil {
		t.Fatal(err)
	}
	for def, typ := range map[string]reflect.Type{
		"#Site":    reflect.TypeOf(v1alpha1.Site{}),
		"#Cluster": reflect.TypeOf(v1alpha1.Cluster{}),
	} {
		compareType(t, def, typ, v.LookupPath(cue.ParsePath(def)))
	}
}

var (
	anyGoType       = reflect.TypeOf((*any)(nil)).Elem()
	intOrStringType = reflect.TypeOf(intstr.IntOrString{})
)

// jsonFields lists a struct's fields as encoding/json sees them: an
// embedded struct without a json name is flattened into its parent.
func jsonFields(typ reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		out = append(out, f)
	}
	return out
}

func compareType(t *testing.T, at string, typ reflect.Type, v cue.Value) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if !v.Exists() {
		t.Errorf("%s: no CUE schema", at)
		return
	}
	kind := v.IncompleteKind()
	if typ == intOrStringType {
		// A number or a percentage, as Cluster API takes it.
		if kind != cue.IntKind|cue.StringKind {
			t.Errorf("%s: Go intstr.IntOrString, CUE %v", at, kind)
		}
		return
	}
	if typ == anyGoType {
		if kind != cue.TopKind {
			t.Errorf("%s: Go any, CUE %v", at, kind)
		}
		return
	}
	want := map[reflect.Kind]cue.Kind{
		reflect.String: cue.StringKind, reflect.Int: cue.IntKind, reflect.Int64: cue.IntKind,
		reflect.Bool: cue.BoolKind, reflect.Struct: cue.StructKind, reflect.Map: cue.StructKind,
		reflect.Slice: cue.ListKind,
	}[typ.Kind()]
	if want == cue.BottomKind || kind != want {
		t.Errorf("%s: Go %v, CUE %v", at, typ, kind)
		return
	}
	switch typ.Kind() {
	case reflect.Slice:
		compareType(t, at+"[]", typ.Elem(), v.LookupPath(cue.MakePath(cue.AnyIndex)))
	case reflect.Map:
		compareType(t, at+"[string]", typ.Elem(), v.LookupPath(cue.MakePath(cue.AnyString)))
	case reflect.Struct:
		goFields := map[string]bool{} // name -> optional
		fields := jsonFields(typ)
		for _, f := range fields {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || name == "" {
				t.Errorf("%s.%s: every field needs a json name", at, f.Name)
				continue
			}
			goFields[name] = strings.Contains(opts, "omitempty")
		}
		cueFields := map[string]cue.Value{}
		cueOptional := map[string]bool{}
		it, err := v.Fields(cue.Optional(true))
		if err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		for it.Next() {
			sel := it.Selector()
			name := sel.Unquoted()
			cueFields[name] = it.Value()
			cueOptional[name] = sel.ConstraintType() == cue.OptionalConstraint
			if ct := sel.ConstraintType(); ct != cue.OptionalConstraint && ct != cue.RequiredConstraint {
				t.Errorf("%s.%s: mark it required (!) or optional (?)", at, name)
			}
		}
		for _, name := range sortedKeys(goFields) {
			cv, ok := cueFields[name]
			if !ok {
				t.Errorf("%s.%s: in Go, not in CUE", at, name)
				continue
			}
			if goFields[name] != cueOptional[name] {
				t.Errorf("%s.%s: Go optional=%v (omitempty), CUE optional=%v", at, name, goFields[name], cueOptional[name])
			}
			for _, f := range fields {
				if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
					compareType(t, at+"."+name, f.Type, cv)
				}
			}
		}
		var extra []string
		for name := range cueFields {
			if _, ok := goFields[name]; !ok {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		for _, name := range extra {
			t.Errorf("%s.%s: in CUE, not in Go", at, name)
		}
	}
}
