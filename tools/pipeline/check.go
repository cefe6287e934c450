package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/internal/abandon"
	"github.com/capiform/capiform/tools/internal/parallel"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
	"github.com/capiform/capiform/tools/verify"
)

// ChartDir is the openstack-cluster chart in the repository.
const ChartDir = "charts/openstack-cluster"

// Expand renders a cluster's HelmRelease through the chart as it is in the
// revision fsys, as helm-controller would on the site's management cluster.
// To expand many clusters, use an Expander.
func Expand(ctx context.Context, fsys fs.FS, res *Result, rel *resolve.Release) ([]*unstructured.Unstructured, error) {
	e, err := NewExpander(fsys, res)
	if err != nil {
		return nil, err
	}
	return e.Expand(ctx, rel)
}

// Expander expands the clusters of a rendered revision through the chart
// of the same revision, loaded once. It is safe for concurrent use.
type Expander struct {
	chart *expand.Chart
	res   *Result
}

// NewExpander loads the chart of the revision fsys for the clusters of res.
// A fault of the chart (see LoadChart) is a diag.List.
func NewExpander(fsys fs.FS, res *Result) (*Expander, error) {
	c, err := LoadChart(fsys)
	if err != nil {
		return nil, err
	}
	return &Expander{chart: c, res: res}, nil
}

// LoadChart loads the chart of the revision fsys (ChartDir) from fsys
// alone, compiles its values schemas and parses its templates. A fault of
// the chart itself (missing, Chart.yaml or values.yaml that does not load,
// a template that does not parse, a schema that does not compile or refers
// outside the chart) is a diag.List naming the chart's file; any other
// error means the revision could not be read.
func LoadChart(fsys fs.FS) (*expand.Chart, error) {
	sub, err := fs.Sub(fsys, ChartDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ChartDir, err)
	}
	c, err := expand.Load(sub)
	var ce *expand.ChartError
	if errors.As(err, &ce) {
		return nil, diag.List{{
			Pos:      diag.Pos{File: path.Join(ChartDir, ce.File), Line: ce.Line},
			Rule:     ce.Rule,
			Message:  ce.Message,
			Severity: diag.Error,
		}}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ChartDir, err)
	}
	return c, nil
}

// Expand renders one cluster's HelmRelease. A chart's template can loop
// for ever: when ctx ends, the expansion is abandoned and the error names
// the cluster (see package abandon).
func (e *Expander) Expand(ctx context.Context, rel *resolve.Release) ([]*unstructured.Unstructured, error) {
	return abandon.Run(ctx, "expanding cluster "+rel.Site+"/"+rel.Cluster, func(ctx context.Context) ([]*unstructured.Unstructured, error) {
		return e.chart.Expand(ctx, expand.Options{
			ReleaseName:          rel.ReleaseName,
			Namespace:            rel.TargetNamespace,
			Values:               rel.Values,
			KubeVersion:          e.res.ManagementVersion(rel.Site),
			HelmReleaseName:      rel.HelmReleaseName,
			HelmReleaseNamespace: rel.HelmReleaseNamespace,
		})
	})
}

// Expanded is one cluster's expansion.
type Expanded struct {
	Release *resolve.Release
	Objects []*unstructured.Unstructured
	Err     error
}

// ExpandAll expands every cluster of res, one per CPU at a time, and
// returns them in the order of res.Releases. An expansion's failure is in
// its Err; the error is for a chart that does not load or a cancelled
// context. For a large fleet, ExpandEach holds less in memory.
func ExpandAll(ctx context.Context, fsys fs.FS, res *Result) ([]Expanded, error) {
	out := make([]Expanded, 0, len(res.Releases))
	err := ExpandEach(ctx, fsys, res, func(x Expanded) Expanded { return x }, func(x Expanded) error {
		out = append(out, x)
		return nil
	})
	return out, err
}

// ExpandEach expands every cluster of res, one per CPU at a time. Each
// expansion goes through work on the goroutine that made it, so that what
// is done with it runs in parallel too; done then gets work's results one
// at a time, in the order of res.Releases. Only a few expansions are held
// at once, whatever the fleet's size. The error is the chart's (it does not
// load), done's, or the context's.
func ExpandEach[T any](parent context.Context, fsys fs.FS, res *Result, work func(Expanded) T, done func(T) error) error {
	if len(res.Releases) == 0 {
		return nil
	}
	e, err := NewExpander(fsys, res)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	// window bounds the expansions done but not yet consumed.
	window := make(chan struct{}, 4*workers)
	results := make([]chan T, len(res.Releases))
	for i := range results {
		results[i] = make(chan T, 1)
	}
	next := make(chan int)
	var (
		wg sync.WaitGroup
		// abandoned is the first expansion abandoned when ctx ended: it
		// names its cluster, which the context's error does not.
		mu        sync.Mutex
		abandoned error
	)
	for range min(workers, len(res.Releases)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rel := res.Releases[i]
				objs, err := e.Expand(ctx, rel)
				if ae := (*abandon.Error)(nil); errors.As(err, &ae) {
					mu.Lock()
					abandoned = cmp.Or(abandoned, err)
					mu.Unlock()
				}
				results[i] <- work(Expanded{Release: rel, Objects: objs, Err: err})
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range res.Releases {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var derr error
	for i := range res.Releases {
		var r T
		select {
		case r = <-results[i]:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		<-window
		if derr = done(r); derr != nil {
			break
		}
	}
	cancel()
	wg.Wait()
	if derr != nil {
		return derr
	}
	if err := parent.Err(); err != nil {
		return cmp.Or(abandoned, err)
	}
	return nil
}

// ManagementVersion is the Kubernetes version of a site's management
// cluster: the cluster that Helm renders the chart for.
func (r *Result) ManagementVersion(site string) string {
	s := r.Fleet.Site(site)
	if s == nil {
		return ""
	}
	if m := r.Release(site, s.Spec.ManagementCluster); m != nil {
		return m.KubernetesVersion
	}
	return ""
}

// siteBuild is what building a site's paths found.
type siteBuild struct {
	objects  int
	problems []string
}

// buildSite builds every generated path of a site with kustomize and
// verifies what it gives.
func buildSite(s string, files render.Files, lockdown bool) (b siteBuild) {
	built, err := render.BuildAll(s, files)
	if err != nil {
		b.problems = append(b.problems, fmt.Sprintf("site %s: %v", s, err))
		return b
	}
	// The tree must work under Flux's --no-cross-namespace-refs, always;
	// and under the lockdown where the site turns it on.
	for _, p := range render.CrossNamespaceRefs(built) {
		b.problems = append(b.problems, fmt.Sprintf("site %s: %s", s, p))
	}
	if lockdown {
		for _, p := range render.MissingServiceAccounts(built) {
			b.problems = append(b.problems, fmt.Sprintf("site %s: %s", s, p))
		}
	}
	dirs := make([]string, 0, len(built))
	for d := range built {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		b.objects += len(built[d])
		if err := verify.Objects(built[d]); err != nil {
			b.problems = append(b.problems, fmt.Sprintf("site %s: %s: %v", s, render.Dir(s)+"/"+d, err))
		}
	}
	return b
}

// CheckResult is what `render --check` found.
type CheckResult struct {
	// Drift lists stale, missing and extra generated files.
	Drift []render.Drift
	// Problems are expansion, verification and kustomize build failures.
	Problems []string
	// Clusters and Objects count what was expanded and verified.
	Clusters, Objects int
}

// OK reports whether nothing was found.
func (c *CheckResult) OK() bool { return len(c.Drift) == 0 && len(c.Problems) == 0 }

// Check renders the revision and compares it with its committed generated
// trees, expands every cluster, verifies every object strictly against the
// upstream types, and builds every generated path with kustomize. It
// changes nothing.
func Check(ctx context.Context, res *Result, fsys fs.FS) (*CheckResult, error) {
	out := &CheckResult{}
	drift, err := render.Check(fsys, res.Sites)
	if err != nil {
		return nil, err
	}
	out.Drift = drift
	sites := make([]string, 0, len(res.Sites))
	for s := range res.Sites {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	// Each site's paths are built and verified on their own, one site per
	// CPU at a time; the findings are kept in the order of sites.
	builds := make([]siteBuild, len(sites))
	errs := make([]error, len(sites))
	if err := parallel.For(ctx, len(sites), 0, func(_, i int) {
		// kustomize cannot be interrupted: abandoned when ctx ends.
		builds[i], errs[i] = abandon.Run(ctx, "building "+render.Dir(sites[i])+" with kustomize", func(context.Context) (siteBuild, error) {
			site := res.Fleet.Site(sites[i])
			return buildSite(sites[i], res.Sites[sites[i]], site != nil && render.Tenancy(site) != nil), nil
		})
	}); err != nil {
		return nil, abandon.First(errs, err)
	}
	for _, b := range builds {
		out.Objects += b.objects
		out.Problems = append(out.Problems, b.problems...)
	}
	type checked struct {
		expanded bool
		objects  int
		problem  string
	}
	err = ExpandEach(ctx, fsys, res, func(x Expanded) checked {
		rel := x.Release
		if x.Err != nil {
			return checked{problem: fmt.Sprintf("cluster %s/%s: expand: %v", rel.Site, rel.Cluster, x.Err)}
		}
		c := checked{expanded: true, objects: len(x.Objects)}
		if err := verify.Objects(x.Objects); err != nil {
			c.problem = fmt.Sprintf("cluster %s/%s: %v", rel.Site, rel.Cluster, err)
		}
		return c
	}, func(c checked) error {
		if c.problem != "" {
			out.Problems = append(out.Problems, c.problem)
		}
		if c.expanded {
			out.Clusters++
			out.Objects += c.objects
		}
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var dl diag.List
	switch {
	case errors.As(err, &dl):
		out.Problems = append(out.Problems, dl.Error())
	case err != nil:
		out.Problems = append(out.Problems, err.Error())
	}
	return out, nil
}
