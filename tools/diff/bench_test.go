package diff

import (
	"context"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/fleetgen"
)

// Benchmarks run on a generated fleet of 10 sites of 100 clusters:
//
//	go test ./tools/diff -run '^$' -bench . -benchtime 3x
const (
	benchSites    = 10
	benchClusters = 100
)

// newFleetRepo commits a generated fleet with the chart.
func newFleetRepo(tb testing.TB, sites, clusters int) *testRepo {
	tb.Helper()
	r := newChartRepo(tb)
	files := fleetgen.Generate(fleetgen.Options{Seed: 1, Sites: sites, ClustersPerSite: clusters})
	for _, p := range files.Paths() {
		r.write(p, string(files[p]))
	}
	r.commit("fleet")
	return r
}

// changeEveryCluster changes a chart template, with the version bump, so
// that every cluster's node groups and control plane change in place.
func changeEveryCluster(r *testRepo) {
	r.edit("charts/openstack-cluster/templates/_helpers.tpl", "nodeDrainTimeoutSeconds: 600", "nodeDrainTimeoutSeconds: 900")
	bumpChart(r)
	r.commit("longer drain everywhere")
}

func BenchmarkDiffOneCluster(b *testing.B) {
	r := newFleetRepo(b, benchSites, benchClusters)
	name := "clusters/" + fleetgen.SiteName(3) + "/" + fleetgen.ClusterName(3, 42) + ".yaml"
	r.edit(name, "  nodeGroups:\n", "  nodeGroups:\n    - {name: extra, flavor: m1.medium, replicas: 2}\n")
	r.commit("one more group")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Run(context.Background(), Options{Repo: r.dir, Base: "HEAD~1", Head: "HEAD"})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Clusters) != 1 {
			b.Fatalf("want one cluster, got %d", len(rep.Clusters))
		}
	}
}

func BenchmarkDiffAllClusters(b *testing.B) {
	r := newFleetRepo(b, benchSites, benchClusters)
	changeEveryCluster(r)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Run(context.Background(), Options{Repo: r.dir, Base: "HEAD~1", Head: "HEAD"})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Clusters) != benchSites*benchClusters {
			b.Fatalf("want %d clusters, got %d", benchSites*benchClusters, len(rep.Clusters))
		}
		var md strings.Builder
		if err := rep.Markdown(&md, 0); err != nil {
			b.Fatal(err)
		}
		if md.Len() > MaxComment {
			b.Fatalf("markdown of %d characters", md.Len())
		}
	}
}

// TestMarkdownFitsForThousandClusters diffs a chart change that touches
// every one of 1000 generated clusters, then checks that the comment fits
// and says it was cut.
func TestMarkdownFitsForThousandClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("expands 2000 releases")
	}
	t.Parallel()
	r := newFleetRepo(t, benchSites, benchClusters)
	changeEveryCluster(r)
	rep := r.mustDiff()
	if len(rep.Clusters) != 1000 {
		t.Fatalf("want 1000 clusters, got %d", len(rep.Clusters))
	}
	var md strings.Builder
	if err := rep.Markdown(&md, 0); err != nil {
		t.Fatal(err)
	}
	s := md.String()
	if len(s) > MaxComment {
		t.Fatalf("markdown of %d characters, over %d", len(s), MaxComment)
	}
	if !strings.HasPrefix(s, Marker) || !strings.Contains(s, "The report is cut to fit a comment of 65536 characters") {
		t.Errorf("the comment does not say it was cut:\n%s", s[len(s)-500:])
	}
	if !strings.Contains(s, "1000 cluster(s) changed") {
		t.Errorf("the summary is missing")
	}
	if strings.Count(s, "<details>") != strings.Count(s, "</details>") {
		t.Errorf("a <details> block is cut in the middle")
	}
}
