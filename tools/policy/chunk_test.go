package policy

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/load"
)

// TestLargeSiteIsCheckedInChunks: a site with more clusters than one task
// checks is judged as a whole: every cluster's problem is reported at its
// own file, and the site rules see the machines of every chunk.
func TestLargeSiteIsCheckedInChunks(t *testing.T) {
	const clusters = 3*minChunk + 7
	base := generateFleet(1, clusters)
	// Each cluster can have 3 + (1 + c%5) + 4 machines, and while it
	// rolls one more in the control plane and in each of its two groups.
	total := 0
	for c := range clusters {
		total += 8 + c%5 + 3
	}
	site := "clusters/site00/site.yaml"
	bad := map[string]string{
		"c001": "policy.flavor-offered",
		"c040": "policy.version-window policy.image-available",
		"c070": "policy.no-credentials",
		"c081": "policy.flavor-offered",
	}
	edit := func(quota int) fstest.MapFS {
		fsys := fstest.MapFS{}
		for p, f := range base {
			fsys[p] = &fstest.MapFile{Data: append([]byte(nil), f.Data...)}
		}
		sub := func(p, old, new string) {
			t.Helper()
			s := string(fsys[p].Data)
			if !strings.Contains(s, old) {
				t.Fatalf("%s lacks %q", p, old)
			}
			fsys[p].Data = []byte(strings.Replace(s, old, new, 1))
		}
		sub(site, "machinesPerSite: 4000", "machinesPerSite: "+itoa(quota))
		sub("clusters/site00/c001.yaml", "flavor: small", "flavor: tiny")
		sub("clusters/site00/c040.yaml", "kubernetesVersion: v1.36.1", "kubernetesVersion: v1.37.1")
		sub("clusters/site00/c070.yaml", "existingSecret: grafana-admin", "password: hunter2")
		sub("clusters/site00/c081.yaml", "flavor: large, replicas", "flavor: huge, replicas")
		return fsys
	}
	for _, tc := range []struct {
		quota     int
		overQuota bool
	}{{total, false}, {total - 1, true}} {
		fsys := edit(tc.quota)
		fleet, err := load.Load(fsys)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Validate(t.Context(), fleet, Options{Head: fsys})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		quota := false
		for _, d := range got {
			switch {
			case d.Rule == "policy.quota-site" && d.File == site:
				quota = true
			case strings.HasPrefix(d.File, "clusters/site00/c"):
				name := strings.TrimSuffix(strings.TrimPrefix(d.File, "clusters/site00/"), ".yaml")
				if !strings.Contains(" "+bad[name]+" ", " "+d.Rule+" ") {
					t.Errorf("unexpected: %s", d)
				}
				seen[name] = true
			default:
				t.Errorf("unexpected: %s", d)
			}
		}
		for name, rule := range bad {
			if !seen[name] {
				t.Errorf("quota %d: %s is not reported for %s", tc.quota, rule, name)
			}
		}
		if quota != tc.overQuota {
			t.Errorf("quota %d of %d machines: over-quota reported = %v", tc.quota, total, quota)
		}
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
