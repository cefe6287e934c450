package diff

import (
	"context"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	kcppkg "sigs.k8s.io/cluster-api/controlplane/kubeadm/pkg"
	"sigs.k8s.io/cluster-api/controlplane/kubeadm/pkg/desiredstate"
)

// upToDateWithInfrastructure is KubeadmControlPlane's whole up-to-date
// check on the machines that the control plane of old made (one joined,
// one made by kubeadm init), judged against the control plane of cur, with
// everything the check reads: the machine's KubeadmConfig and its
// OpenStackMachine, cloned from old's template (the cloned-from
// annotations), and an API reader holding cur's template and its CRD's
// contract label. It says whether any of those machines rolls.
//
// controlPlaneImpact asks the same check without the infrastructure
// machine and compares the template reference itself (it has no API
// server); this is the original that copy is held against.
func upToDateWithInfrastructure(t *testing.T, old, cur objectSet) bool {
	t.Helper()
	a, b := old.ofKind("KubeadmControlPlane")[0], cur.ofKind("KubeadmControlPlane")[0]
	kcpA, err := decodeKCP(a)
	if err != nil {
		t.Fatal(err)
	}
	kcpB, err := decodeKCP(b)
	if err != nil {
		t.Fatal(err)
	}
	ref := kcpB.Spec.MachineTemplate.Spec.InfrastructureRef
	tmpl := cur.get(ref.Kind, "", ref.Name)
	if tmpl == nil {
		t.Fatalf("no %s %s", ref.Kind, ref.Name)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{
		Name:   strings.ToLower(ref.Kind) + "s." + ref.APIGroup,
		Labels: map[string]string{"cluster.x-k8s.io/v1beta1": strings.TrimPrefix(tmpl.GetAPIVersion(), ref.APIGroup+"/")},
	}}
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(crd, tmpl.DeepCopy()).Build()

	cluster := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: b.GetNamespace(), Name: "app"}}
	rolls := false
	for _, isJoin := range []bool{true, false} {
		m, err := desiredstate.ComputeDesiredMachine(kcpA, cluster, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		m.Spec.InfrastructureRef = kcpA.Spec.MachineTemplate.Spec.InfrastructureRef
		m.Spec.Bootstrap.ConfigRef = clusterv1.ContractVersionedObjectReference{APIGroup: bootstrapv1.GroupVersion.Group, Kind: "KubeadmConfig", Name: m.Name}
		cfg, err := desiredstate.ComputeDesiredKubeadmConfig(kcpA, cluster, isJoin, m.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		infra := &unstructured.Unstructured{Object: map[string]any{"apiVersion": tmpl.GetAPIVersion(), "kind": strings.TrimSuffix(ref.Kind, "Template")}}
		infra.SetNamespace(b.GetNamespace())
		infra.SetName(m.Name)
		oldRef := kcpA.Spec.MachineTemplate.Spec.InfrastructureRef
		infra.SetAnnotations(map[string]string{
			clusterv1.TemplateClonedFromNameAnnotation:      oldRef.Name,
			clusterv1.TemplateClonedFromGroupKindAnnotation: oldRef.GroupKind().String(),
		})
		upToDate, res, err := kcppkg.UpToDate(context.Background(), reader, cluster, m, kcpB, nil,
			map[string]*unstructured.Unstructured{m.Name: infra}, map[string]*bootstrapv1.KubeadmConfig{m.Name: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if !upToDate {
			t.Logf("UpToDate (join=%v): %v", isJoin, res.LogMessages)
			rolls = true
		}
	}
	return rolls
}

// rollsBySpec is the diff's verdict less the decisions of time
// (rollout.after), which UpToDate takes at reconcile time, not from specs.
func rollsBySpec(cp *Rollout) bool {
	if cp == nil || !cp.Replace {
		return false
	}
	for _, r := range cp.Reasons {
		if !strings.HasPrefix(r, "rollout.after") {
			return true
		}
	}
	return false
}
