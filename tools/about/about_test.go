package about

import (
	"os"
	"runtime/debug"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/yaml"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		bi           debug.BuildInfo
		wantVersion  string
		wantRevision string
		wantModified bool
		released     bool
	}{
		{
			name:        "go install of a tag",
			bi:          debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.3.0"}},
			wantVersion: "v0.3.0", released: true,
		},
		{
			name:        "go install of a commit",
			bi:          debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.3.1-0.20260701120000-0123456789ab"}},
			wantVersion: "v0.3.1-0.20260701120000-0123456789ab", released: true,
		},
		{
			name: "checkout with uncommitted changes",
			bi: debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.3.1-0.20260701120000-0123456789ab+dirty"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}},
			wantVersion: "v0.3.1-0.20260701120000-0123456789ab+dirty", wantRevision: "0123456789abcdef", wantModified: true,
		},
		{
			name:        "checkout without version control",
			bi:          debug.BuildInfo{Main: debug.Module{Path: Module, Version: Devel}},
			wantVersion: Devel,
		},
		{
			name:        "test binary",
			bi:          debug.BuildInfo{},
			wantVersion: Devel,
		},
		{
			name:        "a dependency of another program",
			bi:          debug.BuildInfo{Main: debug.Module{Path: "example.org/ops"}, Deps: []*debug.Module{{Path: Module, Version: "v0.2.0"}}},
			wantVersion: "v0.2.0", released: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuildInfo(&tc.bi)
			if got.Version != tc.wantVersion || got.Revision != tc.wantRevision || got.Modified != tc.wantModified {
				t.Errorf("got version %q revision %q modified %v, want %q %q %v", got.Version, got.Revision, got.Modified, tc.wantVersion, tc.wantRevision, tc.wantModified)
			}
			if Released(got.Version) != tc.released {
				t.Errorf("Released(%q) = %v, want %v", got.Version, !tc.released, tc.released)
			}
		})
	}
}

// TestReadNamesTheCarriedChart: the version printed is the one of the
// chart in the repository (the embedded copy is that folder).
func TestReadNamesTheCarriedChart(t *testing.T) {
	info, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../charts/openstack-cluster/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Version string }
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	if len(info.Charts) != 1 || info.Charts[0].Name != "openstack-cluster" || info.Charts[0].Version != meta.Version {
		t.Errorf("charts = %+v, want openstack-cluster %s", info.Charts, meta.Version)
	}
	if info.Policies.Version == "" || len(info.Policies.Digest) != len("sha256:")+12 {
		t.Errorf("policies = %+v", info.Policies)
	}
}

func TestDigestChangesWithAnyEdit(t *testing.T) {
	t.Parallel()
	base := fstest.MapFS{"a.cue": {Data: []byte("a: 1")}, "b.cue": {Data: []byte("b: 2")}}
	d0, err := Digest(base)
	if err != nil {
		t.Fatal(err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"content":                   {"a.cue": {Data: []byte("a: 2")}, "b.cue": {Data: []byte("b: 2")}},
		"rename":                    {"c.cue": {Data: []byte("a: 1")}, "b.cue": {Data: []byte("b: 2")}},
		"added":                     {"a.cue": {Data: []byte("a: 1")}, "b.cue": {Data: []byte("b: 2")}, "c.cue": {}},
		"moved bytes between files": {"a.cue": {Data: []byte("a: 1b")}, "b.cue": {Data: []byte(": 2")}},
	} {
		d, err := Digest(fsys)
		if err != nil {
			t.Fatal(err)
		}
		if d == d0 {
			t.Errorf("%s: digest unchanged %s", name, d)
		}
	}
	again, _ := Digest(base)
	if again != d0 {
		t.Errorf("digest not reproducible: %s then %s", d0, again)
	}
}
