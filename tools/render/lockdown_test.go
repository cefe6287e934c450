package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestCrossNamespaceRefs: each reference Flux's --no-cross-namespace-refs
// governs is reported when it names another namespace, and only then.
func TestCrossNamespaceRefs(t *testing.T) {
	cases := []struct {
		name string
		obj  string
		want string
	}{
		{"kustomization source in its namespace", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k, namespace: a}\nspec: {sourceRef: {kind: GitRepository, name: s, namespace: a}}", ""},
		{"kustomization source without a namespace", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k, namespace: a}\nspec: {sourceRef: {kind: GitRepository, name: s}}", ""},
		{"kustomization source elsewhere", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k, namespace: a}\nspec: {sourceRef: {kind: GitRepository, name: s, namespace: flux-system}}", "x: Kustomization a/k: spec.sourceRef -> flux-system/s"},
		{"kustomization dependsOn elsewhere", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k, namespace: a}\nspec: {dependsOn: [{name: d}, {name: e, namespace: b}]}", "x: Kustomization a/k: spec.dependsOn[] -> b/e"},
		{"helmrelease chart source elsewhere", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: h, namespace: a}\nspec: {chart: {spec: {chart: c, sourceRef: {kind: HelmRepository, name: r, namespace: b}}}}", "x: HelmRelease a/h: spec.chart.spec.sourceRef -> b/r"},
		{"helmrelease chartRef elsewhere", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: h, namespace: a}\nspec: {chartRef: {kind: OCIRepository, name: r, namespace: b}}", "x: HelmRelease a/h: spec.chartRef -> b/r"},
		{"helmrelease dependsOn elsewhere", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: h, namespace: a}\nspec: {dependsOn: [{name: cni, namespace: b}]}", "x: HelmRelease a/h: spec.dependsOn[] -> b/cni"},
		{"alert hearing another namespace", "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: al, namespace: flux-system}\nspec: {eventSources: [{kind: HelmRelease, name: '*', namespace: research}]}", "x: Alert flux-system/al: spec.eventSources[] -> research/*"},
		{"receiver of another namespace", "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata: {name: r, namespace: flux-system}\nspec: {resources: [{kind: GitRepository, name: platforms, namespace: research}]}", "x: Receiver flux-system/r: spec.resources[] -> research/platforms"},
		{"health check elsewhere is no reference", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k, namespace: flux-system}\nspec: {healthChecks: [{kind: Cluster, name: c, namespace: research}]}", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CrossNamespaceRefs(map[string][]*unstructured.Unstructured{"x": {obj(t, tc.obj)}})
			if tc.want == "" {
				if len(got) > 0 {
					t.Errorf("reported %v", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want+":") {
				t.Errorf("got %v, want %q", got, tc.want)
			}
		})
	}
}

// TestMissingServiceAccounts: a Kustomization or HelmRelease acting on the
// management cluster must name its account; one with a kubeConfig acts on
// a workload cluster and is left alone.
func TestMissingServiceAccounts(t *testing.T) {
	cases := []struct {
		name, obj string
		missing   bool
	}{
		{"kustomization with an account", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k, namespace: a}\nspec: {serviceAccountName: sa}", false},
		{"kustomization without", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k, namespace: a}\nspec: {}", true},
		{"helmrelease without", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: h, namespace: a}\nspec: {}", true},
		{"helmrelease into a workload cluster", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: h, namespace: a}\nspec: {kubeConfig: {secretRef: {name: a-kubeconfig}}}", false},
		{"a source needs none", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: g, namespace: a}\nspec: {}", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := MissingServiceAccounts(map[string][]*unstructured.Unstructured{"": {obj(t, tc.obj)}})
			if (len(got) > 0) != tc.missing {
				t.Errorf("got %v, want missing=%v", got, tc.missing)
			}
		})
	}
}
