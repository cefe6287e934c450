package diff

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
)

// SiteReport is the change of one site's generated Flux tree.
type SiteReport struct {
	Site string `json:"site"`
	// Dir is the generated tree's folder.
	Dir string `json:"dir"`
	// Addons are the addon HelmReleases (the platform components installed
	// into workload clusters) added, removed or changed.
	Addons []AddonChange `json:"addons,omitempty"`
	// Objects are every Flux object added, removed or changed, addons and
	// cluster HelmReleases included.
	Objects []ObjectChange `json:"objects,omitempty"`
	// Errors are generated files that do not decode.
	Errors []string `json:"errors,omitempty"`
}

// AddonChange is the change of one addon HelmRelease of a cluster.
type AddonChange struct {
	// Cluster is the cluster the addon is installed into (the HelmRelease's
	// namespace); Name is the component.
	Cluster string `json:"cluster"`
	Name    string `json:"name"`
	Action  Action `json:"action"`
	// Chart is the chart's name; VersionFrom and VersionTo its version
	// before and after (equal when unchanged).
	Chart       string `json:"chart,omitempty"`
	VersionFrom string `json:"versionFrom,omitempty"`
	VersionTo   string `json:"versionTo,omitempty"`
	// ValuesChanged is true when spec.values or spec.valuesFrom changed.
	ValuesChanged bool `json:"valuesChanged,omitempty"`
	// ManifestsChanged is the folder of a manifests component whose files
	// changed (the component's Kustomization itself may be unchanged).
	ManifestsChanged string `json:"manifestsChanged,omitempty"`
}

// compareSites compares the generated trees of every site of either
// revision.
func compareSites(a, b *pipeline.Result) []*SiteReport {
	sites := map[string]bool{}
	for s := range a.Sites {
		sites[s] = true
	}
	for s := range b.Sites {
		sites[s] = true
	}
	var out []*SiteReport
	for _, s := range sortedKeys(sites) {
		sr := &SiteReport{Site: s, Dir: render.Dir(s)}
		fa, fb := changedFiles(a.Sites[s], b.Sites[s])
		old, errA := fluxObjects(fa)
		cur, errB := fluxObjects(fb)
		sr.Errors = append(errA, errB...)
		sr.Objects = compareObjects(old, cur)
		clusterReleases := map[ObjectKey]bool{}
		for _, res := range []*pipeline.Result{a, b} {
			for _, rel := range res.Releases {
				if rel.Site == s {
					clusterReleases[ObjectKey{Kind: "HelmRelease", Namespace: rel.HelmReleaseNamespace, Name: rel.HelmReleaseName}] = true
				}
			}
		}
		for _, c := range sr.Objects {
			if c.Kind != "HelmRelease" || clusterReleases[ObjectKey{Kind: c.Kind, Namespace: c.Namespace, Name: c.Name}] {
				continue
			}
			sr.Addons = append(sr.Addons, addonChange(c, old[c.ObjectKey], cur[c.ObjectKey]))
		}
		sort.SliceStable(sr.Addons, func(i, j int) bool {
			if sr.Addons[i].Cluster != sr.Addons[j].Cluster {
				return sr.Addons[i].Cluster < sr.Addons[j].Cluster
			}
			return sr.Addons[i].Name < sr.Addons[j].Name
		})
		if len(sr.Objects) > 0 || len(sr.Errors) > 0 {
			out = append(out, sr)
		}
	}
	return out
}

// changedFiles drops the files that are the same in both trees: only the
// others can hold a changed object, and decoding is the cost of a diff.
func changedFiles(a, b render.Files) (render.Files, render.Files) {
	oa, ob := render.Files{}, render.Files{}
	for p, da := range a {
		if db, ok := b[p]; !ok || !bytes.Equal(da, db) {
			oa[p] = da
		}
	}
	for p, db := range b {
		if da, ok := a[p]; !ok || !bytes.Equal(da, db) {
			ob[p] = db
		}
	}
	return oa, ob
}

// fluxObjects decodes a generated tree. Objects without a name (the
// kustomize configs) are keyed by their file.
func fluxObjects(files render.Files) (objectSet, []string) {
	set := objectSet{}
	var errs []string
	for _, p := range files.Paths() {
		objs, err := decodeObjects(files[p])
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		for _, o := range objs {
			k := keyOf(o)
			if k.Name == "" {
				k.Name = p
			}
			set[k] = o
		}
	}
	return set, errs
}

// chartOf returns a HelmRelease's chart name and version, from
// spec.chart.spec or spec.chartRef.
func chartOf(hr *unstructured.Unstructured) (string, string) {
	if hr == nil {
		return "", ""
	}
	if name := nestedString(hr, "spec", "chart", "spec", "chart"); name != "" {
		return name, nestedString(hr, "spec", "chart", "spec", "version")
	}
	return nestedString(hr, "spec", "chartRef", "name"), nestedString(hr, "spec", "chartRef", "version")
}

func addonChange(c ObjectChange, a, b *unstructured.Unstructured) AddonChange {
	ac := AddonChange{Cluster: c.Namespace, Name: c.Name, Action: c.Action}
	if ac.Action == Kept {
		ac.Action = Removed
	}
	var chartA, chartB string
	chartA, ac.VersionFrom = chartOf(a)
	chartB, ac.VersionTo = chartOf(b)
	ac.Chart = chartB
	if ac.Chart == "" {
		ac.Chart = chartA
	}
	for _, f := range c.Fields {
		if strings.HasPrefix(f.Path, "spec.values") {
			ac.ValuesChanged = true
		}
	}
	return ac
}

// String describes an addon change on one line.
func (a AddonChange) String() string {
	var parts []string
	switch a.Action {
	case Added:
		parts = append(parts, fmt.Sprintf("added (%s %s)", a.Chart, a.VersionTo))
	case Removed:
		parts = append(parts, fmt.Sprintf("removed (was %s %s): uninstalled from the cluster", a.Chart, a.VersionFrom))
	default:
		if a.VersionFrom != a.VersionTo {
			parts = append(parts, fmt.Sprintf("chart %s %s -> %s", a.Chart, a.VersionFrom, a.VersionTo))
		}
		if a.ValuesChanged {
			parts = append(parts, "values changed")
		}
		if a.ManifestsChanged != "" {
			parts = append(parts, fmt.Sprintf("manifests in %s changed: re-applied into the cluster", a.ManifestsChanged))
		}
		if len(parts) == 0 {
			parts = append(parts, "changed")
		}
	}
	return fmt.Sprintf("%s/%s: %s", a.Cluster, a.Name, strings.Join(parts, ", "))
}
