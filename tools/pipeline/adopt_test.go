package pipeline_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/source"
)

// adoptFleet is the tests' fleet of a site that takes over a cluster
// installed by capi-helm-charts in place, with its generated tree.
const adoptFleet = "testdata/adopt"

// TestAdoptedFleet: the adopted cluster's fleet passes every check a fleet
// must pass (it validates, render --check is clean, every cluster expands
// and verifies), its committed generated tree is what render writes today
// (the golden; -update rewrites it), and every release carries the
// identity it already runs under, while the objects of the chart keep the
// names capi-helm-charts gave them.
func TestAdoptedFleet(t *testing.T) {
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join(testrepo.Root(), adoptFleet, "clusters"), filepath.Join(dir, "clusters")); err != nil {
		t.Fatal(err)
	}
	if *update {
		res := renderDir(t, dir)
		for _, root := range []string{filepath.Join(testrepo.Root(), adoptFleet), dir} {
			if err := render.Write(root, res.Sites); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkFleet(t, dir, "run `go test ./tools/pipeline -run TestAdoptedFleet -update` and review the diff of "+adoptFleet)

	tree := readTree(t, filepath.Join(dir, "clusters", "uni", "generated"))
	releases := map[string]*helmv2.HelmRelease{}
	for _, data := range tree {
		for _, doc := range strings.Split(string(data), "\n---\n") {
			hr := &helmv2.HelmRelease{}
			if err := yaml.Unmarshal([]byte(doc), hr); err != nil || hr.Kind != helmv2.HelmReleaseKind {
				continue
			}
			releases[hr.Namespace+"/"+hr.Name] = hr
		}
	}
	for _, tc := range []struct {
		name string
		// helmRelease is the Flux object, namespace/name.
		helmRelease                                    string
		releaseName, targetNamespace, storageNamespace string
	}{
		{"cluster under its capi-helm-charts release", "flux-system/research", "research", "clusters", "clusters"},
		{"a cluster that adopts nothing", "flux-system/uni-mgmt", "uni-mgmt", "uni-mgmt", "uni-mgmt"},
		{"CNI as the addon provider's cni-calico", "clusters/cni", "cni-calico", "tigera-operator", "tigera-operator"},
		{"cloud controller as ccm-openstack in openstack-system", "clusters/cloud-controller", "ccm-openstack", "openstack-system", "openstack-system"},
		{"Cinder CSI in openstack-system under its own name", "clusters/csi-cinder", "csi-cinder", "openstack-system", "openstack-system"},
		{"metrics-server as it is", "clusters/metrics-server", "metrics-server", "kube-system", "kube-system"},
		{"the management cluster's CNI", "uni-mgmt/cni", "cni", "tigera-operator", "tigera-operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hr := releases[tc.helmRelease]
			if hr == nil {
				t.Fatalf("no HelmRelease %s in the generated tree", tc.helmRelease)
			}
			got := [3]string{hr.Spec.ReleaseName, hr.Spec.TargetNamespace, hr.Spec.StorageNamespace}
			if want := [3]string{tc.releaseName, tc.targetNamespace, tc.storageNamespace}; got != want {
				t.Errorf("release, target and storage namespace %v, want %v", got, want)
			}
		})
	}
	if hr := releases["clusters/cni"]; hr != nil && (hr.Spec.KubeConfig == nil || hr.Spec.KubeConfig.SecretRef.Name != "research-kubeconfig") {
		t.Errorf("the adopted cluster's addons reach it through %+v, want the Secret research-kubeconfig of namespace clusters", hr.Spec.KubeConfig)
	}

	res := renderDir(t, dir)
	rel := res.Release("uni", "research")
	objs, err := pipeline.Expand(context.Background(), source.Worktree(dir), res, rel)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, o := range objs {
		if o.GetNamespace() != "clusters" {
			t.Errorf("%s %s is in namespace %q, want the adopted clusters", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		names[o.GetKind()+"/"+o.GetName()] = o.GetName()
	}
	// The names capi-helm-charts gives a release research with node group
	// md-0 (templates aside: their hash is of each chart's own spec).
	for _, want := range []string{
		"Cluster/research", "OpenStackCluster/research", "KubeadmControlPlane/research-control-plane",
		"MachineHealthCheck/research-control-plane", "MachineDeployment/research-md-0",
		"MachineHealthCheck/research-md-0", "Deployment/research-autoscaler", "ServiceAccount/research-autoscaler",
	} {
		if _, ok := names[want]; !ok {
			t.Errorf("the expansion has no %s", want)
		}
	}
}
