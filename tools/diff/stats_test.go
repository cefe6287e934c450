package diff

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/fleetgen"
)

// TestOnlyWhatChangedIsRenderedAndExpanded: the diff renders only the
// sites whose inputs changed and expands only the clusters whose chart,
// values or Kubernetes version changed; a change of a shared input (the
// chart, the platform catalogue) renders every site.
func TestOnlyWhatChangedIsRenderedAndExpanded(t *testing.T) {
	t.Parallel()
	const sites, perSite = 3, 8
	one := "clusters/" + fleetgen.SiteName(1) + "/" + fleetgen.ClusterName(1, 5) + ".yaml"
	for _, tc := range []struct {
		name   string
		change func(r *testRepo)
		want   Stats
		// changed is the number of clusters in the report.
		changed int
	}{
		{
			name: "one cluster's node group",
			change: func(r *testRepo) {
				r.edit(one, "  nodeGroups:\n", "  nodeGroups:\n    - {name: extra, flavor: m1.medium, replicas: 2}\n")
			},
			want: Stats{Sites: sites, SitesRendered: 1, Clusters: perSite, ClustersExpanded: 1, ChartRenders: 2}, changed: 1,
		},
		{
			name:   "a cluster added",
			change: func(r *testRepo) { r.write("clusters/"+fleetgen.SiteName(2)+"/new.yaml", r.read(one)) },
			want:   Stats{Sites: sites, SitesRendered: 1, Clusters: perSite + 1, ClustersExpanded: 1, ChartRenders: 1}, changed: 1,
		},
		{
			name:   "a cluster removed",
			change: func(r *testRepo) { r.remove(one) },
			want:   Stats{Sites: sites, SitesRendered: 1, Clusters: perSite, ClustersExpanded: 1, ChartRenders: 1}, changed: 1,
		},
		{
			name:   "only a generated tree",
			change: func(r *testRepo) { r.write("clusters/"+fleetgen.SiteName(0)+"/generated/stray.yaml", "a: 1\n") },
			want:   Stats{Sites: sites},
		},
		{
			name:   "a shared input that changes no cluster",
			change: func(r *testRepo) { r.write("platforms/README.md", "notes\n") },
			want:   Stats{Sites: sites, SitesRendered: sites, Clusters: sites * perSite},
		},
		{
			name: "the chart, with its version bumped",
			change: func(r *testRepo) {
				r.edit("charts/openstack-cluster/templates/_helpers.tpl", "nodeDrainTimeoutSeconds: 600", "nodeDrainTimeoutSeconds: 900")
				bumpChart(r)
			},
			want: Stats{Sites: sites, SitesRendered: sites, Clusters: sites * perSite, ClustersExpanded: sites * perSite, ChartRenders: 2 * sites * perSite}, changed: sites * perSite,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newFleetRepo(t, sites, perSite)
			tc.change(r)
			r.commit(tc.name)
			rep := r.mustDiff()
			if rep.Stats != tc.want {
				t.Errorf("stats:\n got %+v\nwant %+v", rep.Stats, tc.want)
			}
			if len(rep.Clusters) != tc.changed {
				t.Errorf("%d cluster(s) in the report, want %d", len(rep.Clusters), tc.changed)
			}
			if rep.Stats.ClustersExpanded != len(rep.Clusters) {
				t.Errorf("expanded %d cluster(s) for %d changed", rep.Stats.ClustersExpanded, len(rep.Clusters))
			}
		})
	}
}

// TestNewSiteInTheWorkTreeIsRendered: a site added in the work tree, with a
// stray dangling link in its folder (an editor's lock file), is new, not
// unchanged.
func TestNewSiteInTheWorkTreeIsRendered(t *testing.T) {
	t.Parallel()
	r := newFleetRepo(t, 2, 3)
	from, to := fleetgen.SiteName(1), "newsite"
	for _, name := range []string{"site.yaml", fleetgen.ClusterName(1, 0) + ".yaml", fleetgen.ClusterName(1, 1) + ".yaml"} {
		data := strings.ReplaceAll(r.read("clusters/"+from+"/"+name), from, to)
		r.write("clusters/"+to+"/"+name, data)
	}
	if err := os.Symlink("user@host.1234:1", filepath.Join(r.dir, "clusters", to, ".#notes.md")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	rep, err := Run(context.Background(), Options{Repo: r.dir, Base: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.SitesRendered != 1 || len(rep.Clusters) != 2 {
		t.Fatalf("rendered %d site(s), %d cluster(s) in the report; want the new site and its 2 clusters", rep.Stats.SitesRendered, len(rep.Clusters))
	}
	for _, c := range rep.Clusters {
		if c.Site != to || c.Action != Added {
			t.Errorf("%s/%s: %s", c.Site, c.Cluster, c.Action)
		}
	}
}
