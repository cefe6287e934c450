package platform

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

const basePlatform = `apiVersion: capiform.dev/v1alpha1
kind: Platform
metadata:
  name: base
spec:
  components:
    - name: cni
      cni: true
      select: provider
      default: calico
      variants:
        - name: calico
          chart: {repository: https://docs.tigera.io/calico/charts, name: tigera-operator, version: v3.31.3}
          namespace: tigera-operator
          facts:
            installation.calicoNetwork.ipPools[0].cidr: podCIDR
        - name: cilium
          chart: {repository: https://helm.cilium.io, name: cilium, version: 1.18.0}
          namespace: kube-system
    - name: cloud-controller
      chart: {repository: https://kubernetes.github.io/cloud-provider-openstack, name: openstack-cloud-controller-manager, version: 2.33.0}
      namespace: kube-system
      cloudCredentials: {targetPath: cloudConfigContents}
`

const extraPlatform = `apiVersion: capiform.dev/v1alpha1
kind: Platform
metadata:
  name: extra
spec:
  components:
    - name: one
      dependsOn: [two]
      chart: {repository: https://example.org/charts, name: one, version: %s}
      namespace: one
    - name: two
      dependsOn: [%s]
      chart: {repository: https://example.org/charts, name: two, version: 1.0.0}
      namespace: two
`

const site = `apiVersion: capiform.dev/v1alpha1
kind: Site
metadata:
  name: s
spec:
  managementCluster: m
  cloud: {credentialsSecret: s-cloud, externalNetworkId: net}
  images: [{kubernetesVersion: v1.36.1, name: img}]
  flavors: [{name: f, vcpus: 2, ramMiB: 4096}]
  kubernetesVersions: {min: v1.36.0, max: v1.36.99}
  requiredPlatforms: [base]
  git: {url: https://example.org/fleet.git}
`

func cluster(name, platforms string) string {
	return `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata:
  name: ` + name + `
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: f}
` + platforms
}

func fixture(version, dep string, clusters map[string]string) fstest.MapFS {
	fs := fstest.MapFS{
		"platforms/base/platform.yaml":  {Data: []byte(basePlatform)},
		"platforms/extra/platform.yaml": {Data: []byte(sprintf(extraPlatform, version, dep))},
		"clusters/s/site.yaml":          {Data: []byte(site)},
	}
	for name, body := range clusters {
		fs["clusters/s/"+name+".yaml"] = &fstest.MapFile{Data: []byte(body)}
	}
	return fs
}

func sprintf(format string, args ...string) string {
	for _, a := range args {
		format = strings.Replace(format, "%s", a, 1)
	}
	return format
}

func diagnostics(t *testing.T, err error) diag.List {
	t.Helper()
	var l diag.List
	if !errors.As(err, &l) {
		t.Fatalf("error %v is not a diag.List", err)
	}
	return l
}

// has reports whether a diagnostic of rule is at file:line.
func has(l diag.List, rule, file string, line int) bool {
	for _, d := range l {
		if d.Rule == rule && d.File == file && d.Line == line {
			return true
		}
	}
	return false
}

func TestCatalogueErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, version, dep string
		rule, file         string
		line               int
	}{
		{"range version", "'>=1.0.0'", "cni", "platform.version", "platforms/extra/platform.yaml", 9},
		{"wildcard version", "1.2.x", "cni", "platform.version", "platforms/extra/platform.yaml", 9},
		{"partial version", "'1.2'", "cni", "platform.version", "platforms/extra/platform.yaml", 9},
		{"dependency cycle", "1.0.0", "one", "platform.cycle", "platforms/extra/platform.yaml", 12},
		{"unknown dependency", "1.0.0", "nothing", "platform.depends-on", "platforms/extra/platform.yaml", 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadCatalogue(fixture(tc.version, tc.dep, nil))
			if err == nil {
				t.Fatal("LoadCatalogue succeeded")
			}
			l := diagnostics(t, err)
			if !has(l, tc.rule, tc.file, tc.line) {
				t.Errorf("want %s at %s:%d, got:\n%v", tc.rule, tc.file, tc.line, l)
			}
		})
	}
}

func TestCatalogueStrictDecode(t *testing.T) {
	t.Parallel()
	fs := fixture("1.0.0", "cni", nil)
	fs["platforms/base/platform.yaml"].Data = []byte(strings.Replace(basePlatform, "      select: provider", "      selekt: provider", 1))
	_, err := LoadCatalogue(fs)
	if err == nil {
		t.Fatal("LoadCatalogue accepted an unknown field")
	}
	if l := diagnostics(t, err); !has(l, "platform.type", "platforms/base/platform.yaml", 9) {
		t.Errorf("want platform.type at line 9, got:\n%v", l)
	}
}

func TestClusterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, platforms, rule string
		line                  int
	}{
		{"unknown platform", "  platforms:\n    - name: base\n    - name: nope\n", "platform.unknown", 10},
		{"unknown component", "  platforms:\n    - name: base\n      values:\n        kube-proxy: {enabled: false}\n", "platform.unknown-component", 11},
		{"unknown variant", "  platforms:\n    - name: base\n      values:\n        cni: {provider: flannel}\n", "platform.unknown-variant", 11},
		{"required platform missing", "  platforms:\n    - name: extra\n", "platform.required", 8},
		{"no platforms at all", "", "platform.required", 4},
		{"dependency platform missing", "  platforms:\n    - name: extra\n", "platform.requires", 9},
		{"release of an unknown component", "  platforms:\n    - name: base\n      releases:\n        calico: {releaseName: cni-calico}\n", "platform.unknown-component", 11},
		{"release name Helm refuses", "  platforms:\n    - name: base\n      releases:\n        cni: {releaseName: CNI_Calico}\n", "platform.release-name", 11},
		{"release namespace not a DNS label", "  platforms:\n    - name: base\n      releases:\n        cni: {namespace: Tigera}\n", "platform.namespace", 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := fixture("1.0.0", "cni", map[string]string{"c": cluster("c", tc.platforms)})
			cat, err := LoadCatalogue(fs)
			if err != nil {
				t.Fatal(err)
			}
			fleet, err := load.Load(fs)
			if err != nil {
				t.Fatal(err)
			}
			file := "clusters/s/c.yaml"
			if l := cat.Check(fleet); !has(l, tc.rule, file, tc.line) {
				t.Errorf("Check: want %s at %s:%d, got:\n%v", tc.rule, file, tc.line, l)
			}
			s := fleet.Site("s")
			_, err = cat.Addons(s, s.Cluster("c"), nil)
			if err == nil {
				t.Fatal("Addons succeeded")
			}
			if l := diagnostics(t, err); !has(l, tc.rule, file, tc.line) {
				t.Errorf("Addons: want %s at %s:%d, got:\n%v", tc.rule, file, tc.line, l)
			}
		})
	}
}

func TestSiteRequiresUnknownPlatform(t *testing.T) {
	t.Parallel()
	fs := fixture("1.0.0", "cni", map[string]string{"c": cluster("c", "  platforms:\n    - name: base\n")})
	fs["clusters/s/site.yaml"].Data = []byte(strings.Replace(site, "requiredPlatforms: [base]", "requiredPlatforms: [base, security]", 1))
	cat, err := LoadCatalogue(fs)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := load.Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	if l := cat.Check(fleet); !has(l, "platform.unknown", "clusters/s/site.yaml", 11) {
		t.Errorf("want platform.unknown at the site's requiredPlatforms, got:\n%v", l)
	}
	// A near name is suggested.
	fs["clusters/s/site.yaml"].Data = []byte(strings.Replace(site, "requiredPlatforms: [base]", "requiredPlatforms: [base, extar]", 1))
	if fleet, err = load.Load(fs); err != nil {
		t.Fatal(err)
	}
	if l := cat.Check(fleet); len(l) != 1 || !strings.Contains(l[0].Message, `requires platform "extar", which the catalogue does not have: did you mean extra?`) {
		t.Errorf("want one platform.unknown with a did-you-mean, got:\n%v", l)
	}
}

func TestOverridesAndVariants(t *testing.T) {
	t.Parallel()
	fs := fixture("1.0.0", "cni", map[string]string{"c": cluster("c", `  network: {podCIDRs: [10.42.0.0/16]}
  platforms:
    - name: base
      values:
        cni:
          provider: cilium
          ipam: {mode: kubernetes}
    - name: extra
`)})
	cat, err := LoadCatalogue(fs)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := load.Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	s := fleet.Site("s")
	addons, err := cat.Resolve(s, s.Cluster("c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, a := range addons {
		order = append(order, a.Component)
		if a.Component == "cni" {
			if a.Variant != "cilium" || a.Chart.Name != "cilium" || a.Identity.TargetNamespace != "kube-system" {
				t.Errorf("cni = %+v, want the cilium variant", a)
			}
			if _, ok := a.Values["provider"]; ok {
				t.Errorf("the select key leaked into values: %v", a.Values)
			}
			if m, _ := a.Values["ipam"].(map[string]any); m["mode"] != "kubernetes" {
				t.Errorf("override lost: %v", a.Values)
			}
		}
	}
	if got, want := strings.Join(order, ","), "cni,cloud-controller,two,one"; got != want {
		t.Errorf("install order %s, want %s", got, want)
	}
}

func TestSetPath(t *testing.T) {
	t.Parallel()
	v := map[string]any{"a": map[string]any{"list": []any{map[string]any{"keep": 1}}}}
	for p, x := range map[string]any{"a.list[0].cidr": "10.0.0.0/8", "a.list[2]": "x", "b.c[1][0]": true} {
		steps, err := parsePath(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := setPath(v, steps, x); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := lookup(v, steps); got != x {
			t.Errorf("%s = %v, want %v", p, got, x)
		}
	}
	if l := v["a"].(map[string]any)["list"].([]any); l[0].(map[string]any)["keep"] != 1 || len(l) != 3 {
		t.Errorf("list = %v", l)
	}
	for _, bad := range []string{"", "a..b", "a[x]", "[0]"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) succeeded", bad)
		}
	}
}

func TestSourceName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://docs.tigera.io/calico/charts":                  "docs-tigera-io-calico-charts",
		"https://kubernetes.github.io/cloud-provider-openstack": "kubernetes-github-io-cloud-provider-openstack",
		"https://hub.jupyter.org/helm-chart":                    "hub-jupyter-org-helm-chart",
	} {
		if got := sourceName(in); got != want {
			t.Errorf("sourceName(%s) = %s, want %s", in, got, want)
		}
	}
	long := sourceName("oci://registry.example.org/a/very/long/path/that/goes/on/and/on/chart-1.2.3")
	if len(long) > 63 || !load.IsDNSLabel(long) {
		t.Errorf("long name %q is not a DNS label", long)
	}
}

// A misspelt platform is one error with a did-you-mean: the platform it
// meant is not reported missing too, by this check (platform.required,
// platform.requires) or by the policy (policy.required-platforms, which
// CheckAfter drops). A name near no platform leaves those reports alone.
func TestMisspeltPlatform(t *testing.T) {
	t.Parallel()
	file := "clusters/s/c.yaml"
	policyFinding := diag.Diagnostic{Pos: diag.Pos{File: file, Line: 8, Col: 3}, Rule: "policy.required-platforms", Message: "site s requires platform base on every cluster"}
	for _, tc := range []struct {
		name, platforms string
		want            []string // "RULE LINE: message fragment"
	}{
		{
			name:      "a swap of two letters",
			platforms: "  platforms:\n    - name: bsae\n    - name: extra\n",
			want:      []string{`platform.unknown 9: unknown platform "bsae": did you mean base? (the catalogue has base, extra)`},
		},
		{
			name:      "a letter missing",
			platforms: "  platforms:\n    - name: extra\n    - name: bse\n",
			want:      []string{`platform.unknown 10: unknown platform "bse": did you mean base?`},
		},
		{
			name:      "near no platform",
			platforms: "  platforms:\n    - name: security\n    - name: extra\n",
			want: []string{
				"policy.required-platforms 8: site s requires platform base",
				`platform.unknown 9: unknown platform "security": use one of base, extra`,
				"platform.requires 10: platform extra needs platform base",
				"platform.required 8: site s requires platform base",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := fixture("1.0.0", "cni", map[string]string{"c": cluster("c", tc.platforms)})
			cat, err := LoadCatalogue(fs)
			if err != nil {
				t.Fatal(err)
			}
			fleet, err := load.Load(fs)
			if err != nil {
				t.Fatal(err)
			}
			got := cat.CheckAfter(fleet, diag.List{policyFinding})
			var lines []string
			for _, d := range got {
				lines = append(lines, d.String())
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %d diagnostics, want %d:\n%s", len(got), len(tc.want), strings.Join(lines, "\n"))
			}
			for _, w := range tc.want {
				rule, rest, _ := strings.Cut(w, " ")
				line, text, _ := strings.Cut(rest, ": ")
				if !slices.ContainsFunc(got, func(d diag.Diagnostic) bool {
					return d.Rule == rule && d.File == file && strconv.Itoa(d.Line) == line && strings.Contains(d.Message, text)
				}) {
					t.Errorf("missing %s in:\n%s", w, strings.Join(lines, "\n"))
				}
			}
		})
	}
}
