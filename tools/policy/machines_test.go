package policy

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/fleetgen"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// TestMachineCountsAgreeWithResolve: the rules' machines and peakMachines
// (which #SiteRules sums for policy.quota-site) are resolve's for every
// cluster, whether its groups take the built-in rollout, which the rules
// take without merging or #surge, or their own or their site's.
func TestMachineCountsAgreeWithResolve(t *testing.T) {
	const groupRollout = "      rollout: {maxSurge: 2, maxUnavailable: 1}\n"
	cases := []struct {
		name string
		// defaults are added to every site's spec.
		defaults string
		// groupRollout gives every third cluster's first group a rollout.
		groupRollout bool
	}{
		{name: "built-in rollouts"},
		{name: "groups' own rollouts", groupRollout: true},
		{name: "site's rollout", defaults: "  clusterDefaults:\n    rollout: {maxSurge: \"50%\", maxUnavailable: 0}\n"},
		{name: "site's and groups' rollouts", defaults: "  clusterDefaults:\n    rollout: {maxSurge: 0, maxUnavailable: \"25%\"}\n", groupRollout: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			files := fleetgen.Generate(fleetgen.Options{Seed: 3, Sites: 2, ClustersPerSite: 30})
			i := 0
			for _, p := range files.Paths() {
				src := string(files[p])
				if strings.HasSuffix(p, "/site.yaml") {
					src = strings.Replace(src, "  git:\n", tc.defaults+"  git:\n", 1)
				} else if tc.groupRollout && i%3 == 0 {
					at := strings.Index(src, "\n      flavor: ") + 1
					at += strings.Index(src[at:], "\n") + 1
					src = src[:at] + groupRollout + src[at:]
				}
				i++
				fsys[p] = &fstest.MapFile{Data: []byte(src)}
			}
			fleet, err := load.Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			e, err := newEngine()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range fleet.Sites {
				r := e.checkClusters(fsys, s, 0, len(s.Clusters))
				if len(r.diags) > 0 {
					t.Fatalf("the fleet is not valid:\n%s", Format(r.diags, FormatText))
				}
				for j, c := range s.Clusters {
					machines, peak := resolve.MachineCounts(s.Spec, c.Spec)
					if r.machines[j] != int64(machines) || r.peaks[j] != int64(peak) {
						t.Errorf("%s: the rules count %d machines, %d at the peak; resolve %d, %d", c.File, r.machines[j], r.peaks[j], machines, peak)
					}
				}
			}
		})
	}
}

// TestShortcutPremises: the rules skip maxUnhealthy's check where only the
// built-in maxima apply and #surge where only the built-in rollout does,
// which is right only while those are numbers (not percentages), the
// maxima at least 1.
func TestShortcutPremises(t *testing.T) {
	e, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	d := e.base.LookupPath(cpath("#builtinDefaults"))
	for _, p := range []string{"maxUnhealthy.controlPlane", "maxUnhealthy.workers", "rollout.maxSurge"} {
		n, err := d.LookupPath(cpath(p)).Int64()
		if err != nil {
			t.Errorf("#builtinDefaults.%s is not a number: %v", p, err)
			continue
		}
		if strings.HasPrefix(p, "maxUnhealthy.") && n < 1 {
			t.Errorf("#builtinDefaults.%s is %d, less than 1", p, n)
		}
	}
}
