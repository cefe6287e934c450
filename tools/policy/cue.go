package policy

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/encoding/yaml"

	"github.com/capiform/capiform/policies"
	"github.com/capiform/capiform/tools/diag"
)

// PackageName is the CUE package of the policies, and of a site policy.
const PackageName = "policies"

// policyDir is where the embedded files are in the repository; CUE
// positions in them read policies/<file>.cue.
const policyDir = "policies"

// compile builds package policies from the embedded files. A site's policy
// is never part of it: see sitePolicy.
func compile(ctx *cue.Context) (cue.Value, error) {
	inst := build.NewContext().NewInstance(policyDir, nil)
	names, err := fs.Glob(policies.FS, "*.cue")
	if err != nil {
		return cue.Value{}, err
	}
	sort.Strings(names)
	for _, n := range names {
		src, err := fs.ReadFile(policies.FS, n)
		if err != nil {
			return cue.Value{}, err
		}
		f, err := parser.ParseFile(path.Join(policyDir, n), src, parser.ParseComments)
		if err != nil {
			return cue.Value{}, err
		}
		if err := inst.AddSyntax(f); err != nil {
			return cue.Value{}, err
		}
	}
	v := ctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		return cue.Value{}, err
	}
	if err := v.Validate(); err != nil {
		return cue.Value{}, err
	}
	return v, nil
}

// extract turns a definition's YAML into CUE, keeping the file name and
// positions so that every CUE error points into the definition.
func extract(ctx *cue.Context, file string, src []byte) (cue.Value, error) {
	f, err := yaml.Extract(file, src)
	if err != nil {
		return cue.Value{}, err
	}
	v := ctx.BuildFile(f)
	return v, v.Err()
}

// cueDiags turns a CUE error into diagnostics, each at the position in
// file when the error has one there, else at the field its path names
// (at), else at the site policy that raised it. schema, when it exists, is
// the definition the error's paths are in; an empty disjunction is
// reported with the values it allows.
func cueDiags(err error, file, rule, hint string, at func(string) diag.Pos, schema cue.Value) diag.List {
	var out diag.List
	disjunctions := map[string]bool{}
	errs := cueerrors.Errors(err)
	for _, e := range errs {
		if format, _ := e.Msg(); strings.Contains(format, "errors in empty disjunction") {
			disjunctions[fieldPath(e.Path())] = true
		}
	}
	for _, e := range errs {
		fp := fieldPath(e.Path())
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		disjunction := strings.Contains(format, "errors in empty disjunction")
		if disjunctions[fp] && !disjunction {
			continue // reported once, with the values allowed
		}
		if disjunction && schema.Exists() {
			if allowed := schemaAt(schema, e.Path()); allowed.Exists() {
				msg = fmt.Sprintf("the value is none of those allowed (%v)", allowed)
			}
		}
		pos := diag.Pos{File: file, Line: 1, Col: 1}
		if at != nil {
			pos = at(fp)
		}
		var policyAt *diag.Pos
		found := false
		for _, p := range cueerrors.Positions(e) {
			dp := diag.Pos{File: p.Filename(), Line: p.Line(), Col: p.Column()}
			if dp.File == file && !found {
				pos, found = dp, true
			}
			if strings.HasSuffix(dp.File, "/"+SitePolicyFile) && policyAt == nil {
				policyAt = &dp
			}
		}
		r, h := rule, hint
		if policyAt != nil && policyAt.File != file {
			r = "policy.site-policy"
			h = fmt.Sprintf("the site policy requires it (%s)", policyAt)
			if !found && at == nil {
				pos = *policyAt
			}
		}
		if fp != "" {
			msg = fp + ": " + msg
		}
		out = append(out, diag.Diagnostic{Pos: pos, Rule: r, Message: msg + ": " + h, Severity: diag.Error})
	}
	return out
}

// schemaAt returns the part of schema that constrains the field at a CUE
// error path: list indices become "any element", and a field may be
// required or optional.
func schemaAt(schema cue.Value, p []string) cue.Value {
	v := schema
	for i, s := range p {
		if i == 0 && rootLabel(s) {
			continue
		}
		if _, err := strconv.Atoi(s); err == nil {
			v = v.LookupPath(cue.MakePath(cue.AnyIndex))
			continue
		}
		next := v.LookupPath(cue.MakePath(cue.Str(s)))
		for _, sel := range []cue.Selector{cue.Str(s).Required(), cue.Str(s).Optional()} {
			if !next.Exists() {
				next = v.LookupPath(cue.MakePath(sel))
			}
		}
		v = next
	}
	return v
}

// rootLabel reports whether s, the first element of a CUE error path, is
// the definition (or a site policy's part of one) the path is in, not a
// field of the definition file.
func rootLabel(s string) bool {
	return strings.HasPrefix(s, "#") || strings.HasPrefix(strings.TrimPrefix(s, `"`), extensionLabel(""))
}

// fieldPath turns a CUE error path such as [#Cluster spec nodeGroups 0
// flavor] into the loader's spec.nodeGroups[0].flavor.
func fieldPath(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if i == 0 && rootLabel(s) {
			continue
		}
		if _, err := strconv.Atoi(s); err == nil {
			b.WriteString("[" + s + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// violations decodes the violations of an evaluated rule set:
// path -> rule -> message.
func violations(v cue.Value) (map[string]map[string]string, error) {
	var m map[string]map[string]string
	vv := v.LookupPath(cue.ParsePath("violations"))
	if !vv.Exists() {
		return nil, fmt.Errorf("the rule set has no violations: %v", vv.Err())
	}
	if err := vv.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
