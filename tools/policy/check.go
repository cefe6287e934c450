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
	clusters []clusterResult
	diags    diag.List
}

// clusterResult is a cluster as CUE saw it. Its data and its site's policy
// belong to the CUE context of eng, the engine that checked it.
type clusterResult struct {
	eng  *engine
	sp   *sitePolicy
	data cue.Value
	ok   bool
}

func cpath(p ...string) cue.Path { return cue.ParsePath(strings.Join(p, ".")) }

// siteView is a site compiled in one engine's context: its own policy.cue
// (nil without one) and its definition. Each engine makes it once per
// site, for every chunk of the site's clusters it checks.
type siteView struct {
	sp   *sitePolicy
	data cue.Value
	err  error // the site's definition does not extract or breaks #Site
	ok   bool  // the site is valid: the rules may judge its clusters
}

func (e *engine) view(head fs.FS, s *load.Site) *siteView {
	if v, ok := e.views[s]; ok {
		return v
	}
	v := &siteView{}
	v.sp = e.loadSitePolicy(head, s)
	v.data, v.err = extract(e.ctx, s.File, s.Source)
	if v.err == nil {
		v.err = e.base.LookupPath(cpath("#Site")).Unify(v.data).Validate(cue.Concrete(true), cue.All())
	}
	v.ok = v.err == nil
	e.views[s] = v
	return v
}

// chunkResult is what checkClusters found for some of a site's clusters.
type chunkResult struct {
	clusters []clusterResult
	machines []int64
	peaks    []int64 // machines while every group rolls with its surge
	diags    diag.List
}

// checkClusters checks the clusters s.Clusters[lo:hi] against the schema
// and, on a valid site, the rules and #NoCredentials.
func (e *engine) checkClusters(head fs.FS, s *load.Site, lo, hi int) chunkResult {
	v := e.view(head, s)
	clusterDef := e.base.LookupPath(cpath("#Cluster"))
	out := chunkResult{clusters: make([]clusterResult, hi-lo), machines: make([]int64, hi-lo), peaks: make([]int64, hi-lo)}
	// cred collects every scalar of the clusters, judged once per
	// distinct key and value.
	var cred credentialLeaves
	var rules cue.Value
	if v.ok {
		rules = e.base.LookupPath(cpath("#ClusterRules")).FillPath(cpath("site"), v.data)
	}
	for i := lo; i < hi; i++ {
		c := s.Clusters[i]
		cr := clusterResult{eng: e, sp: v.sp}
		data, err := extract(e.ctx, c.File, c.Source)
		if err == nil {
			cr.data = data
			err = clusterDef.Unify(data).Validate(cue.Concrete(true), cue.All())
		}
		if err != nil {
			out.diags = append(out.diags, cueDiags(err, c.File, "policy.schema", schemaHint, c.Pos.Of, clusterDef)...)
		} else {
			cr.ok = true
			out.diags = append(out.diags, v.sp.narrow("#Cluster", data, c.File, c.Pos.Of)...)
		}
		out.clusters[i-lo] = cr
		if !cr.ok || !v.ok {
			continue
		}
		cred.add(data, c.Pos.Of)
		rv := rules.Unify(e.ctx.CompileString("{}").FillPath(cpath("cluster"), data))
		m, d := judge(v.sp, "#ClusterRules", rv, c.File, c.File)
		out.diags = append(append(out.diags, d...), violationDiags(m, c.Pos.Of)...)
		if n, err := rv.LookupPath(cpath("machines")).Int64(); err == nil {
			out.machines[i-lo] = n
		}
		if n, err := rv.LookupPath(cpath("peakMachines")).Int64(); err == nil {
			out.peaks[i-lo] = n
		}
	}
	out.diags = append(out.diags, e.credentials(v.sp, s.File, &cred)...)
	return out
}

// finishSite checks the site itself, once its clusters are checked (in
// chunks, in order): its schema, its credentials and #SiteRules, which
// sees every cluster's machines.
func (e *engine) finishSite(head fs.FS, s *load.Site, chunks []chunkResult) *siteResult {
	v := e.view(head, s)
	r := &siteResult{}
	if v.sp != nil {
		r.diags = append(r.diags, v.sp.diags...)
	}
	if v.err != nil {
		r.diags = append(r.diags, cueDiags(v.err, s.File, "policy.schema", schemaHint, s.Pos.Of, e.base.LookupPath(cpath("#Site")))...)
	} else {
		r.diags = append(r.diags, v.sp.narrow("#Site", v.data, s.File, s.Pos.Of)...)
	}
	type summary struct {
		Name     string `json:"name"`
		Machines int64  `json:"machines"`
		Peak     int64  `json:"peakMachines"`
	}
	summaries := make([]summary, 0, len(s.Clusters))
	for _, ch := range chunks {
		r.clusters = append(r.clusters, ch.clusters...)
		r.diags = append(r.diags, ch.diags...)
		for j, m := range ch.machines {
			summaries = append(summaries, summary{Name: s.Clusters[len(summaries)].Metadata.Name, Machines: m, Peak: ch.peaks[j]})
		}
	}
	if !v.ok {
		return r
	}
	var cred credentialLeaves
	cred.add(v.data, s.Pos.Of)
	r.diags = append(r.diags, e.credentials(v.sp, s.File, &cred)...)
	in := e.ctx.CompileString("{}").
		FillPath(cpath("site"), v.data).
		FillPath(cpath("clusters"), e.ctx.Encode(summaries))
	sr := e.base.LookupPath(cpath("#SiteRules")).Unify(in)
	m, d := judge(v.sp, "#SiteRules", sr, s.File, s.File)
	r.diags = append(append(r.diags, d...), violationDiags(m, func(p string) diag.Pos {
		if i, rest, ok := clusterPath(p); ok && i < len(s.Clusters) {
			return s.Clusters[i].Pos.Of(rest)
		}
		return s.Pos.Of(p)
	})...)
	return r
}

// credentialLeaves are the scalars of a site's definitions, grouped by key
// and value: a credential is one whatever field holds it, so that CUE
// judges each distinct pair once for all the definitions it holds.
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

// credentials judges the collected scalars with #NoCredentials and the
// site policy's additions, and reports each credential at every field
// that holds it.
func (e *engine) credentials(sp *sitePolicy, file string, c *credentialLeaves) diag.List {
	if len(c.pairs) == 0 {
		return nil
	}
	v := e.base.LookupPath(cpath("#NoCredentials")).FillPath(cpath("leaves"), e.ctx.Encode(c.pairs))
	m, out := judge(sp, "#NoCredentials", v, file, file)
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
		return cueDiags(err, file, "policy.eval", evalHint, nil, cue.Value{})
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
