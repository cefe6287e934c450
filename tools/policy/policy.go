// Package policy validates a fleet of definitions against the CUE in
// policies/: the schema of each definition kind, the site policy (with each
// site's own clusters/<site>/policy.cue) and, given a base revision, the
// rules a change must follow. CUE is the source of every rule; Go only
// feeds it the definitions with their positions, maps what it reports to
// file:line:col and, when asked, adds a second layer of checks.
package policy

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"runtime"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"

	"github.com/capiform/capiform/tools/credentials"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/abandon"
	"github.com/capiform/capiform/tools/internal/parallel"
	"github.com/capiform/capiform/tools/load"
)

// Options configure Validate.
type Options struct {
	// Head is the repository the fleet was loaded from; site policies
	// (clusters/<site>/policy.cue) and charts are read from it. Nil means
	// no site policies and no chart rules.
	Head fs.FS
	// Base is the repository at the base revision (see source.Revision);
	// nil means no change rules.
	Base fs.FS
	// GoChecks adds the Go-side second layer of checks on top of CUE. Off,
	// CUE alone judges (the test suite runs so to show that CUE is the
	// source of every rule).
	GoChecks bool
}

// DefaultOptions returns the options validate runs with: Go checks on.
func DefaultOptions(head, base fs.FS) Options {
	return Options{Head: head, Base: base, GoChecks: true}
}

// SitePolicyFile is the name of a site's own policy, next to its site.yaml.
const SitePolicyFile = "policy.cue"

// Validate checks every definition of fleet and, with opts.Base, the
// change from base to head. It returns every violation found, sorted; the
// error is for what made validation impossible (the base revision cannot be
// loaded, a site policy does not compile is a diagnostic, not an error).
func Validate(ctx context.Context, fleet *load.Fleet, opts Options) (diag.List, error) {
	go credentials.Warm() // gitleaks' rules compile while CUE works
	e, err := newEngine()
	if err != nil {
		return nil, err
	}
	results, err := checkSites(ctx, e, fleet, opts.Head)
	if err != nil {
		return nil, err
	}
	var out diag.List
	checked := map[*load.Site]*siteResult{}
	for i, s := range fleet.Sites {
		checked[s] = results[i]
		out = append(out, results[i].diags...)
	}
	if opts.GoChecks {
		out = append(out, goChecks(fleet)...)
		out = append(out, lifecycleChecks(ctx, fleet)...)
		out = append(out, nodeChecks(fleet)...)
	}
	if out, err = checkCredentials(ctx, fleet, opts.Head, out); err != nil {
		return nil, err
	}
	if opts.Base != nil {
		base, err := load.Load(opts.Base)
		if base == nil {
			return nil, fmt.Errorf("loading the base revision: %w", err)
		}
		// Errors in base definitions are not the change's fault: change
		// rules use what loads.
		d, err := e.checkChange(ctx, base, fleet, checked, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
	}
	return dedupe(out), nil
}

// minChunk is the fewest clusters of a site one task checks: each task has
// a fixed cost (the site's policy in the task's engine, one credentials
// check).
const minChunk = 25

// checkSites checks the sites' clusters in chunks, in parallel, one CUE
// context per worker (a context is not safe for concurrent use), then each
// site as a whole, and returns the sites' results in the fleet's order.
func checkSites(ctx context.Context, first *engine, fleet *load.Fleet, head fs.FS) ([]*siteResult, error) {
	type task struct{ site, lo, hi, chunk int }
	var tasks []task
	chunks := make([][]chunkResult, len(fleet.Sites))
	// About four tasks a core, so that the cores share the work whether the
	// fleet is many small sites or one large one.
	total := 0
	for _, s := range fleet.Sites {
		total += len(s.Clusters)
	}
	chunkSize := max(minChunk, (total+4*runtime.GOMAXPROCS(0)-1)/(4*runtime.GOMAXPROCS(0)))
	for i, s := range fleet.Sites {
		n := 0
		for lo := 0; lo < len(s.Clusters); lo += chunkSize {
			tasks = append(tasks, task{site: i, lo: lo, hi: min(lo+chunkSize, len(s.Clusters)), chunk: n})
			n++
		}
		chunks[i] = make([]chunkResult, n)
	}
	engines := []*engine{first}
	for len(engines) < min(runtime.GOMAXPROCS(0), max(len(tasks), len(fleet.Sites))) {
		e, err := newEngine()
		if err != nil {
			return nil, err
		}
		engines = append(engines, e)
	}
	// A site policy can make CUE evaluate for ever: each task runs where
	// it can be abandoned when ctx ends, and names the site. An abandoned
	// task's engine is used by nothing else, as no task starts after ctx
	// ends.
	units := make([]string, len(fleet.Sites))
	for i, s := range fleet.Sites {
		units[i] = evaluating(head, s)
	}
	errs := make([]error, max(len(tasks), len(fleet.Sites)))
	run := func(n int, do func(w, i int)) error {
		clear(errs)
		if err := parallel.For(ctx, n, len(engines), do); err != nil {
			return abandon.First(errs, err)
		}
		return nil
	}
	err := run(len(tasks), func(w, i int) {
		t := tasks[i]
		chunks[t.site][t.chunk], errs[i] = abandon.Run(ctx, units[t.site], func(context.Context) (chunkResult, error) {
			return engines[w].checkClusters(head, fleet.Sites[t.site], t.lo, t.hi), nil
		})
	})
	if err != nil {
		return nil, err
	}
	results := make([]*siteResult, len(fleet.Sites))
	err = run(len(fleet.Sites), func(w, i int) {
		results[i], errs[i] = abandon.Run(ctx, units[i], func(context.Context) (*siteResult, error) {
			return engines[w].finishSite(head, fleet.Sites[i], chunks[i]), nil
		})
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// evaluating names the CUE evaluation of a site's definitions for a
// message: by its own policy file when it has one, the likeliest cause of
// an evaluation that does not end.
func evaluating(head fs.FS, s *load.Site) string {
	if head != nil {
		file := path.Join(path.Dir(s.File), SitePolicyFile)
		if _, err := fs.Stat(head, file); err == nil {
			return fmt.Sprintf("evaluating %s with site %s", file, s.Metadata.Name)
		}
	}
	return fmt.Sprintf("evaluating %s/ with site %s", policyDir, s.Metadata.Name)
}

// dedupe drops a diagnostic of a rule already reported at the same place
// (the Go layer repeats some CUE rules) and sorts the rest.
func dedupe(l diag.List) diag.List {
	type key struct {
		pos  diag.Pos
		rule string
	}
	seen := map[key]bool{}
	var out diag.List
	for _, d := range l.Sorted() {
		k := key{d.Pos, d.Rule}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

// engine holds one CUE context and the compiled policies.
type engine struct {
	ctx   *cue.Context
	base  cue.Value // policies without any site policy
	views map[*load.Site]*siteView
}

func newEngine() (*engine, error) {
	ctx := cuecontext.New()
	v, err := compile(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling policies: %w", err)
	}
	return &engine{ctx: ctx, base: v, views: map[*load.Site]*siteView{}}, nil
}

// removedFields reports a site policy that refers to a field the rules no
// longer have, which CUE would take for a new, empty field and so judge
// nothing: #ClusterRules and #SiteRules used to carry the definition's
// scalars as leaves; credentials are now judged by #NoCredentials alone.
func removedFields(file string, src []byte) diag.List {
	f, err := parser.ParseFile(file, src)
	if err != nil {
		return nil // compile has said so
	}
	var out diag.List
	inRules := 0 // how deep inside #ClusterRules or #SiteRules
	rules := func(n ast.Node) bool {
		f, ok := n.(*ast.Field)
		if !ok {
			return false
		}
		l, ok := f.Label.(*ast.Ident)
		return ok && (l.Name == "#ClusterRules" || l.Name == "#SiteRules")
	}
	ast.Walk(f, func(n ast.Node) bool {
		if rules(n) {
			inRules++
		}
		if inRules == 0 {
			return true
		}
		var name *ast.Ident
		switch x := n.(type) {
		case *ast.SelectorExpr:
			name, _ = x.Sel.(*ast.Ident)
		case *ast.Field:
			name, _ = x.Label.(*ast.Ident)
		}
		if name != nil && name.Name == "leaves" {
			p := name.Pos()
			out = append(out, diag.Diagnostic{
				Pos:      diag.Pos{File: file, Line: p.Line(), Col: p.Column()},
				Rule:     "policy.site-policy",
				Message:  "the rules no longer carry the definitions' leaves, so this judges nothing: to judge values wherever they are, extend #NoCredentials (its leaves are each distinct key and value of a site; p is an opaque id) or narrow #credentialKey",
				Severity: diag.Error,
			})
		}
		return true
	}, func(n ast.Node) {
		if rules(n) {
			inRules--
		}
	})
	return out
}
