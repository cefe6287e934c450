package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/capiform/capiform/tools/envtestutil"
	"github.com/capiform/capiform/tools/internal/capienv"
	"github.com/capiform/capiform/tools/resolve"
)

// The pivot against Cluster API's real controllers (tools/internal/capienv)
// on both API servers: the Cluster, MachineDeployment, MachineSet, Machine,
// KubeadmConfig and KubeadmControlPlane reconcilers with their webhooks, on
// the ephemeral side and on the target. What is not Cluster API is played:
// the OpenStack provider and the booted servers (capienv's stand-in: a
// Ready Node per Machine, by provider ID, and kubeadm init's ConfigMap, in
// the target API server, which plays the workload cluster: the management
// cluster manages itself), the operator's credentials Secret, and Flux's
// root Kustomization turning Ready.
//
// Two limits, each said where it matters: nothing answers for etcd, so
// KubeadmControlPlane never reports itself Available and stays at its first
// Machine (the runs set SkipControlPlaneAvailable and the test checks that
// wait-ready waits for nothing else); and one API server is every
// cluster's workload cluster, so kubeadm's ConfigMap is cleared before a
// cluster is made, and the cases run one after the other.

// controllerEnvs are the two API servers with the controllers running.
type controllerEnvs struct {
	testEnvs
	eph, tgt *capienv.Env
}

func startControllerEnvs(t *testing.T) controllerEnvs {
	t.Helper()
	envtestutil.RequireAssets(t)
	opts, err := capienv.DefaultOptions(t)
	if err != nil {
		t.Fatal(err)
	}
	opts.CRDLabels = map[string]string{clusterctlv1.ClusterctlLabel: ""}
	opts.Boot = true
	start := func(opts capienv.Options) *capienv.Env {
		env, err := capienv.Start(opts)
		if err != nil {
			t.Fatalf("Cluster API test environment: %v", err)
		}
		t.Cleanup(func() {
			if err := env.Stop(); err != nil {
				t.Logf("stopping a Cluster API test environment: %v", err)
			}
		})
		return env
	}
	tgt := start(opts)
	opts.Workload = tgt.Config
	eph := start(opts)
	return controllerEnvs{
		testEnvs: testEnvs{
			eph: &envtestutil.Env{Config: eph.Config, Kubeconfig: eph.Kubeconfig},
			tgt: &envtestutil.Env{Config: tgt.Config, Kubeconfig: tgt.Kubeconfig},
		},
		eph: eph, tgt: tgt,
	}
}

// prepare does what the operator and kubeadm leave before a cluster is
// made: the namespace with the credentials Secret (the operator), the
// <cluster>-kubeconfig Secret for the target API server (see
// capienv.KubeconfigSecret), and no kubeadm ConfigMap of an earlier
// cluster in the shared workload API server. It keeps Flux's root
// Kustomization Ready until stop.
func (ce controllerEnvs) prepare(ctx context.Context, t *testing.T, opts Options) (stop func()) {
	t.Helper()
	name := opts.ManagementCluster
	ns := resolve.ClusterNamespace(name)
	eph, tgt := newClient(t, ce.testEnvs.eph.Config), newClient(t, ce.testEnvs.tgt.Config)
	// Provided by the operator as far as Cluster API can tell (not of its
	// Secret type): KubeadmControlPlane neither adopts nor rotates it. A
	// rotated one would be signed by the cluster's CA, which the target
	// API server does not trust.
	kubeconfig := ce.eph.KubeconfigSecret(ns, name)
	kubeconfig.Type = corev1.SecretTypeOpaque
	for _, obj := range []ctrlclient.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		kubeconfig,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: opts.CredentialsSecret}, Data: map[string][]byte{"clouds.yaml": []byte("clouds: {}"), "cloud.conf": []byte(testCloudConf), "cloud-conf-values.yaml": []byte(testCloudConfValues)}},
	} {
		if err := eph.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	kc := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "kubeadm-config"}}
	if err := tgt.Delete(ctx, kc); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := fluxReady(ctx, tgt); err != nil && ctx.Err() == nil {
				t.Logf("fake Flux: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// controllerOptions are testOptions for a run against the real
// controllers.
func controllerOptions(t *testing.T, ce controllerEnvs, name string) Options {
	opts := testOptions(t, ce.testEnvs, name)
	opts.SkipControlPlaneAvailable = true
	opts.Timeouts.ControlPlaneInitialized = 2 * time.Minute
	opts.Timeouts.Ready = 2 * time.Minute
	return opts
}

// The kinds the controllers make for a cluster, listed on the source
// before the move for the expected inventory.
var madeKinds = []schema.GroupVersionKind{
	clusterv1.GroupVersion.WithKind("Machine"),
	clusterv1.GroupVersion.WithKind("MachineSet"),
	bootstrapv1.GroupVersion.WithKind("KubeadmConfig"),
	capienv.OpenStackMachineGVK,
	corev1.SchemeGroupVersion.WithKind("Secret"),
}

// capiKinds are the Cluster API kinds of a cluster: none may be left on
// the source after the move.
var capiKinds = append([]schema.GroupVersionKind{
	clusterv1.GroupVersion.WithKind("Cluster"),
	clusterv1.GroupVersion.WithKind("MachineDeployment"),
	controlplanev1.GroupVersion.WithKind("KubeadmControlPlane"),
	capienv.OpenStackClusterGVK,
}, madeKinds[:4]...)

func listEntries(ctx context.Context, t *testing.T, c ctrlclient.Client, ns string, kinds []schema.GroupVersionKind) []string {
	t.Helper()
	var out []string
	for _, gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, ctrlclient.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			out = append(out, inventoryEntry(gvk.GroupKind(), ns, o.GetName()))
		}
	}
	sort.Strings(out)
	return out
}

// fleet is what the controllers made of a cluster: its Machines (name ->
// UID) and MachineSets (name -> replicas).
type fleet struct {
	machines    map[string]types.UID
	machineSets map[string]int32
}

// settled waits until the controllers on c have the cluster steady: every
// Machine with its Node, every MachineDeployment Available with its
// replicas in one MachineSet, and the control plane's one Machine (no etcd
// answers, so KubeadmControlPlane stays at its first).
func settled(ctx context.Context, t *testing.T, c ctrlclient.Client, name string) fleet {
	t.Helper()
	ns := resolve.ClusterNamespace(name)
	var f fleet
	err := capienv.Eventually(ctx, 3*time.Minute, func(ctx context.Context) (bool, string, error) {
		f = fleet{machines: map[string]types.UID{}, machineSets: map[string]int32{}}
		var cl clusterv1.Cluster
		if err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &cl); err != nil {
			return false, "the Cluster", ctrlclient.IgnoreNotFound(err)
		}
		if !conditions.IsTrue(&cl, clusterv1.ClusterControlPlaneInitializedCondition) {
			return false, "the control plane initialized", nil
		}
		var mds clusterv1.MachineDeploymentList
		if err := c.List(ctx, &mds, ctrlclient.InNamespace(ns)); err != nil {
			return false, "", err
		}
		want := int32(1)
		for _, md := range mds.Items {
			want += ptr.Deref(md.Spec.Replicas, 0)
			if !conditions.IsTrue(&md, clusterv1.MachineDeploymentAvailableCondition) || md.Status.ObservedGeneration != md.Generation {
				return false, "MachineDeployment " + md.Name + " available", nil
			}
		}
		var mss clusterv1.MachineSetList
		if err := c.List(ctx, &mss, ctrlclient.InNamespace(ns)); err != nil {
			return false, "", err
		}
		for _, ms := range mss.Items {
			f.machineSets[ms.Name] = ptr.Deref(ms.Spec.Replicas, 0)
		}
		if len(mss.Items) != len(mds.Items) {
			return false, fmt.Sprintf("one MachineSet per MachineDeployment, have %d", len(mss.Items)), nil
		}
		var ms clusterv1.MachineList
		if err := c.List(ctx, &ms, ctrlclient.InNamespace(ns)); err != nil {
			return false, "", err
		}
		for _, m := range ms.Items {
			if !m.Status.NodeRef.IsDefined() || m.Status.Phase != string(clusterv1.MachinePhaseRunning) {
				return false, "Machine " + m.Name + " running with its node", nil
			}
			f.machines[m.Name] = m.UID
		}
		if int32(len(f.machines)) != want {
			return false, fmt.Sprintf("%d Machines, have %d", want, len(f.machines)), nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// pauseWatch checks, once, in the paused window of a move (the source's
// Cluster paused, the move's first write to the target held back), that
// the source's controllers leave the cluster alone: its MachineDeployment
// is scaled up by one for a few seconds, and no Machine or MachineSet is
// created, deleted or changed, while every controller reports the pause
// (the Paused condition Cluster API's controllers set on what they leave
// alone, which is their only write); the scale is undone before the move
// goes on.
type pauseWatch struct {
	t        *testing.T
	eph      ctrlclient.Client
	ns, name string

	once    sync.Once
	checked bool
}

func (p *pauseWatch) wrap(role string, rt http.RoundTripper) http.RoundTripper {
	if role != RoleTarget {
		return rt
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet && p.sourcePaused() {
			p.once.Do(p.check)
		}
		return rt.RoundTrip(req)
	})
}

func (p *pauseWatch) sourcePaused() bool {
	var cl clusterv1.Cluster
	err := p.eph.Get(context.Background(), ctrlclient.ObjectKey{Namespace: p.ns, Name: p.name}, &cl)
	return err == nil && ptr.Deref(cl.Spec.Paused, false)
}

// versions maps the Machines and MachineSets of the namespace to their
// resourceVersions.
func (p *pauseWatch) versions(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, gvk := range madeKinds[:2] {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := p.eph.List(ctx, list, ctrlclient.InNamespace(p.ns)); err != nil {
			p.t.Errorf("paused window: %v", err)
			return nil
		}
		for _, o := range list.Items {
			out[inventoryEntry(gvk.GroupKind(), p.ns, o.GetName())] = o.GetResourceVersion()
		}
	}
	return out
}

// unpaused lists the Cluster API objects of the namespace whose Paused
// condition is not True.
func (p *pauseWatch) unpaused(ctx context.Context) []string {
	var out []string
	for _, gvk := range []schema.GroupVersionKind{
		clusterv1.GroupVersion.WithKind("MachineDeployment"), clusterv1.GroupVersion.WithKind("MachineSet"),
		clusterv1.GroupVersion.WithKind("Machine"), controlplanev1.GroupVersion.WithKind("KubeadmControlPlane"),
	} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := p.eph.List(ctx, list, ctrlclient.InNamespace(p.ns)); err != nil {
			p.t.Errorf("paused window: %v", err)
			return nil
		}
		for _, o := range list.Items {
			paused := false
			conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			for _, c := range conds {
				if c, ok := c.(map[string]any); ok && c["type"] == clusterv1.PausedCondition && c["status"] == "True" {
					paused = true
				}
			}
			if !paused {
				out = append(out, gvk.Kind+" "+o.GetName())
			}
		}
	}
	return out
}

func (p *pauseWatch) check() {
	ctx := context.Background()
	t := p.t
	var mds clusterv1.MachineDeploymentList
	if err := p.eph.List(ctx, &mds, ctrlclient.InNamespace(p.ns)); err != nil || len(mds.Items) == 0 {
		t.Errorf("paused window: MachineDeployments: %d, %v", len(mds.Items), err)
		return
	}
	md := &mds.Items[0]
	replicas := ptr.Deref(md.Spec.Replicas, 0)
	scale := func(n int32) {
		patch := ctrlclient.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n))
		if err := p.eph.Patch(ctx, md, patch); err != nil {
			t.Errorf("paused window: scaling %s: %v", md.Name, err)
		}
	}
	// The controllers' one write: each reports the pause. Then nothing.
	if err := capienv.Eventually(ctx, 30*time.Second, func(ctx context.Context) (bool, string, error) {
		u := p.unpaused(ctx)
		return len(u) == 0, fmt.Sprintf("the Paused condition on %v", u), nil
	}); err != nil {
		t.Errorf("paused window: %v", err)
	}
	before := p.versions(ctx)
	scale(replicas + 1)
	time.Sleep(5 * time.Second)
	after := p.versions(ctx)
	unpaused := p.unpaused(ctx)
	scale(replicas)
	for _, k := range union(keysOf(before), keysOf(after)) {
		if before[k] != after[k] {
			t.Errorf("paused window: the source's controllers changed %s (resourceVersion %q -> %q) while its Cluster was paused and its MachineDeployment scaled %d -> %d", k, before[k], after[k], replicas, replicas+1)
		}
	}
	if len(unpaused) > 0 {
		t.Errorf("paused window: not reported Paused by their controllers: %v", unpaused)
	}
	p.checked = true
}

func keysOf[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// TestPivotWithClusterAPIControllers pivots clusters made by Cluster API's
// real controllers, with controllers on both sides.
func TestPivotWithClusterAPIControllers(t *testing.T) {
	// Beside TestPivot: on its own API servers, mostly waiting for
	// controllers.
	t.Parallel()
	ce := startControllerEnvs(t)
	ctx := context.Background()

	t.Run("paused source left alone, target adopts without new or deleted Machines", func(t *testing.T) {
		name := "mgmt-rc"
		ns := resolve.ClusterNamespace(name)
		opts := controllerOptions(t, ce, name)
		stop := ce.prepare(ctx, t, opts)
		defer stop()
		eph := newClient(t, ce.testEnvs.eph.Config)

		o := opts
		o.StopAfter = StepBasePlatform
		if err := Run(ctx, o); !errors.Is(err, ErrStopped) {
			t.Fatalf("Run until %s: %v", StepBasePlatform, err)
		}
		source := settled(ctx, t, eph, name)
		t.Logf("the controllers made Machines %v, MachineSets %v", keysOf(source.machines), keysOf(source.machineSets))

		// wait-ready without the skip: the control plane's availability
		// (etcd) is all that is missing.
		o = opts
		o.SkipControlPlaneAvailable = false
		o.StopAfter = StepWaitReady
		o.Timeouts.Ready = time.Second
		err := Run(ctx, o)
		if err == nil || !strings.Contains(err.Error(), "condition "+clusterv1.ClusterControlPlaneAvailableCondition+" is not True") ||
			strings.Contains(err.Error(), "MachineDeployment") || strings.Contains(err.Error(), "no node") {
			t.Errorf("wait-ready with the real controllers: %v; want only the control plane's availability missing", err)
		}

		o = opts
		o.StopAfter = StepLabelForMove
		if err := Run(ctx, o); !errors.Is(err, ErrStopped) {
			t.Fatalf("Run until %s: %v", StepLabelForMove, err)
		}
		made := listEntries(ctx, t, eph, ns, madeKinds)
		watch := &pauseWatch{t: t, eph: eph, ns: ns, name: name}
		o = opts
		o.InjectWrapTransport = watch.wrap
		if err := Run(ctx, o); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !watch.checked {
			t.Error("the move made no write to the target while the source was paused")
		}
		assertAdopted(ctx, t, ce, name, source, made)
	})

	t.Run("move failed after the pause: source unpaused, its controllers resume, the rerun moves", func(t *testing.T) {
		tc := faultCase{point: pointAfterPause, kind: kindTransient,
			source: clusterRunning, target: clusterAbsent, onSource: "all", onTarget: "none",
			message: []string{"Timeouts.Move", hintUnpaused, "0 of ", hintAgain}}
		name := "mgmt-rf"
		opts := controllerOptions(t, ce, name)
		stop := ce.prepare(ctx, t, opts)
		defer stop()
		var source fleet
		var made []string
		testFaultWith(ctx, t, ce.testEnvs, tc, faultRun{
			name: name, opts: opts,
			beforeMove: func() {
				eph := newClient(t, ce.testEnvs.eph.Config)
				source = settled(ctx, t, eph, name)
				made = listEntries(ctx, t, eph, resolve.ClusterNamespace(name), madeKinds)
			},
			afterFault: func() {
				// Unpaused, the source's controllers manage the same
				// Machines again.
				again := settled(ctx, t, newClient(t, ce.testEnvs.eph.Config), name)
				if !maps.Equal(again.machines, source.machines) {
					t.Errorf("after the failed move the source's Machines are %v, were %v", again.machines, source.machines)
				}
			},
			end: func() { assertAdopted(ctx, t, ce, name, source, made) },
		})
	})
}

// assertAdopted checks the end of a pivot with the real controllers: the
// target's controllers have the cluster steady again (status does not
// move: every Machine found its Node anew) with the same Machines and
// MachineSets by name as the source had, none created or deleted on the
// target since (UIDs compared over a while), nothing of Cluster API left
// on the source, and the pivot's end state with the inventory of what the
// controllers made.
func assertAdopted(ctx context.Context, t *testing.T, ce controllerEnvs, name string, source fleet, made []string) {
	t.Helper()
	ns := resolve.ClusterNamespace(name)
	eph, tgt := newClient(t, ce.testEnvs.eph.Config), newClient(t, ce.testEnvs.tgt.Config)
	target := settled(ctx, t, tgt, name)
	if !slices.Equal(keysOf(target.machines), keysOf(source.machines)) || !maps.Equal(target.machineSets, source.machineSets) {
		t.Errorf("on the target: Machines %v, MachineSets %v; the source had %v, %v",
			keysOf(target.machines), target.machineSets, keysOf(source.machines), source.machineSets)
	}
	time.Sleep(5 * time.Second)
	if later := settled(ctx, t, tgt, name); !maps.Equal(later.machines, target.machines) {
		t.Errorf("the target's controllers replaced Machines: %v, then %v", target.machines, later.machines)
	}
	if left := listEntries(ctx, t, eph, ns, capiKinds); len(left) > 0 {
		t.Errorf("Cluster API objects left on the source: %v", left)
	}
	assertPivotedWith(t, ce.testEnvs, name, made)
}
