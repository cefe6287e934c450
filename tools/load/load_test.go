package load

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/diag"
)

const siteYAML = `apiVersion: capiform.dev/v1alpha1
kind: Site
metadata:
  name: s1
spec:
  managementCluster: mgmt
  cloud: {credentialsSecret: creds, externalNetworkId: ext}
  images: [{kubernetesVersion: v1.36.1, name: img}]
  flavors: [{name: m1, vcpus: 2, ramMiB: 4096}]
  kubernetesVersions: {min: v1.36.0, max: v1.36.9}
  git: {url: ssh://git@example.org/fleet.git}
`

const mgmtYAML = `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata:
  name: mgmt
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: m1}
`

func repo(extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"clusters/s1/site.yaml": {Data: []byte(siteYAML)},
		"clusters/s1/mgmt.yaml": {Data: []byte(mgmtYAML)},
	}
	for p, c := range extra {
		if c == "" {
			delete(fsys, p)
			continue
		}
		fsys[p] = &fstest.MapFile{Data: []byte(c)}
	}
	return fsys
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	f, err := Load(repo(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Site("s1")
	if s == nil || s.Management() == nil {
		t.Fatalf("site or management cluster missing: %+v", f)
	}
	if got := s.Management().Pos.Of("spec.controlPlane.flavor"); got.Line != 7 || got.File != "clusters/s1/mgmt.yaml" {
		t.Errorf("position of spec.controlPlane.flavor = %v, want clusters/s1/mgmt.yaml:7", got)
	}
	// An absent field falls back to its nearest written parent.
	if got := s.Management().Pos.Of("spec.controlPlane.replicas"); got.Line != 7 {
		t.Errorf("position of absent spec.controlPlane.replicas = %v, want line 7", got)
	}
}

func TestLoadExampleFleet(t *testing.T) {
	t.Parallel()
	f, err := Load(os.DirFS("../.."))
	if err != nil {
		t.Fatal(err)
	}
	// The example fleet is the operator's: no count of it is pinned.
	if len(f.Sites) < 1 {
		t.Fatalf("example fleet has no site")
	}
}

// TestLoadBadInput: every kind of bad input is reported with file:line,
// and every problem of a repository at once.
func TestLoadBadInput(t *testing.T) {
	t.Parallel()
	c := func(body string) string {
		return "apiVersion: capiform.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: c1\nspec:\n" + body
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "file:line: rule" fragments, all expected
	}{
		{
			name:  "malformed YAML",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1\n")},
			want:  []string{"clusters/s1/c1.yaml:7: malformed YAML"},
		},
		{
			// yaml.v3 alone says line 8, the list's parent.
			name:  "a list item indented too deep",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  platforms:\n    - name: base\n     - name: gpu\n")},
			want:  []string{`clusters/s1/c1.yaml:10:6: malformed YAML: did not find expected '-' indicator: check the indentation of this line (line 10 starts in column 6, line 9 in column 5): the items of a list start in the same column, the keys of a mapping too [load.yaml]`},
		},
		{
			// yaml.v3 alone says line 5, the spec.
			name:  "a list item indented too little",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  platforms:\n    - name: base\n   - name: gpu\n")},
			want:  []string{`clusters/s1/c1.yaml:10:4: malformed YAML: did not find expected key: check the indentation of this line (line 10 starts in column 4, line 9 in column 5)`},
		},
		{
			name:  "a key indented too deep",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n   controlPlane: {flavor: m1}\n")},
			want:  []string{`clusters/s1/c1.yaml:7: malformed YAML: mapping values are not allowed in this context: quote a value that holds ": ", or check the indentation of this line`},
		},
		{
			name:  "unknown key",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavour: m1}\n")},
			want:  []string{`clusters/s1/c1.yaml:7:18: unknown field "spec.controlPlane.flavour": did you mean "flavor"? [load.unknown-field]`},
		},
		{
			name:  "duplicate key",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  kubernetesVersion: v1.36.2\n  controlPlane: {flavor: m1}\n")},
			want:  []string{`clusters/s1/c1.yaml:7:3: key "spec.kubernetesVersion" is already set at line 6`},
		},
		{
			name:  "duplicate key in free-form values",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  platforms:\n    - name: base\n      values:\n        cni: {a: 1, a: 2}\n")},
			want:  []string{`clusters/s1/c1.yaml:11:21: key "spec.platforms[0].values.cni.a" is already set`},
		},
		{
			name: "two clusters with one name",
			files: map[string]string{
				"clusters/s1/c1.yaml":    c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n"),
				"clusters/s1/other.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n"),
			},
			want: []string{`clusters/s1/other.yaml:4:9: cluster "c1" is already defined in clusters/s1/c1.yaml:4`},
		},
		{
			name:  "cluster name not a DNS label",
			files: map[string]string{"clusters/s1/c1.yaml": strings.Replace(c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n"), "name: c1", "name: Research_1", 1)},
			want:  []string{`clusters/s1/c1.yaml:4:9: cluster name "Research_1" is not a DNS label`},
		},
		{
			name:  "node group name not a DNS label and duplicated",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  nodeGroups:\n    - {name: GPU, flavor: m1}\n    - {name: md, flavor: m1}\n    - {name: md, flavor: m1}\n")},
			want: []string{
				`clusters/s1/c1.yaml:9:14: node group name "GPU" is not a DNS label`,
				`clusters/s1/c1.yaml:11:14: node group "md" is already defined at line 10`,
			},
		},
		{
			name: "label keys and values Kubernetes refuses",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  nodeGroups:\n    - name: md\n      flavor: m1\n      labels:\n" +
				"        \"pool type\": a\n" +
				"        tier: " + strings.Repeat("v", 300) + "\n" +
				"        \"a\\n::warning::x\": b\n" +
				"        zone: \"a\\nb\"\n" +
				"        example.com/ok: fine\n")},
			want: []string{
				`clusters/s1/c1.yaml:14:28: node group md: label key "a\n::warning::x" is refused by Kubernetes: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') [load.label]`,
				`clusters/s1/c1.yaml:12:22: node group md: label key "pool type" is refused by Kubernetes: name part must consist of alphanumeric characters`,
				`clusters/s1/c1.yaml:13:15: node group md: the value of label "tier" is refused by Kubernetes ("` + strings.Repeat("v", 80) + `"... (300 characters)): must be no more than 63 bytes [load.label]`,
				`clusters/s1/c1.yaml:15:15: node group md: the value of label "zone" is refused by Kubernetes ("a\nb"): a valid label must be an empty string or consist of alphanumeric characters`,
			},
		},
		{
			name: "taints Kubernetes refuses",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  nodeGroups:\n    - name: md\n      flavor: m1\n      taints:\n" +
				"        - {key: \"gpu only\", value: x, effect: NoSchedule}\n" +
				"        - {key: gpu, value: \"a b\", effect: NoSchedule}\n")},
			want: []string{
				`clusters/s1/c1.yaml:12:17: node group md: taint key "gpu only" is refused by Kubernetes: name part must consist of alphanumeric characters`,
				`clusters/s1/c1.yaml:13:29: node group md: the value of taint "gpu" is refused by Kubernetes ("a b"): a valid label must be an empty string`,
			},
		},
		{
			name:  "secret names Kubernetes refuses",
			files: map[string]string{"clusters/s1/site.yaml": strings.Replace(strings.Replace(siteYAML, "credentialsSecret: creds", "credentialsSecret: Creds_1", 1), "git: {url:", "git: {secretName: -key, url:", 1)},
			want: []string{
				`clusters/s1/site.yaml:7:30: spec.cloud.credentialsSecret "Creds_1" is not the name of a Kubernetes Secret: a lowercase RFC 1123 subdomain must consist of`,
				`clusters/s1/site.yaml:11:21: spec.git.secretName "-key" is not the name of a Kubernetes Secret`,
			},
		},
		{
			name:  "wrong type: unquoted version becomes a number",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: 1.36\n  controlPlane: {flavor: m1, replicas: three}\n")},
			want: []string{
				`clusters/s1/c1.yaml:6:22: spec.kubernetesVersion must be a string: quote it ("1.36")`,
				`clusters/s1/c1.yaml:7:40: spec.controlPlane.replicas must be a whole number, not "three"`,
			},
		},
		{
			name:  "a number or a percentage of machines",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  nodeGroups:\n    - name: md\n      flavor: m1\n      rollout: {maxSurge: 25%, maxUnavailable: [1]}\n")},
			want:  []string{`clusters/s1/c1.yaml:11:48: spec.nodeGroups[0].rollout.maxUnavailable must be a whole number or a percentage such as "25%" [load.type]`},
		},
		{
			name:  "wrong kind in a cluster file",
			files: map[string]string{"clusters/s1/c1.yaml": strings.Replace(c(""), "kind: Cluster", "kind: Site", 1)},
			want:  []string{`clusters/s1/c1.yaml:1:1: kind is "Site" but every file of a site but site.yaml holds one Cluster`},
		},
		{
			name:  "CAPI apiVersion is not ours",
			files: map[string]string{"clusters/s1/c1.yaml": strings.Replace(c(""), "capiform.dev/v1alpha1", "cluster.x-k8s.io/v1beta2", 1)},
			want:  []string{`clusters/s1/c1.yaml:1:1: apiVersion is "cluster.x-k8s.io/v1beta2"`},
		},
		{
			name:  "names are checked in a file with other problems",
			files: map[string]string{"clusters/s1/c1.yaml": strings.Replace(c("  kubernetesVersion: v1.36.1\n  bogus: 1\n  nodeGroups: [{name: Bad_Group, flavor: m1}]\n"), "name: c1", "name: Bad_Name", 1)},
			want: []string{
				`clusters/s1/c1.yaml:4:9: cluster name "Bad_Name" is not a DNS label`,
				`clusters/s1/c1.yaml:7:3: unknown field "spec.bogus"`,
				`clusters/s1/c1.yaml:8:23: node group name "Bad_Group" is not a DNS label`,
			},
		},
		{
			name:  "empty key",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m1}\n  apiServer:\n")},
			want:  []string{`clusters/s1/c1.yaml:8:13: spec.apiServer is empty: give it a value or remove the key [load.empty]`},
		},
		{
			name:  "two documents in one file",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n") + "---\n" + c("  kubernetesVersion: v1.36.1\n")},
			want:  []string{`clusters/s1/c1.yaml:1:1: found 2 YAML documents`},
		},
		{
			name:  "reserved name",
			files: map[string]string{"clusters/s1/c1.yaml": strings.Replace(c("  kubernetesVersion: v1.36.1\n"), "name: c1", "name: flux-system", 1)},
			want:  []string{`clusters/s1/c1.yaml:4:9: cluster name "flux-system" is reserved`},
		},
		{
			name:  "site name differs from folder",
			files: map[string]string{"clusters/s1/site.yaml": strings.Replace(siteYAML, "name: s1", "name: s2", 1)},
			want:  []string{`clusters/s1/site.yaml:4:9: site name "s2" differs from its folder "s1"`},
		},
		{
			name:  "a NUL byte at its line and column",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: m\x001}\n")},
			want:  []string{`clusters/s1/c1.yaml:7:27: malformed YAML: control character U+0000 is not allowed: remove it [load.yaml]`},
		},
		{
			name:  "an escape character after a multi-byte character",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1 # é\x1b\n  controlPlane: {flavor: m1}\n")},
			want:  []string{`clusters/s1/c1.yaml:6:33: malformed YAML: control character U+001B is not allowed: remove it [load.yaml]`},
		},
		{
			name:  "a byte that is not UTF-8",
			files: map[string]string{"clusters/s1/c1.yaml": c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: \xff}\n")},
			want:  []string{`clusters/s1/c1.yaml:7:26: malformed YAML: byte 0xff is not UTF-8: save the file as UTF-8 [load.yaml]`},
		},
		{
			name: "every problem at once, across files",
			files: map[string]string{
				"clusters/s1/a.yaml": c("  kubernetesVersion: v1.36.1\n  bogus: 1\n"),
				"clusters/s1/b.yaml": strings.Replace(c("  kubernetesVersion: v1.36.1\n  controlPlane: {flavor: [m1]}\n"), "c1", "c2", 1),
				"clusters/s1/c.yaml": "apiVersion: capiform.dev/v1alpha1\nkind: Cluster\nmetadata: {name: c3\n",
			},
			want: []string{
				`clusters/s1/a.yaml:7:3: unknown field "spec.bogus"`,
				`clusters/s1/b.yaml:7:26: spec.controlPlane.flavor must be a string`,
				`clusters/s1/c.yaml:3: malformed YAML: did not find expected`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(repo(tt.files))
			var list diag.List
			if !errors.As(err, &list) {
				t.Fatalf("Load() error = %v, want a diag.List", err)
			}
			got := list.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			if len(list) < len(tt.want) {
				t.Errorf("got %d problems, want at least %d", len(list), len(tt.want))
			}
		})
	}
}

func TestIsDNSLabel(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"a": true, "md-0": true, "0a": true, "-a": false, "a-": false, "A": false, "a_b": false, "": false,
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false,
	} {
		if got := IsDNSLabel(s); got != want {
			t.Errorf("IsDNSLabel(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzLoad: no input makes the loader panic, and a failure is always a
// list of diagnostics that each name a file.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(mgmtYAML))
	f.Add([]byte("apiVersion: capiform.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\nspec: {nodeGroups: [{name: a, labels: {a: b}}]}\n"))
	f.Add([]byte("{"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := repo(map[string]string{"clusters/s1/mgmt.yaml": ""})
		fsys["clusters/s1/mgmt.yaml"] = &fstest.MapFile{Data: data}
		_, err := Load(fsys)
		if err == nil {
			return
		}
		var list diag.List
		if !errors.As(err, &list) {
			t.Fatalf("error is not a diag.List: %v", err)
		}
		for _, d := range list {
			if d.File == "" || d.Rule == "" || d.Message == "" {
				t.Fatalf("diagnostic without file, rule or message: %+v", d)
			}
		}
	})
}

func TestClosest(t *testing.T) {
	t.Parallel()
	names := []string{"base", "dashboard", "datascience", "gpu", "ingress", "monitoring", "network"}
	for _, tc := range []struct{ name, in, want string }{
		{"two letters swapped", "bsae", "base"},
		{"a letter missing", "monitorng", "monitoring"},
		{"a letter more", "ingresss", "ingress"},
		{"case ignored", "GPU", "gpu"},
		{"two edits", "netwrk2", "network"},
		{"nothing near", "security", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Closest(tc.in, names); got != tc.want {
				t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
