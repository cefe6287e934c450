package policy

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
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

type extraFile struct {
	name string
	src  []byte
}

// compile builds package policies from the embedded files and, when extra
// is not nil, a site's policy file unified with them.
func compile(ctx *cue.Context, extra *extraFile) (cue.Value, error) {
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
	if extra != nil {
		f, err := parser.ParseFile(extra.name, extra.src)
		if err != nil {
			return cue.Value{}, err
		}
		if f.PackageName() == "" {
			// A site policy may leave out its package clause.
			f.Decls = append([]ast.Decl{&ast.Package{Name: ast.NewIdent(PackageName)}}, f.Decls...)
		} else if f.PackageName() != PackageName {
			return cue.Value{}, fmt.Errorf("%s: package %s: a site policy is in package %s", extra.name, f.PackageName(), PackageName)
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
// file when the error has one there, else at the first position it has in
// a site policy or the definitions.
func cueDiags(err error, file, rule, hint string) diag.List {
	var out diag.List
	for _, e := range cueerrors.Errors(err) {
		pos := diag.Pos{File: file, Line: 1, Col: 1}
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
			if !found {
				pos = *policyAt
			}
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if p := e.Path(); len(p) > 0 {
			msg = strings.Join(p, ".") + ": " + msg
		}
		out = append(out, diag.Diagnostic{Pos: pos, Rule: r, Message: msg + ": " + h, Severity: diag.Error})
	}
	return out
}

// violations decodes the violations of an evaluated rule set:
// path -> rule -> message.
func violations(v cue.Value) (map[string]map[string]string, error) {
	var m map[string]map[string]string
	vv := v.LookupPath(cue.ParsePath("violations"))
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
