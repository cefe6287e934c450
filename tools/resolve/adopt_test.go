package resolve

import (
	"reflect"
	"testing"
)

// TestAdoptedIdentity: spec.adopt moves the Helm release (name, target and
// storage namespace) to the identity it already has; the Flux HelmRelease
// stays where every cluster's is; the chart is told capi-helm-charts'
// naming only when asked.
func TestAdoptedIdentity(t *testing.T) {
	for _, tc := range []struct {
		name, adopt string
		// release, target and storage are the Helm release's name and
		// namespaces.
		release, target, storage string
		naming                   map[string]any
	}{
		{name: "nothing adopted", release: "mgmt", target: "mgmt", storage: "mgmt"},
		{name: "namespace: storage follows it", adopt: "{namespace: clusters}", release: "mgmt", target: "clusters", storage: "clusters"},
		{name: "storage elsewhere", adopt: "{namespace: clusters, storageNamespace: helm}", release: "mgmt", target: "clusters", storage: "helm"},
		{name: "release name", adopt: "{releaseName: clusters-mgmt, namespace: clusters}", release: "clusters-mgmt", target: "clusters", storage: "clusters"},
		{name: "capi-helm-charts naming", adopt: "{namespace: clusters, naming: capi-helm-charts}", release: "mgmt", target: "clusters", storage: "clusters",
			naming: map[string]any{"style": "capi-helm-charts", "projectPrefix": "capi.stackhpc.com"}},
		{name: "capi-helm-charts naming with a project prefix", adopt: "{namespace: az-physics, naming: capi-helm-charts, projectPrefix: azimuth.example.org}", release: "mgmt", target: "az-physics", storage: "az-physics",
			naming: map[string]any{"style": "capi-helm-charts", "projectPrefix": "azimuth.example.org"}},
		{name: "capiform naming said", adopt: "{namespace: clusters, naming: capiform}", release: "mgmt", target: "clusters", storage: "clusters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := ""
			if tc.adopt != "" {
				spec = "  adopt: " + tc.adopt + "\n"
			}
			s, c := loadOne(t, site, `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: mgmt}
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: m1}
`+spec)
			rel, d := Cluster(s, c)
			if len(d) > 0 {
				t.Fatal(d)
			}
			id := rel.Identity
			if id.HelmReleaseName != "mgmt" || id.HelmReleaseNamespace != FluxNamespace {
				t.Errorf("HelmRelease %s/%s, want %s/mgmt", id.HelmReleaseNamespace, id.HelmReleaseName, FluxNamespace)
			}
			if got, want := [3]string{id.ReleaseName, id.TargetNamespace, id.StorageNamespace}, [3]string{tc.release, tc.target, tc.storage}; got != want {
				t.Errorf("release, target, storage = %v, want %v", got, want)
			}
			if Namespace(c) != tc.target {
				t.Errorf("Namespace = %s, want the target namespace %s", Namespace(c), tc.target)
			}
			got, _ := rel.Values["naming"].(map[string]any)
			if tc.naming == nil && got != nil || tc.naming != nil && !reflect.DeepEqual(got, tc.naming) {
				t.Errorf("naming value = %v, want %v", got, tc.naming)
			}
			if rel.Values["clusterName"] != "mgmt" {
				t.Errorf("clusterName = %v: the chart names the objects after the cluster, whatever the release", rel.Values["clusterName"])
			}
		})
	}
}
