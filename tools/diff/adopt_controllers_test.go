package diff

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	releasecommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/capiform/capiform/tools/internal/capienv"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/source"
)

// TestAdoptionTakesOverACapiHelmChartsRelease: a cluster installed by
// capi-helm-charts' openstack-cluster chart (testdata/capi-helm-charts, a
// stand-in that renders the same kinds, names, selectors and keep
// annotations) with Helm's client-side apply, as helm 3 installs, is
// taken over by a Helm upgrade to capiform's chart under the identity the
// adopted definition gives it (testdata/adopt, cluster research: release
// research in namespace clusters, naming capi-helm-charts), run with the
// Helm v4 SDK as helm-controller runs it (the previous release's apply
// method, conflicts forced, ownership taken). With Cluster API's
// controllers and webhooks running:
//
//   - the upgrade succeeds: no immutable field (the autoscaler
//     Deployment's selector) is touched;
//   - the Cluster, OpenStackCluster, control plane, MachineDeployment,
//     health checks and the autoscaler keep their UIDs: nothing is deleted
//     and made again;
//   - capi-helm-charts' machine templates and credentials Secret stay
//     (keep), and the MachineDeployment keeps its MachineSet while it rolls
//     to the new templates: the one rollout the hand-over makes.
func TestAdoptionTakesOverACapiHelmChartsRelease(t *testing.T) {
	env := capienv.Shared(t)
	ctx := context.Background()
	const ns, name = "clusters", "research"
	env.Namespace(t, ns, name)

	ac := helmConfig(t, env, ns)
	old, err := loader.Load(filepath.Join("testdata", "capi-helm-charts"))
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(ac)
	in.ReleaseName, in.Namespace = name, ns
	in.ServerSideApply = false // helm 3: client-side apply
	in.WaitStrategy = kube.HookOnlyStrategy
	if _, err := in.RunWithContext(ctx, old, map[string]any{}); err != nil {
		t.Fatalf("installing the capi-helm-charts release: %v", err)
	}

	kept := []schema.GroupVersionKind{
		{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "Cluster"},
		{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackCluster"},
		{Group: "controlplane.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmControlPlane"},
		{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "MachineDeployment"},
		{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "MachineHealthCheck"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "", Version: "v1", Kind: "ServiceAccount"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
		{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackMachineTemplate"},
		{Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmConfigTemplate"},
		{Group: "", Version: "v1", Kind: "Secret"},
	}
	names := map[string][]string{
		"Cluster": {name}, "OpenStackCluster": {name}, "KubeadmControlPlane": {name + "-control-plane"},
		"MachineDeployment": {name + "-md-0"}, "MachineHealthCheck": {name + "-control-plane", name + "-md-0"},
		"Deployment": {name + "-autoscaler"}, "ServiceAccount": {name + "-autoscaler"}, "Role": {name + "-autoscaler"},
		"OpenStackMachineTemplate": {name + "-control-plane-3f1c9a2e", name + "-md-0-7d4e0b91"},
		"KubeadmConfigTemplate":    {name + "-md-0-a52c6f08"},
		"Secret":                   {name + "-cloud-credentials"},
	}
	uids := func() map[string]types.UID {
		out := map[string]types.UID{}
		for _, gvk := range kept {
			for _, n := range names[gvk.Kind] {
				o := &unstructured.Unstructured{}
				o.SetGroupVersionKind(gvk)
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, o); err != nil {
					t.Fatalf("%s %s: %v", gvk.Kind, n, err)
				}
				if o.GetDeletionTimestamp() != nil {
					t.Errorf("%s %s is being deleted", gvk.Kind, n)
				}
				out[gvk.Kind+"/"+n] = o.GetUID()
			}
		}
		return out
	}
	oldSets := machineSetsOf(t, env, ns, name+"-md-0", 1)
	before := uids()

	// capiform's chart with the adopted cluster's values.
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join(testrepo.Root(), "testdata", "adopt", "clusters"), filepath.Join(dir, "clusters")); err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Render(ctx, pipeline.Default(source.Worktree(dir)))
	if err != nil {
		t.Fatal(err)
	}
	rel := res.Release("uni", name)
	if rel.ReleaseName != name || rel.TargetNamespace != ns || rel.StorageNamespace != ns {
		t.Fatalf("testdata/adopt's %s renders identity %+v, want release %s in %s", name, rel.Identity, name, ns)
	}
	cur, err := loader.Load(filepath.Join(dir, "charts", "openstack-cluster"))
	if err != nil {
		t.Fatal(err)
	}
	up := action.NewUpgrade(ac)
	up.Namespace = ns
	last, err := ac.Releases.Last(name)
	if err != nil {
		t.Fatal(err)
	}
	// helm-controller's "auto": the apply method of the release it finds.
	ssa := last.(*releasev1.Release).ApplyMethod == "ssa"
	up.ServerSideApply = map[bool]string{true: "true", false: "false"}[ssa]
	up.ForceConflicts = ssa
	up.TakeOwnership = true
	up.ResetValues = true
	up.WaitStrategy = kube.HookOnlyStrategy
	r, err := up.RunWithContext(ctx, rel.ReleaseName, cur, rel.Values)
	if err != nil {
		t.Fatalf("the hand-over upgrade: %v", err)
	}
	if got := r.(*releasev1.Release); got.Version != 2 || got.Info.Status != releasecommon.StatusDeployed {
		t.Fatalf("release %s revision %d %s, want revision 2 deployed", name, got.Version, got.Info.Status)
	}

	after := uids()
	for k, uid := range before {
		if after[k] != uid {
			t.Errorf("%s was deleted and made again (uid %s, now %s)", k, uid, after[k])
		}
	}
	dep := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-autoscaler"}, dep); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"capi.stackhpc.com/cluster": name, "capi.stackhpc.com/component": "autoscaler"}; !equalMaps(dep.Spec.Selector.MatchLabels, want) {
		t.Errorf("autoscaler selector %v, want capi-helm-charts' %v", dep.Spec.Selector.MatchLabels, want)
	}
	if c := dep.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Name != "cluster-autoscaler" {
		t.Errorf("the autoscaler's pod template is not capiform's: containers %v", c)
	}
	md := &clusterv1.MachineDeployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-md-0"}, md); err != nil {
		t.Fatal(err)
	}
	if md.Spec.Template.Spec.InfrastructureRef.Name == name+"-md-0-7d4e0b91" {
		t.Errorf("the MachineDeployment still uses capi-helm-charts' template")
	}
	if md.Labels["capiform.dev/cluster"] != name || md.Labels["capi.stackhpc.com/component"] != "" {
		t.Errorf("MachineDeployment labels %v: want capiform's, capi-helm-charts' removed by the upgrade", md.Labels)
	}

	// The controllers roll the group to the new templates, keeping the
	// old MachineSet (it scales down as the new one scales up).
	sets := machineSetsOf(t, env, ns, name+"-md-0", 2)
	for ms := range oldSets {
		if _, ok := sets[ms]; !ok {
			t.Errorf("MachineSet %s of capi-helm-charts' template is no longer the MachineDeployment's", ms)
		}
	}
	sec := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-cloud-credentials"}, sec); err != nil || len(sec.Data["cacert"]) == 0 {
		t.Errorf("capi-helm-charts' credentials Secret with its cacert key: %v", err)
	}
}

// machineSetsOf waits until the MachineDeployment owns at least n
// MachineSets and returns their names.
func machineSetsOf(t *testing.T, env *capienv.Env, ns, md string, n int) map[string]bool {
	t.Helper()
	var out map[string]bool
	err := capienv.Eventually(context.Background(), 3*time.Minute, func(ctx context.Context) (bool, string, error) {
		out = map[string]bool{}
		mss := &clusterv1.MachineSetList{}
		if err := env.Client.List(ctx, mss, client.InNamespace(ns)); err != nil {
			return false, "", err
		}
		for _, ms := range mss.Items {
			if c := metav1.GetControllerOf(&ms); c != nil && c.Kind == "MachineDeployment" && c.Name == md && ms.DeletionTimestamp.IsZero() {
				out[ms.Name] = true
			}
		}
		return len(out) >= n, "MachineSets of " + md, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// helmConfig is a Helm action configuration on the test API server with
// its release storage (Secrets) in namespace.
func helmConfig(t *testing.T, env *capienv.Env, namespace string) *action.Configuration {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, env.Kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kc, &namespace
	ac := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	if err := ac.Init(flags, namespace, "secret"); err != nil {
		t.Fatal(err)
	}
	return ac
}
