// Package diff tells a reviewer what a change does to real machines. It
// renders two revisions of the repository (read from git's object store,
// or the work tree), expands every cluster's HelmRelease through the chart
// of its own revision, compares the objects and the generated Flux trees,
// and applies Cluster API's rollout rules to say which control planes and
// node groups are replaced, scaled, changed in place, created or deleted,
// and which changes are unsafe. Secret values never reach the report.
package diff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"sync"
	"sync/atomic"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/internal/parallel"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
	"github.com/capiform/capiform/tools/source"
)

// Options of Run.
type Options struct {
	// Repo is a folder of the git repository (its root when Head is the
	// work tree).
	Repo string
	// Base is the revision the change is measured from: a branch, tag,
	// commit or expression such as origin/main or HEAD~1. Required.
	Base string
	// Head is the revision with the change; "" is the work tree,
	// uncommitted changes included.
	Head string
	// Pipeline returns the pipeline options for a revision's file system,
	// so that the caller injects validation and the platform catalogue;
	// nil renders with FS only, and the two revisions concurrently; with
	// Pipeline set they render one after the other, as validators need
	// not be safe for concurrent use.
	Pipeline func(fsys fs.FS) pipeline.Options
	// Workers bounds the concurrent chart expansions; 0 is GOMAXPROCS.
	Workers int
}

// Revision names one side of the comparison.
type Revision struct {
	// Ref is the revision as given ("" for the work tree).
	Ref string `json:"ref"`
	// Commit is the resolved commit; empty for the work tree.
	Commit string `json:"commit,omitempty"`
}

// String is the ref with its short commit, or "work tree".
func (r Revision) String() string {
	if r.Ref == "" {
		return "work tree"
	}
	if len(r.Commit) >= 12 {
		return fmt.Sprintf("%s (%s)", r.Ref, r.Commit[:12])
	}
	return r.Ref
}

// Report is the outcome of a diff. Every list is sorted; the report is a
// pure function of the two revisions.
type Report struct {
	Base Revision `json:"base"`
	Head Revision `json:"head"`
	// Errors are what could not be rendered or expanded; the rest of the
	// report still holds.
	Errors []string `json:"errors,omitempty"`
	// Findings are repository-wide (the chart).
	Findings []Finding `json:"findings,omitempty"`
	// Chart is the change of charts/openstack-cluster, if any.
	Chart *ChartChange `json:"chart,omitempty"`
	// Clusters are the clusters whose expanded objects differ, by site and
	// name.
	Clusters []*ClusterReport `json:"clusters,omitempty"`
	// Sites are the changes of each site's generated Flux tree.
	Sites []*SiteReport `json:"sites,omitempty"`
	// Stats say how much work the diff did. They are in no output format.
	Stats Stats `json:"-"`
}

// Stats count the work of a diff: only the sites whose inputs changed are
// rendered, and in them only the clusters whose chart, values or
// Kubernetes version changed are expanded.
type Stats struct {
	// Sites are the sites of either revision; SitesRendered those whose
	// inputs differ, rendered at both revisions.
	Sites, SitesRendered int
	// Clusters are the clusters of the rendered sites, of either revision;
	// ClustersExpanded those whose expansion inputs differ.
	Clusters, ClustersExpanded int
	// ChartRenders are the Helm renders: two for a changed cluster, one for
	// a created or deleted one.
	ChartRenders int
}

// String is the stats in a line, for -v.
func (s Stats) String() string {
	return fmt.Sprintf("rendered %d of %d site(s); expanded %d of their %d cluster(s) (%d chart render(s))",
		s.SitesRendered, s.Sites, s.ClustersExpanded, s.Clusters, s.ChartRenders)
}

// ClusterReport is what happens to one cluster.
type ClusterReport struct {
	Site    string `json:"site"`
	Cluster string `json:"cluster"`
	// Action is added, removed or changed.
	Action Action `json:"action"`
	// Machines is the number of machines created (added) or deleted
	// (removed); autoscaled groups count at their minimum.
	Machines int `json:"machines,omitempty"`
	// ControlPlane is the control plane's rollout, nil when untouched.
	ControlPlane *Rollout `json:"controlPlane,omitempty"`
	// NodeGroups are the touched node groups, by MachineDeployment name.
	NodeGroups []Rollout `json:"nodeGroups,omitempty"`
	// Findings are unsafe changes, warnings and notes.
	Findings []Finding `json:"findings,omitempty"`
	// Objects are the object-level changes of the expanded release.
	Objects []ObjectChange `json:"objects,omitempty"`
	// Error is set when a revision of the cluster could not be expanded.
	Error string `json:"error,omitempty"`
}

// Changed reports whether the report shows any change (errors aside).
func (r *Report) Changed() bool {
	return len(r.Clusters) > 0 || len(r.Sites) > 0 || r.Chart != nil
}

// Unsafe counts the unsafe findings.
func (r *Report) Unsafe() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Unsafe {
			n++
		}
	}
	for _, c := range r.Clusters {
		for _, f := range c.Findings {
			if f.Severity == Unsafe {
				n++
			}
		}
	}
	return n
}

// ErrIncomplete is returned with a report that lacks what a revision that
// failed to render or expand would have shown.
var ErrIncomplete = errors.New("diff incomplete")

// side is one rendered revision.
type side struct {
	// name is the side and its revision, "base origin/main (0123456789ab)",
	// for the messages about it.
	name string
	fsys fs.FS
	res  *pipeline.Result
	err  error
	// chartSum is the digest of the chart's files, to skip expansions that
	// cannot differ.
	chartSum string
	// chart holds the chart's files in memory, read once from the revision
	// rather than once per expansion.
	chart fstest.MapFS
	// exp expands with the chart loaded once; expErr is why it could not
	// be loaded, reported for each cluster that needs it.
	exp    *pipeline.Expander
	expErr error
}

// Run renders the base and head revisions and compares them. When a
// revision fails to render or a cluster fails to expand, Run returns the
// report of everything else together with an error wrapping ErrIncomplete
// (the report's Errors say what is missing); any other error returns a nil
// report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Base == "" {
		return nil, errors.New("diff: no base revision")
	}
	rep := &Report{Base: Revision{Ref: opts.Base}, Head: Revision{Ref: opts.Head}}
	baseFS, h, err := source.Revision(opts.Repo, opts.Base)
	if err != nil {
		return nil, err
	}
	rep.Base.Commit = h.String()
	headFS := source.Worktree(opts.Repo)
	if opts.Head != "" {
		if headFS, h, err = source.Revision(opts.Repo, opts.Head); err != nil {
			return nil, err
		}
		rep.Head.Commit = h.String()
	}
	if err := compare(ctx, rep, opts, baseFS, headFS); err != nil {
		return nil, err
	}
	if len(rep.Errors) > 0 {
		return rep, fmt.Errorf("%w: %d error(s)", ErrIncomplete, len(rep.Errors))
	}
	return rep, nil
}

// compare fills the report from two file systems.
func compare(ctx context.Context, rep *Report, opts Options, baseFS, headFS fs.FS) error {
	base, head := &side{name: "base " + rep.Base.String(), fsys: baseFS}, &side{name: "head " + rep.Head.String(), fsys: headFS}
	sites, all, err := changedSites(baseFS, headFS)
	if err != nil {
		return err
	}
	rep.Stats.Sites, rep.Stats.SitesRendered = all, len(sites)
	// The two revisions render concurrently, unless the caller injected
	// validators or addon loaders, which need not be safe for concurrent
	// use (a CUE context is not).
	concurrent := opts.Pipeline == nil
	var wg sync.WaitGroup
	for _, s := range []*side{base, head} {
		po := pipeline.Options{FS: s.fsys}
		if opts.Pipeline != nil {
			po = opts.Pipeline(s.fsys)
			po.FS = s.fsys
		}
		if len(sites) == 0 && all > 0 {
			// Nothing that renders changed. (With no site at all, the
			// render says what is wrong with the repository.)
			s.res = &pipeline.Result{Fleet: &load.Fleet{}, Sites: map[string]render.Files{}}
			continue
		}
		po.Sites = sites // nil when there are no sites: every site
		if !concurrent {
			s.res, s.err = pipeline.Render(ctx, po)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.res, s.err = pipeline.Render(ctx, po)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if base.err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("base %s does not render: %v", rep.Base, base.err))
	}
	if head.err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("head %s does not render: %v", rep.Head, head.err))
	}

	chart, err := compareChart(baseFS, headFS)
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	base.chartSum, head.chartSum = chart.sumA, chart.sumB
	base.chart, head.chart = chartFS(chart.filesA), chartFS(chart.filesB)
	if chart.change != nil {
		rep.Chart = chart.change
		rep.Findings = append(rep.Findings, chart.findings...)
	}
	if base.err != nil || head.err != nil {
		// Clusters and Flux trees cannot be compared against a revision
		// that does not render: comparing with nothing would report every
		// cluster as created or deleted.
		return nil
	}

	for _, s := range []*side{base, head} {
		s.exp, s.expErr = pipeline.NewExpander(s.chart, s.res)
	}
	clusters, err := compareClusters(ctx, opts, base, head, &rep.Stats)
	if err != nil {
		return err
	}
	for _, c := range clusters {
		if c.Error != "" {
			rep.Errors = append(rep.Errors, fmt.Sprintf("cluster %s/%s: %s", c.Site, c.Cluster, c.Error))
		}
		if c.Action != "" || len(c.Objects) > 0 {
			rep.Clusters = append(rep.Clusters, c)
		}
	}
	rep.Sites = compareSites(base.res, head.res)
	manifestChanges(rep, base, head)
	sortFindings(rep.Findings)
	return nil
}

type clusterID struct{ site, cluster string }

// expand expands a cluster of the side, or says why the chart did not load.
func (s *side) expand(ctx context.Context, rel *resolve.Release) ([]*unstructured.Unstructured, error) {
	if s.expErr != nil {
		return nil, s.expErr
	}
	return s.exp.Expand(ctx, rel)
}

// changedSites returns the sites, of either revision, whose inputs differ
// (their folder under clusters/, generated/ aside, or a shared input of
// every site), and how many sites there are.
func changedSites(a, b fs.FS) ([]string, int, error) {
	names := map[string]bool{}
	for _, fsys := range []fs.FS{a, b} {
		entries, err := fs.ReadDir(fsys, load.ClustersDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, 0, err
		}
		for _, e := range entries {
			// A site folder that is a link is a site too: rendering it is
			// what reports it.
			if e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
				names[e.Name()] = true
			}
		}
	}
	all := sortedKeys(names)
	for _, dir := range pipeline.SharedInputs {
		if !sameDigest(a, b, dir) {
			return all, len(all), nil
		}
	}
	var out []string
	for _, s := range all {
		if !sameDigest(a, b, path.Join(load.ClustersDir, s), load.GeneratedDir) {
			out = append(out, s)
		}
	}
	return out, len(all), nil
}

// sameDigest reports whether dir is the same in both revisions. A folder
// that cannot be read counts as changed: the render then says what is
// wrong with it.
func sameDigest(a, b fs.FS, dir string, skip ...string) bool {
	da, errA := source.Digest(a, dir, skip...)
	db, errB := source.Digest(b, dir, skip...)
	return errA == nil && errB == nil && da == db
}

// compareClusters expands and compares every cluster of either revision.
func compareClusters(ctx context.Context, opts Options, base, head *side, stats *Stats) ([]*ClusterReport, error) {
	ids := map[clusterID]bool{}
	for _, r := range base.res.Releases {
		ids[clusterID{r.Site, r.Cluster}] = true
	}
	for _, r := range head.res.Releases {
		ids[clusterID{r.Site, r.Cluster}] = true
	}
	order := make([]clusterID, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].site != order[j].site {
			return order[i].site < order[j].site
		}
		return order[i].cluster < order[j].cluster
	})

	stats.Clusters = len(order)
	var expanded, renders atomic.Int64
	defer func() {
		stats.ClustersExpanded, stats.ChartRenders = int(expanded.Load()), int(renders.Load())
	}()
	out := make([]*ClusterReport, len(order))
	if err := parallel.For(ctx, len(order), opts.Workers, func(_, i int) {
		out[i] = compareCluster(ctx, order[i], base, head, &expanded, &renders)
	}); err != nil {
		return nil, err
	}
	return out, nil
}

func compareCluster(ctx context.Context, id clusterID, base, head *side, expanded, renders *atomic.Int64) *ClusterReport {
	cr := &ClusterReport{Site: id.site, Cluster: id.cluster}
	ra, rb := base.res.Release(id.site, id.cluster), head.res.Release(id.site, id.cluster)
	ka, kb := expansionKey(base, ra), expansionKey(head, rb)
	if ra != nil && rb != nil && ka == kb {
		// Same values through the same chart for the same Kubernetes
		// version: the expansion is the same.
		return cr
	}
	expanded.Add(1)
	var old, cur objectSet
	var errs []string
	for _, x := range []struct {
		s   *side
		rel *resolve.Release
		set *objectSet
	}{{base, ra, &old}, {head, rb, &cur}} {
		if x.rel == nil {
			*x.set = objectSet{}
			continue
		}
		renders.Add(1)
		objs, err := x.s.expand(ctx, x.rel)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", x.s.name, err))
			*x.set = objectSet{}
			continue
		}
		*x.set = newObjectSet(objs)
	}
	if len(errs) > 0 {
		cr.Error = fmt.Sprint(errs)
		return cr
	}
	cr.Objects = compareObjects(old, cur)
	if len(cr.Objects) == 0 {
		return cr
	}
	impact(ctx, cr, old, cur)
	if cr.Action == "" {
		cr.Action = Changed
	}
	return cr
}

// expansionKey digests everything an expansion depends on.
func expansionKey(s *side, rel *resolve.Release) string {
	if rel == nil {
		return ""
	}
	v, err := json.Marshal(struct {
		Identity resolve.Identity
		Values   map[string]any
		Kube     string
		Chart    string
	}{rel.Identity, rel.Values, s.res.ManagementVersion(rel.Site), s.chartSum})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(v)
	return fmt.Sprintf("%x", sum)
}

// ChartChange is a change of the files of charts/openstack-cluster.
type ChartChange struct {
	Path        string       `json:"path"`
	VersionFrom string       `json:"versionFrom,omitempty"`
	VersionTo   string       `json:"versionTo,omitempty"`
	Files       []FileChange `json:"files"`
}

// FileChange is a file added, removed or changed.
type FileChange struct {
	Path   string `json:"path"`
	Action Action `json:"action"`
}

type chartResult struct {
	change         *ChartChange
	findings       []Finding
	sumA, sumB     string
	filesA, filesB map[string][]byte
}

// chartFS is a file system holding only the chart, where pipeline.Expand
// looks for it.
func chartFS(files map[string][]byte) fstest.MapFS {
	out := fstest.MapFS{}
	for p, b := range files {
		out[path.Join(pipeline.ChartDir, p)] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	return out
}

// compareChart compares the chart's files of both revisions. Flux builds a
// chart from git only when its version changes, so a change without a
// version bump reaches no cluster.
func compareChart(a, b fs.FS) (chartResult, error) {
	var res chartResult
	fa, errA := readTree(a, pipeline.ChartDir)
	fb, errB := readTree(b, pipeline.ChartDir)
	res.sumA, res.sumB = treeSum(fa), treeSum(fb)
	res.filesA, res.filesB = fa, fb
	if err := firstErr(errA, errB); err != nil {
		return res, fmt.Errorf("reading %s: %w", pipeline.ChartDir, err)
	}
	all := map[string]bool{}
	for p := range fa {
		all[p] = true
	}
	for p := range fb {
		all[p] = true
	}
	var files []FileChange
	for _, p := range sortedKeys(all) {
		da, oka := fa[p]
		db, okb := fb[p]
		switch {
		case !oka:
			files = append(files, FileChange{path.Join(pipeline.ChartDir, p), Added})
		case !okb:
			files = append(files, FileChange{path.Join(pipeline.ChartDir, p), Removed})
		case !bytes.Equal(da, db):
			files = append(files, FileChange{path.Join(pipeline.ChartDir, p), Changed})
		}
	}
	if len(files) == 0 {
		return res, nil
	}
	c := &ChartChange{Path: pipeline.ChartDir, VersionFrom: chartVersion(fa), VersionTo: chartVersion(fb), Files: files}
	res.change = c
	switch {
	case c.VersionFrom == c.VersionTo:
		res.findings = append(res.findings, Finding{Unsafe, fmt.Sprintf("%s changed without a version bump (Chart.yaml version %s): Flux rebuilds a chart from git only when its version changes, so no cluster gets the change", pipeline.ChartDir, c.VersionTo)})
	case cmpVersion(c.VersionFrom, c.VersionTo) > 0:
		res.findings = append(res.findings, Finding{Unsafe, fmt.Sprintf("%s version goes down %s -> %s", pipeline.ChartDir, c.VersionFrom, c.VersionTo)})
	default:
		res.findings = append(res.findings, Finding{Info, fmt.Sprintf("%s version %s -> %s: every cluster's release is upgraded", pipeline.ChartDir, c.VersionFrom, c.VersionTo)})
	}
	return res, nil
}

func readTree(fsys fs.FS, dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := p[len(dir)+1:]
		out[rel] = b
		return nil
	})
	return out, err
}

func treeSum(files map[string][]byte) string {
	h := sha256.New()
	for _, p := range sortedKeys(files) {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
		h.Write(files[p])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func chartVersion(files map[string][]byte) string {
	var c struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(files["Chart.yaml"], &c); err != nil {
		return ""
	}
	return c.Version
}

// decodeObjects splits a multi-document YAML file into objects.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range splitYAML(data) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if t := bytes.TrimRight(line, " \r\n"); bytes.Equal(t, []byte("---")) {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	docs = append(docs, cur.Bytes())
	return docs
}
