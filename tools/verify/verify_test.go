package verify_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/verify"
)

func expanded(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile("../expand/testdata/autoscale-gpu.values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	objs, err := expand.Expand(context.Background(), expand.Options{
		Chart:       os.DirFS("../../charts/openstack-cluster"),
		ReleaseName: "ml",
		Namespace:   "site-a-ml",
		Values:      values,
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func pick(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	t.Fatalf("no %s", kind)
	return nil
}

func mustParse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestExpandedChartPasses(t *testing.T) {
	t.Parallel()
	if err := verify.Objects(expanded(t)); err != nil {
		t.Fatal(err)
	}
}

func TestObjectsRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kind string
		// edit breaks the first object of kind.
		edit func(o *unstructured.Unstructured)
		// want are substrings of the single problem: identity, path, message.
		want []string
	}{
		{
			name: "misspelt CAPO field",
			kind: "OpenStackCluster",
			edit: func(o *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(o.Object, true, "spec", "apiServerLoadBalancer", "enabledd")
			},
			want: []string{"OpenStackCluster site-a-ml/ml", "spec.apiServerLoadBalancer.enabledd", "unknown field"},
		},
		{
			name: "misspelt CAPO field in a list",
			kind: "OpenStackCluster",
			edit: func(o *unstructured.Unstructured) {
				subnets, _, _ := unstructured.NestedSlice(o.Object, "spec", "managedSubnets")
				subnets[0].(map[string]any)["dnsNameserver"] = []any{"10.0.0.1"}
				_ = unstructured.SetNestedSlice(o.Object, subnets, "spec", "managedSubnets")
			},
			want: []string{"spec.managedSubnets[].dnsNameserver", "unknown field"},
		},
		{
			name: "mistyped CAPO field",
			kind: "OpenStackMachineTemplate",
			edit: func(o *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(o.Object, int64(3), "spec", "template", "spec", "flavor")
			},
			want: []string{"spec.template.spec.flavor", "want string"},
		},
		{
			name: "CAPO metadata",
			kind: "OpenStackMachineTemplate",
			edit: func(o *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(o.Object, "x", "metadata", "lables")
			},
			want: []string{"metadata.lables", "unknown field"},
		},
		{
			name: "misspelt CAPI field",
			kind: "MachineDeployment",
			edit: func(o *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(o.Object, "v1.36.1", "spec", "template", "spec", "verison")
			},
			want: []string{"MachineDeployment site-a-ml/ml-", "spec.template.spec.verison", "unknown field"},
		},
		{
			name: "v1beta1-style reference in v1beta2",
			kind: "Cluster",
			edit: func(o *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(o.Object, "infrastructure.cluster.x-k8s.io/v1beta1", "spec", "infrastructureRef", "apiVersion")
			},
			want: []string{"spec.infrastructureRef.apiVersion", "unknown field"},
		},
		{
			name: "v1beta1-style extraArgs map",
			kind: "KubeadmControlPlane",
			edit: func(o *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(o.Object, map[string]any{"v": "2"}, "spec", "kubeadmConfigSpec", "clusterConfiguration", "apiServer", "extraArgs")
			},
			want: []string{"KubeadmControlPlane site-a-ml/ml-control-plane", "extraArgs"},
		},
		{
			name: "misspelt core field",
			kind: "Deployment",
			edit: func(o *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(o.Object, int64(1), "spec", "replica")
			},
			want: []string{"Deployment site-a-ml/ml-autoscaler", "spec.replica", "unknown field"},
		},
		{
			name: "unknown kind",
			kind: "Role",
			edit: func(o *unstructured.Unstructured) { o.SetAPIVersion("rbac.authorization.k8s.io/v1alpha9") },
			want: []string{"Role site-a-ml/ml-autoscaler", "unknown apiVersion/kind"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := expanded(t)
			tc.edit(pick(t, objs, tc.kind))
			err := verify.Objects(objs)
			var verr *verify.Error
			if !errors.As(err, &verr) {
				t.Fatalf("got %v, want *verify.Error", err)
			}
			if len(verr.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			got := verr.Problems[0].String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problem %q lacks %q", got, w)
				}
			}
		})
	}
}

func TestObjectsReportsEveryProblem(t *testing.T) {
	t.Parallel()
	objs := expanded(t)
	_ = unstructured.SetNestedField(pick(t, objs, "OpenStackCluster").Object, "x", "spec", "foo")
	_ = unstructured.SetNestedField(pick(t, objs, "Cluster").Object, "x", "spec", "bar")
	_ = unstructured.SetNestedField(pick(t, objs, "Cluster").Object, "x", "spec", "baz")
	var verr *verify.Error
	if err := verify.Objects(objs); !errors.As(err, &verr) || len(verr.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestFluxObjects(t *testing.T) {
	t.Parallel()
	good := []string{`
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: research, namespace: site-a-research}
spec:
  interval: 10m
  releaseName: research
  chart:
    spec:
      chart: ./charts/openstack-cluster
      sourceRef: {kind: GitRepository, name: capiform, namespace: flux-system}
  values: {clusterName: research}
`, `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: research, namespace: flux-system}
spec:
  interval: 10m
  path: ./clusters/site-a/generated/research
  prune: true
  sourceRef: {kind: GitRepository, name: capiform}
`, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: capiform, namespace: flux-system}
spec:
  interval: 1m
  url: https://git.example.org/capiform.git
  ref: {branch: main}
`, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: cilium, namespace: site-a-research}
spec: {interval: 1h, url: https://helm.cilium.io}
`, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo, namespace: site-a-research}
spec: {interval: 1h, url: oci://ghcr.io/stefanprodan/manifests/podinfo, ref: {tag: latest}}
`}
	var objs []*unstructured.Unstructured
	for _, doc := range good {
		objs = append(objs, mustParse(t, doc))
	}
	if err := verify.Objects(objs); err != nil {
		t.Fatal(err)
	}
	bad := mustParse(t, good[0])
	_ = unstructured.SetNestedField(bad.Object, "x", "spec", "kubeconfig")
	if err := verify.Objects([]*unstructured.Unstructured{bad}); err == nil || !strings.Contains(err.Error(), "spec.kubeconfig") {
		t.Fatalf("misspelt HelmRelease field: %v", err)
	}
}

// TestEncryptedSecret: a SOPS-encrypted Secret is verified without its
// values and sops metadata (kustomize-controller decrypts them first), but
// the rest of it still strictly.
func TestEncryptedSecret(t *testing.T) {
	t.Parallel()
	secret := func(extra map[string]any) *unstructured.Unstructured {
		o := map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "c", "namespace": "n"},
			"type":     "Opaque",
			"data":     map[string]any{"clouds.yaml": "ENC[AES256_GCM,data:eA==,iv:x,tag:y,type:str]"},
			"sops":     map[string]any{"mac": "ENC[...]"},
		}
		for k, v := range extra {
			o[k] = v
		}
		return &unstructured.Unstructured{Object: o}
	}
	if err := verify.Objects([]*unstructured.Unstructured{secret(nil)}); err != nil {
		t.Errorf("encrypted Secret: %v", err)
	}
	err := verify.Objects([]*unstructured.Unstructured{secret(map[string]any{"typo": true})})
	if err == nil || !strings.Contains(err.Error(), "typo") {
		t.Errorf("encrypted Secret with an unknown field: %v", err)
	}
	clear := secret(nil)
	delete(clear.Object, "sops")
	if err := verify.Objects([]*unstructured.Unstructured{clear}); err == nil {
		t.Error("a Secret with ENC values and no sops metadata passed")
	}
}
