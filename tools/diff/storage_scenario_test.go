package diff

import (
	"sort"
	"strings"
	"testing"
)

// TestScenarioCloudConfAndStorage classifies the cloud controller's and
// Cinder's settings of the site and a cluster's choice of volume types:
// they are values of the cloud-controller and csi-cinder addons, so a
// change rolls no machine and touches none of the cluster's own objects;
// the diff shows exactly those addons' values changed.
func TestScenarioCloudConfAndStorage(t *testing.T) {
	t.Parallel()
	const site = "clusters/s1/site.yaml"
	const app = "clusters/s1/app.yaml"
	for _, tc := range []struct {
		name string
		edit func(r *testRepo)
		want []string // addons whose values change
	}{{
		name: "Services' load balancers",
		edit: func(r *testRepo) {
			r.edit(site, "  git:\n", "  networking:\n    loadBalancerProviders: [amphora, ovn]\n    serviceLoadBalancers: {provider: ovn, createMonitor: true}\n  git:\n")
		},
		want: []string{"cloud-controller"},
	}, {
		name: "volume types and block storage",
		edit: func(r *testRepo) {
			r.edit(site, "  git:\n", "  storage:\n    volumeTypes: [{name: standard, default: true}, {name: ssd}]\n    rescanOnResize: true\n  git:\n")
		},
		want: []string{"csi-cinder"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newPlatformsRepo(t, "base")
			tc.edit(r)
			r.commit(tc.name)
			rep := r.mustDiffWithPlatforms()
			if len(rep.Clusters) != 0 {
				t.Errorf("the cluster's own objects change: %s", textOf(t, rep))
			}
			var got []string
			for _, s := range rep.Sites {
				for _, a := range s.Addons {
					if a.Action != Changed || !a.ValuesChanged || a.VersionFrom != a.VersionTo {
						t.Errorf("addon %s/%s: %+v, want its values changed only", a.Cluster, a.Name, a)
					}
					got = append(got, a.Name)
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("addons changed %v, want %v:\n%s", got, tc.want, textOf(t, rep))
			}
		})
	}
}
