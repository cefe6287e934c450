package policy

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"cuelang.org/go/cue"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

const schemaHint = "correct it to match the schema (policies/schema.cue)"

// siteResult is a site as CUE saw it, kept for the change rules.
type siteResult struct {
	eng      *engine // the values below belong to its CUE context
	pol      cue.Value
	site     cue.Value
	siteOK   bool
	clusters []clusterResult
	diags    diag.List
}

type clusterResult struct {
	data cue.Value
	ok   bool
}

func cpath(p ...string) cue.Path { return cue.ParsePath(strings.Join(p, ".")) }

// checkSite checks a site and its clusters against the schema and the
// site policy.
func (e *engine) checkSite(head fs.FS, s *load.Site) *siteResult {
	r := &siteResult{eng: e}
	r.pol, r.diags = e.sitePolicy(head, s)
	siteDef := r.pol.LookupPath(cpath("#Site"))
	clusterDef := r.pol.LookupPath(cpath("#Cluster"))
	siteData, err := extract(e.ctx, s.File, s.Source)
	if err != nil {
		r.diags = append(r.diags, cueDiags(err, s.File, "policy.schema", schemaHint, s.Pos.Of, siteDef)...)
	} else {
		r.site = siteData
		if err := siteDef.Unify(siteData).Validate(cue.Concrete(true), cue.All()); err != nil {
			r.diags = append(r.diags, cueDiags(err, s.File, "policy.schema", schemaHint, s.Pos.Of, siteDef)...)
		} else {
			r.siteOK = true
		}
	}
	rules := r.pol.LookupPath(cpath("#ClusterRules"))
	if r.siteOK {
		rules = rules.FillPath(cpath("site"), siteData)
	}
	type summary struct {
		Name     string `json:"name"`
		Machines int64  `json:"machines"`
	}
	summaries := make([]summary, 0, len(s.Clusters))
	for _, c := range s.Clusters {
		cr := clusterResult{}
		sum := summary{Name: c.Metadata.Name}
		data, err := extract(e.ctx, c.File, c.Source)
		if err != nil {
			r.diags = append(r.diags, cueDiags(err, c.File, "policy.schema", schemaHint, c.Pos.Of, clusterDef)...)
		} else {
			cr.data = data
			if err := clusterDef.Unify(data).Validate(cue.Concrete(true), cue.All()); err != nil {
				r.diags = append(r.diags, cueDiags(err, c.File, "policy.schema", schemaHint, c.Pos.Of, clusterDef)...)
			} else {
				cr.ok = true
			}
		}
		if cr.ok && r.siteOK {
			// One unification of the rules with both inputs: each FillPath
			// of the rules would evaluate them all again.
			in := e.ctx.CompileString("{}").FillPath(cpath("cluster"), data).FillPath(cpath("leaves"), e.ctx.Encode(leaves(data)))
			rv := rules.Unify(in)
			r.diags = append(r.diags, mapViolations(rv, c.File, func(p string) diag.Pos { return c.Pos.Of(p) })...)
			if n, err := rv.LookupPath(cpath("machines")).Int64(); err == nil {
				sum.Machines = n
			}
		}
		r.clusters = append(r.clusters, cr)
		summaries = append(summaries, sum)
	}
	if r.siteOK {
		in := e.ctx.CompileString("{}").
			FillPath(cpath("site"), siteData).
			FillPath(cpath("leaves"), e.ctx.Encode(leaves(siteData))).
			FillPath(cpath("clusters"), e.ctx.Encode(summaries))
		sr := r.pol.LookupPath(cpath("#SiteRules")).Unify(in)
		r.diags = append(r.diags, mapViolations(sr, s.File, func(p string) diag.Pos {
			if i, rest, ok := clusterPath(p); ok && i < len(s.Clusters) {
				return s.Clusters[i].Pos.Of(rest)
			}
			return s.Pos.Of(p)
		})...)
	}
	return r
}

// clusterPath splits "clusters[3].metadata.name" into 3 and
// "metadata.name".
func clusterPath(p string) (int, string, bool) {
	rest, ok := strings.CutPrefix(p, "clusters[")
	if !ok {
		return 0, "", false
	}
	n, rest, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(n)
	if err != nil {
		return 0, "", false
	}
	return i, strings.TrimPrefix(rest, "."), true
}

// mapViolations reports the violations of an evaluated rule set, each at
// the position of its path. A rule set that does not evaluate is reported
// as such at file.
func mapViolations(v cue.Value, file string, at func(path string) diag.Pos) diag.List {
	m, err := violations(v)
	if err != nil {
		return cueDiags(err, file, "policy.eval", "the policy could not judge this definition; fix the field or report a bug in policies/", nil, cue.Value{})
	}
	var out diag.List
	for _, p := range sortedKeys(m) {
		for _, rule := range sortedKeys(m[p]) {
			out = append(out, diag.Diagnostic{Pos: at(p), Rule: rule, Message: m[p][rule], Severity: diag.Error})
		}
	}
	return out
}

// errf is a small helper for wrapped errors.
func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
