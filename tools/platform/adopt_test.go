package platform

import (
	"testing"

	"github.com/capiform/capiform/tools/load"
)

// TestAdoptedAddonIdentity: a component's release keeps the name and
// namespace it already runs under where the platform reference says so,
// every HelmRelease of an adopted cluster lives in its adopted namespace,
// and the HelmRelease keeps the component's name (dependsOn between
// components is unchanged).
func TestAdoptedAddonIdentity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, spec, component string
		// hrNamespace is the HelmRelease's namespace; release, target and
		// storage the Helm release's name and namespaces.
		hrNamespace, release, target, storage string
	}{
		{"nothing adopted", "  platforms: [{name: base}]\n", "cni", "c", "cni", "tigera-operator", "tigera-operator"},
		{"adopted namespace only", "  adopt: {namespace: clusters}\n  platforms: [{name: base}]\n", "cloud-controller", "clusters", "cloud-controller", "kube-system", "kube-system"},
		{"release name", "  adopt: {namespace: clusters}\n  platforms:\n    - name: base\n      releases: {cni: {releaseName: cni-calico}}\n", "cni", "clusters", "cni-calico", "tigera-operator", "tigera-operator"},
		{"release name and namespace", "  adopt: {namespace: clusters}\n  platforms:\n    - name: base\n      releases: {cloud-controller: {releaseName: ccm-openstack, namespace: openstack-system}}\n", "cloud-controller", "clusters", "ccm-openstack", "openstack-system", "openstack-system"},
		{"override of another component leaves this one", "  platforms:\n    - name: base\n      releases: {cni: {releaseName: cni-calico}}\n", "cloud-controller", "c", "cloud-controller", "kube-system", "kube-system"},
		{"namespace without adoption of the cluster", "  platforms:\n    - name: base\n      releases: {cni: {namespace: calico}}\n", "cni", "c", "cni", "calico", "calico"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := fixture("1.0.0", "cni", map[string]string{"c": cluster("c", tc.spec)})
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
			for _, a := range addons {
				if a.Component != tc.component {
					continue
				}
				id := a.Identity
				got := [5]string{id.HelmReleaseName, id.HelmReleaseNamespace, id.ReleaseName, id.TargetNamespace, id.StorageNamespace}
				if want := [5]string{tc.component, tc.hrNamespace, tc.release, tc.target, tc.storage}; got != want {
					t.Errorf("identity (HelmRelease, its namespace, release, target, storage) = %v, want %v", got, want)
				}
				return
			}
			t.Fatalf("no component %s resolved", tc.component)
		})
	}
}
