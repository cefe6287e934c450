package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/source"
)

// A site policy (clusters/<site>/policy.cue) can only tighten the base
// policy. It is never unified with the base: the base rules judge every
// definition on their own, and the site policy is evaluated apart, for the
// violations it adds. So whatever a site policy says, it cannot change a
// base verdict; and a site policy that tries to (redefining a base
// definition, adding fields to one, importing a package, writing a base
// rule's verdict, or failing to evaluate) is itself reported, as
// policy.site-policy with its file:line.

// extensionKind is what a site policy may do to a base definition.
type extensionKind int

const (
	// narrowing: a plain CUE constraint every definition of the kind must
	// also meet (#Cluster: spec: controlPlane: flavor: "small").
	narrowing extensionKind = iota + 1
	// ruleSet: more violations, computed from the rule set's inputs and
	// results (#ClusterRules: X={for g in X.groups ... {violations: ...}}).
	ruleSet
)

// extensionPoints are the only base definitions a site policy may declare.
var extensionPoints = map[string]extensionKind{
	"#Cluster":       narrowing,
	"#Site":          narrowing,
	"#ClusterRules":  ruleSet,
	"#SiteRules":     ruleSet,
	"#NoCredentials": ruleSet,
	"#ClusterChange": ruleSet,
}

// baseRulePrefix names the base policy's rules; a site names its own
// (lon.gpu-groups), so that no site can write a verdict that reads as the
// base policy's.
const baseRulePrefix = "policy."

const sitePolicyRule = "policy.site-policy"

// sitePolicy is a site's policy.cue, evaluated apart from the base.
type sitePolicy struct {
	file  string
	exts  map[string]cue.Value // extension point -> the site's part alone
	decls map[string]diag.Pos  // extension point -> its first declaration
	diags diag.List            // what is wrong with the policy itself
}

// extensionLabel is the field an extension point's site part is compiled
// under: a regular (open) field that no site policy can name, so that the
// site's part neither unifies with nor closes over the base definition.
func extensionLabel(def string) string { return "site policy " + def }

// loadSitePolicy reads, checks and compiles the policy of site s, or
// returns nil when the site has none: a site without one costs nothing.
func (e *engine) loadSitePolicy(head fs.FS, s *load.Site) *sitePolicy {
	if head == nil {
		return nil
	}
	file := path.Join(path.Dir(s.File), SitePolicyFile)
	src, err := fs.ReadFile(head, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	sp := &sitePolicy{file: file, exts: map[string]cue.Value{}, decls: map[string]diag.Pos{}}
	if err != nil {
		// Not a policy that judges nothing: one that cannot be read (a
		// link, a submodule: never followed).
		if d, ok := source.Diagnostic(err); ok {
			sp.diags = append(sp.diags, d)
			return sp
		}
		sp.diags.Add(diag.Pos{File: file}, sitePolicyRule, "the site policy cannot be read (%v): make %s a regular file", err, SitePolicyFile)
		return sp
	}
	f, err := parser.ParseFile(file, src)
	if err != nil {
		sp.diags = cueDiags(err, file, sitePolicyRule, "fix the site policy's syntax", nil, cue.Value{})
		return sp
	}
	if name := f.PackageName(); name != "" && name != PackageName {
		p := diag.Pos{File: file, Line: 1, Col: 1}
		for _, d := range f.Decls {
			if pk, ok := d.(*ast.Package); ok {
				p = posOf(file, pk.Name.Pos())
			}
		}
		sp.diags.Add(p, sitePolicyRule, "%s is in package %s, but a site policy is in package %s: write `package %s` (or leave the package clause out)", file, name, PackageName, PackageName)
		return sp
	}
	sp.diags = append(sp.diags, checkShape(file, f, e.base)...)
	sp.diags = append(sp.diags, removedFields(file, src)...)
	if len(sp.diags) > 0 {
		return sp // not used until it has the allowed shape
	}
	// The declarations of each extension point become one regular field,
	// built in the scope of the base policy: the site's part reads every
	// base definition but declares none of them.
	out := &ast.File{Filename: file}
	for _, d := range f.Decls {
		switch x := d.(type) {
		case *ast.Field:
			name := x.Label.(*ast.Ident).Name
			if _, ok := sp.decls[name]; !ok {
				sp.decls[name] = posOf(file, x.Label.Pos())
			}
			nf := *x
			label := ast.NewString(extensionLabel(name))
			ast.SetPos(label, x.Label.Pos())
			nf.Label = label
			out.Decls = append(out.Decls, &nf)
		case *ast.LetClause:
			out.Decls = append(out.Decls, x)
		}
	}
	v := e.ctx.BuildFile(out, cue.Scope(e.base))
	err = v.Err()
	if err == nil {
		err = v.Validate()
	}
	if err != nil {
		sp.diags = sp.evalDiags("", "", err)
		return sp
	}
	for name := range sp.decls {
		sp.exts[name] = v.LookupPath(cue.MakePath(cue.Str(extensionLabel(name))))
	}
	return sp
}

func posOf(file string, p token.Pos) diag.Pos {
	return diag.Pos{File: file, Line: p.Line(), Col: p.Column()}
}

// evalDiags reports an error in evaluating the site policy's part def
// ("" for the whole policy) for what (a definition file, or ""): at the
// line of the site policy the error names, else at def's declaration.
func (sp *sitePolicy) evalDiags(def, what string, err error) diag.List {
	hint := "a site policy only adds violations of its own and never conflicts with the base policy: fix or remove this part"
	if what != "" {
		hint = "evaluated for " + what + ": " + hint
	}
	l := cueDiags(err, sp.file, sitePolicyRule, hint, nil, cue.Value{})
	for i := range l {
		if p, ok := sp.decls[def]; ok && l[i].File == sp.file && l[i].Line == 1 && l[i].Col == 1 {
			l[i].Pos = p
		}
	}
	return l
}

// narrow checks data (a definition of kind def, #Cluster or #Site) against
// the site policy's narrowing of def, if any. The base schema has judged
// data already: what fails here fails the site policy alone.
func (sp *sitePolicy) narrow(def string, data cue.Value, file string, at func(string) diag.Pos) diag.List {
	if sp == nil {
		return nil
	}
	ext, ok := sp.exts[def]
	if !ok {
		return nil
	}
	err := ext.Unify(data).Validate(cue.Concrete(true), cue.All())
	if err == nil {
		return nil
	}
	return cueDiags(err, file, sitePolicyRule, fmt.Sprintf("the site policy requires it (%s)", sp.decls[def]), at, ext)
}

// judge returns the verdicts of a rule set: rv is the base rule set def,
// unified with its inputs, whose verdicts no site policy can change, and
// the site policy's part of def, evaluated on rv's inputs and results,
// adds its own. what names the definition judged, for the site policy's
// errors.
func judge(sp *sitePolicy, def string, rv cue.Value, file, what string) (map[string]map[string]string, diag.List) {
	m, err := violations(rv)
	if err != nil {
		return nil, cueDiags(err, file, "policy.eval", evalHint, nil, cue.Value{})
	}
	if sp == nil {
		return m, nil
	}
	ext, ok := sp.exts[def]
	if !ok {
		return m, nil
	}
	// The site's part reads rv's fields, each filled in as the finished
	// value it is: unifying with rv itself would evaluate the base rules a
	// second time. Only the violations are read, as of the base: rv's
	// fields hold the incomplete values its conditions test on purpose.
	sv := ext
	it, err := rv.Fields(cue.Definitions(false))
	if err != nil {
		return m, sp.evalDiags(def, what, err)
	}
	for it.Next() {
		sv = sv.FillPath(cue.MakePath(it.Selector()), it.Value())
	}
	sm, err := violations(sv)
	if err != nil {
		return m, sp.evalDiags(def, what, err)
	}
	// m is freshly decoded: the site's verdicts are added to it in place.
	if m == nil {
		m = map[string]map[string]string{}
	}
	var out diag.List
	for _, p := range sortedKeys(sm) {
		for _, rule := range sortedKeys(sm[p]) {
			if _, ok := m[p][rule]; ok {
				continue // the base's own verdict, as the site read it
			}
			if strings.HasPrefix(rule, baseRulePrefix) {
				out.Add(sp.decls[def], sitePolicyRule, "the site policy's %s reports rule %s (at %s), a name of the base policy's rules: a site policy adds rules of its own, named after the site (<site>.<rule>)", def, rule, p)
				continue
			}
			if m[p] == nil {
				m[p] = map[string]string{}
			}
			m[p][rule] = sm[p][rule]
		}
	}
	return m, out
}

const evalHint = "the policy could not judge this definition; fix the field or report a bug in policies/"

// allowedShape says what a site policy may declare.
const allowedShape = "a site policy may only narrow #Cluster or #Site and add violations to #ClusterRules, #SiteRules, #NoCredentials or #ClusterChange (helpers are let clauses)"

// checkShape reports every declaration of a site policy outside the
// allowed shape: an import; a top-level declaration other than an
// extension point or a let clause; in a rule set, a field other than
// violations (which would set, and so could change, the base rule set's
// inputs and results) or an embedded value; a verdict under a base rule's
// name. base is the base policy, to say which names are its own.
func checkShape(file string, f *ast.File, base cue.Value) diag.List {
	var out diag.List
	for _, d := range f.Decls {
		switch x := d.(type) {
		case *ast.Package, *ast.CommentGroup, *ast.Attribute, *ast.LetClause:
		case *ast.ImportDecl:
			for _, s := range x.Specs {
				out.Add(posOf(file, s.Pos()), sitePolicyRule, "the site policy imports %s: a site policy uses only the base policy's definitions and CUE's builtins; remove the import", s.Path.Value)
			}
		case *ast.Field:
			out = append(out, checkExtension(file, x, base)...)
		default:
			out.Add(posOf(file, d.Pos()), sitePolicyRule, "the site policy embeds a value or a comprehension at its top level, which would add to the base policy: %s", allowedShape)
		}
	}
	return out
}

func checkExtension(file string, x *ast.Field, base cue.Value) diag.List {
	var out diag.List
	at := posOf(file, x.Label.Pos())
	name, _, _ := ast.LabelName(x.Label)
	id, isIdent := x.Label.(*ast.Ident)
	kind := extensionPoints[name]
	switch {
	case !isIdent || kind == 0:
		what := fmt.Sprintf("declares %s at its top level", labelText(x.Label))
		if isIdent && strings.HasPrefix(id.Name, "#") && base.LookupPath(cue.ParsePath(id.Name)).Exists() {
			what = fmt.Sprintf("redefines %s, a definition of the base policy", id.Name)
		}
		out.Add(at, sitePolicyRule, "the site policy %s: %s", what, allowedShape)
		return out
	case x.Constraint != token.ILLEGAL:
		out.Add(at, sitePolicyRule, "the site policy declares %s%s: declare it as a regular field (%s: ...)", name, x.Constraint, name)
		return out
	case kind == narrowing:
		return nil
	}
	v := x.Value
	if a, ok := v.(*ast.Alias); ok {
		v = a.Expr
	}
	st, ok := v.(*ast.StructLit)
	if !ok {
		out.Add(at, sitePolicyRule, "the site policy gives %s a value that is not a struct: a rule set's part is {violations: ...}, with let clauses and comprehensions that add violations", name)
		return out
	}
	return checkRuleBody(file, name, st.Elts)
}

// checkRuleBody checks the declarations of a site's part of rule set def.
func checkRuleBody(file, def string, elts []ast.Decl) diag.List {
	var out diag.List
	for _, el := range elts {
		switch x := el.(type) {
		case *ast.CommentGroup, *ast.Attribute, *ast.LetClause:
		case *ast.Comprehension:
			st, ok := x.Value.(*ast.StructLit)
			if !ok {
				out.Add(posOf(file, x.Pos()), sitePolicyRule, "a comprehension of the site policy's %s yields no struct: a rule set's part adds only violations", def)
				continue
			}
			out = append(out, checkRuleBody(file, def, st.Elts)...)
		case *ast.Field:
			if id, ok := x.Label.(*ast.Ident); ok && id.Name == "violations" && x.Constraint == token.ILLEGAL {
				out = append(out, checkBaseRuleNames(file, def, x.Value)...)
				continue
			}
			out.Add(posOf(file, x.Label.Pos()), sitePolicyRule, "the site policy sets field %s of %s, which would change the base rule set's inputs or results: a site policy adds only violations (its helpers are let clauses)", labelText(x.Label), def)
		default:
			out.Add(posOf(file, el.Pos()), sitePolicyRule, "the site policy embeds a value into %s, which would change the base rule set: a site policy adds only violations", def)
		}
	}
	return out
}

// checkBaseRuleNames reports a verdict written under a base rule's name;
// a computed name is checked when the policy is evaluated.
func checkBaseRuleNames(file, def string, v ast.Expr) diag.List {
	var out diag.List
	ast.Walk(v, func(n ast.Node) bool {
		f, ok := n.(*ast.Field)
		if !ok {
			return true
		}
		if name, _, err := ast.LabelName(f.Label); err == nil && strings.HasPrefix(name, baseRulePrefix) {
			out.Add(posOf(file, f.Label.Pos()), sitePolicyRule, "the site policy's %s reports rule %s, a name of the base policy's rules: a site policy adds rules of its own, named after the site (<site>.<rule>)", def, name)
		}
		return true
	}, nil)
	return out
}

// labelText is a label as written.
func labelText(l ast.Label) string {
	if name, _, err := ast.LabelName(l); err == nil {
		return name
	}
	return "a computed field"
}
