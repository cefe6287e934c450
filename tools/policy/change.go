package policy

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"

	"cuelang.org/go/cue"
	"gopkg.in/yaml.v3"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/abandon"
	"github.com/capiform/capiform/tools/load"
)

// ChartsDir holds the repository's charts.
const ChartsDir = "charts"

// checkChange applies the change rules from base to head.
func (e *engine) checkChange(ctx context.Context, base, head *load.Fleet, checked map[*load.Site]*siteResult, opts Options) (diag.List, error) {
	var out diag.List

	// Each cluster in both revisions.
	for _, hs := range head.Sites {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bs := base.Site(hs.Metadata.Name)
		r := checked[hs]
		if bs == nil || r == nil {
			continue
		}
		for i, hc := range hs.Clusters {
			bc := bs.Cluster(hc.Metadata.Name)
			if bc == nil || !r.clusters[i].ok || bytes.Equal(bc.Source, hc.Source) {
				continue // new, broken, or unchanged: no change to judge
			}
			// The site policy's change rules can make CUE evaluate for
			// ever: abandoned when ctx ends, named by the change.
			d, err := abandon.Run(ctx, evaluating(opts.Head, hs)+" on the change of "+hc.File, func(context.Context) (diag.List, error) {
				// The cluster's values live in the CUE context of the
				// engine that checked it.
				se := r.clusters[i].eng
				baseDef := se.base.LookupPath(cpath("#Cluster"))
				rules := se.base.LookupPath(cpath("#ClusterChange"))
				bdata, err := extract(se.ctx, bc.File, bc.Source)
				if err != nil || baseDef.Unify(bdata).Validate(cue.Concrete(true)) != nil {
					return nil, nil // a broken base is not this change's fault
				}
				v := rules.Unify(se.ctx.CompileString("{}").FillPath(cpath("base"), bdata).FillPath(cpath("head"), r.clusters[i].data))
				m, d := judge(r.clusters[i].sp, "#ClusterChange", v, hc.File, hc.File)
				return append(d, violationDiags(m, hc.Pos.Of)...), nil
			})
			if err != nil {
				return nil, err
			}
			out = append(out, d...)
		}
	}

	// Sites as a whole: management clusters kept, protected clusters not
	// deleted, clusters not moved.
	type summary struct {
		Management string   `json:"management"`
		Clusters   []string `json:"clusters"`
		Deletable  []string `json:"deletable"`
	}
	summarize := func(f *load.Fleet) map[string]summary {
		m := map[string]summary{}
		for _, s := range f.Sites {
			sum := summary{Management: s.Spec.ManagementCluster, Clusters: []string{}, Deletable: []string{}}
			for _, c := range s.Clusters {
				sum.Clusters = append(sum.Clusters, c.Metadata.Name)
				if p := c.Spec.DeletionProtection; p != nil && !*p {
					sum.Deletable = append(sum.Deletable, c.Metadata.Name)
				}
			}
			m[s.Metadata.Name] = sum
		}
		return m
	}
	fv := e.base.LookupPath(cpath("#FleetChange")).
		FillPath(cpath("base"), e.ctx.Encode(summarize(base))).
		FillPath(cpath("head"), e.ctx.Encode(summarize(head)))
	out = append(out, mapViolations(fv, load.ClustersDir, func(p string) diag.Pos {
		loc, field, _ := strings.Cut(p, ":")
		siteName, clusterName, isCluster := strings.Cut(loc, "/")
		for _, f := range []*load.Fleet{head, base} {
			s := f.Site(siteName)
			if s == nil {
				continue
			}
			if !isCluster {
				return s.Pos.Of(field)
			}
			if c := s.Cluster(clusterName); c != nil {
				return c.Pos.Of(field)
			}
		}
		return diag.Pos{File: path.Join(load.ClustersDir, siteName)}
	})...)

	// Charts whose files change get a new version.
	if opts.Head != nil {
		d, err := e.checkCharts(opts.Base, opts.Head)
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
	}
	return out, nil
}

// chartFacts is what #ChartChange knows of a chart.
type chartFacts struct {
	Changed     bool   `json:"changed"`
	BaseVersion string `json:"baseVersion,omitempty"`
	HeadVersion string `json:"headVersion,omitempty"`
}

// checkCharts compares every chart of head with base; CUE judges.
func (e *engine) checkCharts(base, head fs.FS) (diag.List, error) {
	headCharts, err := readCharts(head)
	if err != nil {
		return nil, err
	}
	baseCharts, err := readCharts(base)
	if err != nil {
		return nil, err
	}
	facts := map[string]chartFacts{}
	for name, hc := range headCharts {
		bc, ok := baseCharts[name]
		if !ok {
			continue // a new chart
		}
		facts[name] = chartFacts{Changed: !sameFiles(bc.files, hc.files), BaseVersion: bc.version, HeadVersion: hc.version}
	}
	v := e.base.LookupPath(cpath("#ChartChange")).FillPath(cpath("charts"), e.ctx.Encode(facts))
	return mapViolations(v, ChartsDir, func(name string) diag.Pos {
		file := path.Join(ChartsDir, name, "Chart.yaml")
		return diag.Pos{File: file, Line: headCharts[name].versionLine, Col: 1}
	}), nil
}

type chart struct {
	files       map[string][]byte
	version     string
	versionLine int
}

// readCharts reads every file of every chart under charts/.
func readCharts(fsys fs.FS) (map[string]*chart, error) {
	out := map[string]*chart{}
	entries, err := fs.ReadDir(fsys, ChartsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, errf("reading %s: %w", ChartsDir, err)
	}
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		dir := path.Join(ChartsDir, ent.Name())
		c := &chart{files: map[string][]byte{}}
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			c.files[strings.TrimPrefix(p, dir+"/")] = data
			return nil
		})
		if err != nil {
			return nil, errf("reading chart %s: %w", dir, err)
		}
		meta, ok := c.files["Chart.yaml"]
		if !ok {
			continue // not a chart
		}
		var doc yaml.Node
		if yaml.Unmarshal(meta, &doc) == nil && len(doc.Content) == 1 {
			m := doc.Content[0]
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == "version" {
					c.version, c.versionLine = m.Content[i+1].Value, m.Content[i].Line
				}
			}
		}
		out[ent.Name()] = c
	}
	return out, nil
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}
