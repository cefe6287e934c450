// Package pipeline runs capiform's stages in order over one repository
// revision: load, validate, resolve, render, and for checks expand and
// verify. The CLI and the diff call it; it never prints.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/abandon"
	"github.com/capiform/capiform/tools/internal/parallel"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
	"github.com/capiform/capiform/tools/secrets"
)

// Validator checks a loaded fleet beyond what the loader checks (the CUE
// policy); it returns every violation.
type Validator func(ctx context.Context, fleet *load.Fleet) (diag.List, error)

// AddonsLoader loads the platform catalogue of a revision and returns the
// function that renders a cluster's addons and the check of the fleet's
// platform choices.
type AddonsLoader func(fsys fs.FS) (render.AddonsFunc, AddonsCheck, error)

// AddonsCheck checks the fleet's platform choices after the earlier
// stages found found; it returns found with its own findings, and may
// drop from found what its findings explain (a required platform "missing"
// because its name was misspelt).
type AddonsCheck func(fleet *load.Fleet, found diag.List) diag.List

// Options of Render.
type Options struct {
	// FS is the repository's root, the work tree or a git revision.
	FS fs.FS
	// Validate runs before resolve; nil skips it.
	Validate Validator
	// Addons loads the platform catalogue; nil renders no addons.
	Addons AddonsLoader
	// Sites limits the run to the named sites; empty is every site.
	Sites []string
	// NoTrees stops after resolve: the result's Releases are set, its
	// Sites (the Flux trees) are empty. For expanding, which needs no tree.
	NoTrees bool
	// CheckChart loads the revision's chart (LoadChart) before resolve:
	// a chart that is missing, does not load, does not parse or whose
	// values schema does not compile is then a diagnostic of the run,
	// found by validate and render and not only when a cluster expands.
	CheckChart bool
}

// SharedInputs are the folders outside clusters/<site>/ that a site's
// render reads (with Default's options): the chart, for its version, and
// the platform catalogue. A site whose own folder (generated/ aside) and
// these are unchanged renders the same.
var SharedInputs = []string{ChartDir, "platforms"}

// Result is a rendered revision.
type Result struct {
	Fleet *load.Fleet
	// Releases are every resolved cluster, sorted by site and name.
	Releases []*resolve.Release
	// Sites maps a site's name to its generated tree.
	Sites map[string]render.Files
	// Warnings are diagnostics that do not stop the render.
	Warnings diag.List
}

// Release returns the resolved cluster of a site, or nil.
func (r *Result) Release(site, cluster string) *resolve.Release {
	for _, rel := range r.Releases {
		if rel.Site == site && rel.Cluster == cluster {
			return rel
		}
	}
	return nil
}

// Render loads, validates, resolves and renders every site of a revision.
// Invalid input is returned as a diag.List holding every problem; any
// other error means the revision could not be read.
func Render(ctx context.Context, opts Options) (*Result, error) {
	// Only the named sites are read: the others cannot change the result.
	var names []string
	if len(opts.Sites) > 0 {
		names = opts.Sites
	}
	// Decoding is bounded by the files' size, but a large file takes
	// seconds: abandoned when ctx ends, as a signal must end the command
	// at once.
	type loaded struct {
		fleet *load.Fleet
		err   error
	}
	l, err := abandon.Run(ctx, "loading "+load.ClustersDir+"/", func(context.Context) (loaded, error) {
		f, err := load.LoadSites(opts.FS, names)
		return loaded{f, err}, nil
	})
	if err != nil {
		return nil, err
	}
	fleet, err := l.fleet, l.err
	var errs diag.List
	if err != nil {
		// The loader's findings do not stop the policy: what loaded is
		// checked too, so that every problem is reported at once.
		if !errors.As(err, &errs) || fleet == nil {
			return nil, err
		}
	}
	if len(opts.Sites) > 0 {
		fleet = onlySites(fleet, opts.Sites)
		errs = slices.DeleteFunc(errs, func(d diag.Diagnostic) bool {
			return !slices.ContainsFunc(opts.Sites, func(s string) bool {
				// The site folder itself too: it may be a link.
				dir := load.ClustersDir + "/" + s
				return d.File == dir || strings.HasPrefix(d.File, dir+"/")
			})
		})
	}
	if opts.Validate != nil {
		d, err := opts.Validate(ctx, fleet)
		if err != nil {
			return nil, err
		}
		errs = append(errs, d...)
	}
	encrypted, serrs, err := checkSecrets(opts.FS, fleet, len(opts.Sites) > 0)
	if err != nil {
		return nil, err
	}
	errs = append(errs, serrs...)
	if opts.CheckChart {
		var dl diag.List
		if _, err := LoadChart(opts.FS); errors.As(err, &dl) {
			errs = append(errs, dl...)
		} else if err != nil {
			return nil, err
		}
	}
	var addons render.AddonsFunc
	if opts.Addons != nil {
		var check AddonsCheck
		// The catalogue's manifests are built with kustomize, which
		// cannot be interrupted: abandoned when ctx ends.
		type catalogue struct {
			addons render.AddonsFunc
			check  AddonsCheck
		}
		var c catalogue
		c, err = abandon.Run(ctx, "loading the platform catalogue (platforms/)", func(context.Context) (catalogue, error) {
			a, c, err := opts.Addons(opts.FS)
			return catalogue{a, c}, err
		})
		addons, check = c.addons, c.check
		if err != nil {
			return nil, err
		}
		if check != nil {
			errs = check(fleet, errs)
		}
	}
	// Warnings (a retired chart, a Kubernetes minor upstream has not yet
	// tested) do not stop the render; they are reported with the rest.
	if slices.ContainsFunc(errs, func(d diag.Diagnostic) bool { return d.Severity != diag.Warning }) {
		return nil, samePlaceOnce(errs)
	}
	releases, rerr := resolve.Fleet(fleet)
	if rerr != nil {
		var d diag.List
		if !errors.As(rerr, &d) {
			return nil, rerr
		}
		errs = append(errs, d...)
	}
	var (
		hard diag.List
		warn diag.List
	)
	for _, d := range errs {
		if d.Severity == diag.Warning {
			warn = append(warn, d)
		} else {
			hard = append(hard, d)
		}
	}
	if len(hard) > 0 {
		return nil, samePlaceOnce(hard)
	}
	sort.Slice(releases, func(i, j int) bool {
		if releases[i].Site != releases[j].Site {
			return releases[i].Site < releases[j].Site
		}
		return releases[i].Cluster < releases[j].Cluster
	})
	res := &Result{Fleet: fleet, Releases: releases, Sites: map[string]render.Files{}, Warnings: warn.Sorted()}
	if opts.NoTrees {
		return res, nil
	}
	// Sites render independently, one a CPU at a time, each into its own
	// slot, so the output does not depend on the order they finish in.
	type done struct {
		files render.Files
		err   error
	}
	out := make([]done, len(fleet.Sites))
	abandoned := make([]error, len(fleet.Sites))
	if err := parallel.For(ctx, len(fleet.Sites), 0, func(_, i int) {
		s := fleet.Sites[i]
		var rels []*resolve.Release
		for _, r := range releases {
			if r.Site == s.Metadata.Name {
				rels = append(rels, r)
			}
		}
		// A site's addons are built with kustomize: abandoned when ctx
		// ends.
		out[i], abandoned[i] = abandon.Run(ctx, "rendering site "+s.Metadata.Name, func(context.Context) (done, error) {
			files, err := render.Site(render.Options{Site: s, Releases: rels, Addons: addons, Secrets: encrypted[s.Metadata.Name]})
			return done{files, err}, nil
		})
	}); err != nil {
		return nil, abandon.First(abandoned, err)
	}
	var renderErrs diag.List
	for i, d := range out {
		name := fleet.Sites[i].Metadata.Name
		if d.err != nil {
			var dl diag.List
			if !errors.As(d.err, &dl) {
				// The sites are in name order: this is the first by name.
				return nil, fmt.Errorf("rendering site %s: %w", name, d.err)
			}
			renderErrs = append(renderErrs, dl...)
			continue
		}
		res.Sites[name] = d.files
	}
	if len(renderErrs) > 0 {
		return nil, renderErrs.Sorted()
	}
	return res, nil
}

// onlySites is the fleet of the named sites.
func onlySites(f *load.Fleet, names []string) *load.Fleet {
	out := &load.Fleet{}
	for _, s := range f.Sites {
		if slices.Contains(names, s.Metadata.Name) {
			out.Sites = append(out.Sites, s)
		}
	}
	return out
}

// samePlaceOnce sorts diagnostics and keeps, for each place, those of the
// earliest stage that found something there: the loader, the policy, then
// resolve. (The loader and the policy both know that names are DNS labels,
// the policy and resolve that a flavor must be offered; the reader needs
// to hear it once.)
func samePlaceOnce(l diag.List) diag.List {
	stage := func(rule string) int {
		switch {
		case strings.HasPrefix(rule, "load."):
			return 0
		case strings.HasPrefix(rule, "policy."):
			return 1
		}
		return 2
	}
	first := map[diag.Pos]int{}
	for _, d := range l {
		if s, ok := first[d.Pos]; !ok || stage(d.Rule) < s {
			first[d.Pos] = stage(d.Rule)
		}
	}
	var out diag.List
	for _, d := range l.Sorted() {
		if stage(d.Rule) == first[d.Pos] {
			out = append(out, d)
		}
	}
	return out
}

// checkSecrets reads the encrypted Secrets of every site, checks them
// without a key, and finds Secrets in clear under clusters/ (the loaded
// sites' folders when only some sites run) and platforms/.
func checkSecrets(fsys fs.FS, fleet *load.Fleet, some bool) (map[string]map[string][]render.EncryptedFile, diag.List, error) {
	out := map[string]map[string][]render.EncryptedFile{}
	var errs diag.List
	roots := secrets.ClearRoots
	if some {
		roots = []string{"platforms"}
	}
	for _, s := range fleet.Sites {
		in, l, err := secrets.Inspect(fsys, s)
		if err != nil {
			return nil, nil, err
		}
		errs = append(errs, l...)
		for cluster, files := range in.Files {
			if out[s.Metadata.Name] == nil {
				out[s.Metadata.Name] = map[string][]render.EncryptedFile{}
			}
			for _, f := range files {
				out[s.Metadata.Name][cluster] = append(out[s.Metadata.Name][cluster], render.EncryptedFile{Name: path.Base(f.Path), Content: f.Content})
			}
		}
		if some {
			roots = append(roots, path.Join(load.ClustersDir, s.Metadata.Name))
		}
	}
	l, err := secrets.ScanClear(fsys, roots...)
	if err != nil {
		return nil, nil, err
	}
	return out, append(errs, l...), nil
}
