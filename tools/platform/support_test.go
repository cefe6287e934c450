package platform

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// TestCatalogueRecordsKubernetesSupport holds the repository's catalogue
// to recording, for every chart, the Kubernetes minors its upstream
// supports.
func TestCatalogueRecordsKubernetesSupport(t *testing.T) {
	t.Parallel()
	c, err := LoadCatalogue(os.DirFS("../.."))
	if err != nil {
		t.Fatalf("LoadCatalogue: %v", err)
	}
	for _, p := range c.Platforms {
		for _, comp := range p.Spec.Components {
			releases := map[string]*Release{"": &comp.Release}
			for i := range comp.Variants {
				releases[comp.Variants[i].Name] = &comp.Variants[i].Release
			}
			for v, r := range releases {
				if r.Chart != nil && r.Kubernetes == nil {
					t.Errorf("%s: component %s %s has no kubernetes range", p.File, comp.Name, v)
				}
			}
		}
	}
}

const supportPlatform = `apiVersion: capiform.dev/v1alpha1
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
          chart: {repository: https://docs.tigera.io/calico/charts, name: tigera-operator, version: v3.32.1}
          kubernetes: {min: "1.34", max: "1.36"}
          namespace: tigera-operator
        - name: cilium
          chart: {repository: https://helm.cilium.io, name: cilium, version: 1.19.3}
          kubernetes: {min: "1.32", max: "1.35", newer: warn}
          namespace: kube-system
    - name: web
      select: controller
      default: new
      variants:
        - name: new
          chart: {repository: https://example.org/charts, name: new, version: 1.0.0}
          kubernetes: {min: "1.25"}
          namespace: web
        - name: old
          retired: "no more releases; use new"
          chart: {repository: https://example.org/charts, name: old, version: 4.15.1}
          kubernetes: {min: "1.31", max: "1.35"}
          namespace: web
    - name: floor
      chart: {repository: https://example.org/charts, name: floor, version: 1.0.0}
      kubernetes: {}
      namespace: floor
`

// TestKubernetesSupport checks a cluster's version against the range
// of every release it chooses: refused below min and above max (at the
// cluster's kubernetesVersion line, naming the platform file's line),
// warned above max where upstream says newer minors rely on Kubernetes'
// compatibility, and a retired release warned where it is chosen.
func TestKubernetesSupport(t *testing.T) {
	t.Parallel()
	type want struct {
		rule     string
		severity diag.Severity
		line     int
		text     string
	}
	for _, tc := range []struct {
		name, version, values string
		want                  []want
	}{
		{name: "inside every range", version: "v1.35.2", values: "{}"},
		{name: "pre-release of a supported minor", version: "v1.36.0-rc.1", values: "{}"},
		{
			name: "below the default variant's min", version: "v1.33.4", values: "{}",
			want: []want{{RuleKubernetesSupport, diag.Error, 6, "supports Kubernetes 1.34 to 1.36 (platforms/base/platform.yaml:14), not v1.33.4: upgrade the cluster to 1.34 or newer"}},
		},
		{
			name: "above a max that refuses", version: "v1.37.0", values: "{}",
			want: []want{{RuleKubernetesSupport, diag.Error, 6, "variant calico: chart tigera-operator v3.32.1) supports Kubernetes 1.34 to 1.36"}},
		},
		{
			name: "above a max that warns", version: "v1.36.1", values: "{cni: {provider: cilium}}",
			want: []want{{RuleKubernetesSupport, diag.Warning, 6, "is supported upstream up to Kubernetes 1.35 (platforms/base/platform.yaml:18), not yet v1.36.1"}},
		},
		{
			name: "retired variant chosen, and above its max", version: "v1.36.1", values: "{web: {controller: old}}",
			want: []want{
				{RuleKubernetesSupport, diag.Error, 6, "variant old: chart old 4.15.1) supports Kubernetes 1.31 to 1.35 (platforms/base/platform.yaml:31), not v1.36.1: keep the cluster at 1.35 or older"},
				{RuleRetired, diag.Warning, 11, "(variant old: chart old 4.15.1) is retired upstream: no more releases; use new"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{
				"platforms/base/platform.yaml": {Data: []byte(supportPlatform)},
				"clusters/s/site.yaml":         {Data: []byte(strings.Replace(site, "v1.36.0, max: v1.36.99", "v1.30.0, max: v1.37.99", 1))},
				"clusters/s/m.yaml": {Data: []byte(`apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata:
  name: m
spec:
  kubernetesVersion: ` + tc.version + `
  controlPlane: {flavor: f}
  platforms:
    - name: base
      values:
        ` + tc.values + "\n")},
			}
			cat, err := LoadCatalogue(fsys)
			if err != nil {
				t.Fatal(err)
			}
			fleet, err := load.Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			got := cat.Check(fleet)
			for _, w := range tc.want {
				found := false
				for _, d := range got {
					if d.Rule == w.rule && d.Severity == w.severity && d.File == "clusters/s/m.yaml" && d.Line == w.line && strings.Contains(d.Message, w.text) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s %s at line %d containing %q in:\n%v", w.severity, w.rule, w.line, w.text, got)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %d diagnostics, want %d:\n%v", len(got), len(tc.want), got)
			}
		})
	}
}

// TestKubernetesSupportWritten checks the catalogue's own errors in a
// range as written.
func TestKubernetesSupportWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, k, want string }{
		{"min not a minor", `{min: "v1.35"}`, `kubernetes.min "v1.35" of x is not a minor like 1.35`},
		{"max not a minor", `{min: "1.35", max: "1.36.1"}`, `kubernetes.max "1.36.1" of x is not a minor like 1.36`},
		{"max before min", `{min: "1.35", max: "1.34"}`, "kubernetes.max 1.34 of x is older than its min 1.35"},
		{"newer unknown", `{min: "1.35", max: "1.36", newer: maybe}`, `kubernetes.newer of x is "maybe": write refuse or warn`},
		{"newer without max", `{min: "1.35", newer: warn}`, "says what a version above max gets, but there is no max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := strings.Replace(supportPlatform, `    - name: floor
      chart: {repository: https://example.org/charts, name: floor, version: 1.0.0}
      kubernetes: {}`, `    - name: x
      chart: {repository: https://example.org/charts, name: x, version: 1.0.0}
      kubernetes: `+tc.k, 1)
			_, err := LoadCatalogue(fstest.MapFS{"platforms/base/platform.yaml": {Data: []byte(p)}})
			l := diagnostics(t, err)
			if len(l) != 1 || l[0].Rule != RuleKubernetesSupport || l[0].File != "platforms/base/platform.yaml" || l[0].Line != 35 || !strings.Contains(l[0].Message, tc.want) {
				t.Errorf("got %v, want one %s at platforms/base/platform.yaml:35 saying %q", l, RuleKubernetesSupport, tc.want)
			}
		})
	}
}

// TestKubeProxyReplaced: only Cilium chosen with kubeProxyReplacement
// true replaces kube-proxy; the value reaches the Cilium release, and the
// fact kubeProxy has monitoring scrape kube-proxy only where it runs.
func TestKubeProxyReplaced(t *testing.T) {
	t.Parallel()
	cat, err := LoadCatalogue(os.DirFS("../.."))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		values map[string]map[string]any
		want   bool
	}{
		{"calico", nil, false},
		{"cilium with kube-proxy", map[string]map[string]any{"cni": {"provider": "cilium"}}, false},
		{"cilium replacing kube-proxy", map[string]map[string]any{"cni": {"provider": "cilium", "kubeProxyReplacement": true}}, true},
		{"calico asked to replace it", map[string]map[string]any{"cni": {"provider": "calico", "kubeProxyReplacement": true}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := &load.Cluster{}
			cl.Metadata.Name = "c"
			cl.Spec.KubernetesVersion = "v1.35.4"
			cl.Spec.Platforms = append(cl.Spec.Platforms, v1alpha1.PlatformRef{Name: "base", Values: tc.values}, v1alpha1.PlatformRef{Name: "monitoring"})
			if got := resolve.KubeProxyReplaced(cl); got != tc.want {
				t.Errorf("KubeProxyReplaced = %v, want %v", got, tc.want)
			}
			site := &load.Site{}
			site.Metadata.Name = "s"
			addons, err := cat.Resolve(site, cl, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range addons {
				if a.Component == "cni" && a.Variant == "cilium" && (a.Values["kubeProxyReplacement"] == true) != tc.want {
					t.Errorf("cilium's kubeProxyReplacement = %v, want %v", a.Values["kubeProxyReplacement"], tc.want)
				}
				if a.Component == "kube-prometheus-stack" {
					kp, _ := a.Values["kubeProxy"].(map[string]any)
					if kp["enabled"] != !tc.want {
						t.Errorf("kube-prometheus-stack's kubeProxy.enabled = %v, want %v", kp["enabled"], !tc.want)
					}
				}
			}
		})
	}
}
