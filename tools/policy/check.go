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
	type summary struct {
		Name     string `json:"name"`
		Machines int64  `json:"machines"`
	}
	summaries := make([]summary, len(s.Clusters))
	// cred collects every scalar the site and its clusters hold, for
	// #NoCredentials, judged once per distinct key and value.
	var cred credentialLeaves
	if r.siteOK {
		cred.add(siteData, s.Pos.Of)
	}
	var judged []int // the clusters the rules judge: schema-valid, on a valid site
	for i, c := range s.Clusters {
		cr := clusterResult{}
		summaries[i].Name = c.Metadata.Name
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
			judged = append(judged, i)
			cred.add(data, c.Pos.Of)
		}
		r.clusters = append(r.clusters, cr)
	}
	for _, res := range e.clusterRules(r, s, siteData, judged) {
		summaries[res.index].Machines = res.machines
		r.diags = append(r.diags, res.diags...)
	}
	r.diags = append(r.diags, e.credentials(r.pol, s.File, &cred)...)
	if r.siteOK {
		in := e.ctx.CompileString("{}").
			FillPath(cpath("site"), siteData).
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

// ruleResult is what #ClusterRules found for one cluster.
type ruleResult struct {
	index    int // in the site's clusters
	machines int64
	diags    diag.List
}

// clusterRules judges the clusters of a site (their indices in judged)
// with #ClusterRules, the site filled in once.
func (e *engine) clusterRules(r *siteResult, s *load.Site, siteData cue.Value, judged []int) []ruleResult {
	if len(judged) == 0 {
		return nil
	}
	out := make([]ruleResult, len(judged))
	rules := r.pol.LookupPath(cpath("#ClusterRules")).FillPath(cpath("site"), siteData)
	for j, i := range judged {
		c := s.Clusters[i]
		out[j].index = i
		rv := rules.Unify(e.ctx.CompileString("{}").FillPath(cpath("cluster"), r.clusters[i].data))
		out[j].diags = mapViolations(rv, c.File, c.Pos.Of)
		if n, err := rv.LookupPath(cpath("machines")).Int64(); err == nil {
			out[j].machines = n
		}
	}
	return out
}

// credentialLeaves are the scalars of a site's definitions, grouped by key
// and value: a credential is one whatever field holds it, so that CUE
// judges each distinct pair once for the whole site.
type credentialLeaves struct {
	pairs []leaf                 // distinct key and value; P is the pair's index
	index map[credentialKey]int  // pair -> index in pairs
	where [][]credentialLocation // index -> every field that holds it
}

type credentialKey struct {
	k string
	v any
}

type credentialLocation struct {
	path string
	at   func(string) diag.Pos
}

func (c *credentialLeaves) add(v cue.Value, at func(string) diag.Pos) {
	if c.index == nil {
		c.index = map[credentialKey]int{}
	}
	for _, l := range leaves(v) {
		key := credentialKey{l.K, l.V}
		i, ok := c.index[key]
		if !ok {
			i = len(c.pairs)
			c.index[key] = i
			c.pairs = append(c.pairs, leaf{P: strconv.Itoa(i), K: l.K, V: l.V})
			c.where = append(c.where, nil)
		}
		c.where[i] = append(c.where[i], credentialLocation{l.P, at})
	}
}

// credentials judges the collected scalars with the policy's
// #NoCredentials and reports each credential at every field that holds it.
func (e *engine) credentials(pol cue.Value, file string, c *credentialLeaves) diag.List {
	if len(c.pairs) == 0 {
		return nil
	}
	v := pol.LookupPath(cpath("#NoCredentials")).FillPath(cpath("leaves"), e.ctx.Encode(c.pairs))
	m, err := violations(v)
	if err != nil {
		return cueDiags(err, file, "policy.eval", "the policy could not judge this definition; fix the field or report a bug in policies/", nil, cue.Value{})
	}
	var out diag.List
	for id, rules := range m {
		i, err := strconv.Atoi(id)
		if err != nil || i < 0 || i >= len(c.where) {
			continue
		}
		for _, loc := range c.where[i] {
			for rule, msg := range rules {
				out = append(out, diag.Diagnostic{Pos: loc.at(loc.path), Rule: rule, Message: loc.path + " " + msg, Severity: diag.Error})
			}
		}
	}
	return out.Sorted()
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
	return violationDiags(m, at)
}

// violationDiags turns decoded violations (path -> rule -> message) into
// diagnostics, each at the position of its path.
func violationDiags(m map[string]map[string]string, at func(path string) diag.Pos) diag.List {
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
