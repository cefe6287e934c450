package pipeline

import (
	"context"
	"fmt"
	"io/fs"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
	"github.com/capiform/capiform/tools/verify"
)

// ChartDir is the openstack-cluster chart in the repository.
const ChartDir = "charts/openstack-cluster"

// Expand renders a cluster's HelmRelease through the chart as it is in the
// revision fsys, as helm-controller would on the site's management cluster.
func Expand(ctx context.Context, fsys fs.FS, res *Result, rel *resolve.Release) ([]*unstructured.Unstructured, error) {
	chart, err := fs.Sub(fsys, ChartDir)
	if err != nil {
		return nil, err
	}
	return expand.Expand(ctx, expand.Options{
		Chart:                chart,
		ReleaseName:          rel.ReleaseName,
		Namespace:            rel.TargetNamespace,
		Values:               rel.Values,
		KubeVersion:          res.ManagementVersion(rel.Site),
		HelmReleaseName:      rel.HelmReleaseName,
		HelmReleaseNamespace: rel.HelmReleaseNamespace,
	})
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
	for _, s := range sites {
		built, err := render.BuildAll(s, res.Sites[s])
		if err != nil {
			out.Problems = append(out.Problems, fmt.Sprintf("site %s: %v", s, err))
			continue
		}
		dirs := make([]string, 0, len(built))
		for d := range built {
			dirs = append(dirs, d)
		}
		sort.Strings(dirs)
		for _, d := range dirs {
			out.Objects += len(built[d])
			if err := verify.Objects(built[d]); err != nil {
				out.Problems = append(out.Problems, fmt.Sprintf("site %s: %s: %v", s, render.Dir(s)+"/"+d, err))
			}
		}
	}
	for _, rel := range res.Releases {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		objs, err := Expand(ctx, fsys, res, rel)
		if err != nil {
			out.Problems = append(out.Problems, fmt.Sprintf("cluster %s/%s: expand: %v", rel.Site, rel.Cluster, err))
			continue
		}
		out.Clusters++
		out.Objects += len(objs)
		if err := verify.Objects(objs); err != nil {
			out.Problems = append(out.Problems, fmt.Sprintf("cluster %s/%s: %v", rel.Site, rel.Cluster, err))
		}
	}
	return out, nil
}
