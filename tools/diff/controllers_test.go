package diff

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"

	"github.com/capiform/capiform/tools/internal/capienv"
)

// TestMain stops the Cluster API test environment that the controller
// tests start on first use (tests that do not use it never start it).
func TestMain(m *testing.M) { os.Exit(capienv.Main(m)) }

// replace is one edit of the test cluster's definition
// (clusters/s1/app.yaml of testdata/diff/fleet).
type replace struct{ old, new string }

// pinGroupVersions pins every node group to the cluster's version, so that
// a control plane upgrade leaves them alone.
var pinGroupVersions = []replace{
	{"- name: general\n", "- name: general\n      kubernetesVersion: v1.36.1\n"},
	{"- name: big\n", "- name: big\n      kubernetesVersion: v1.36.1\n"},
	{"- name: burst\n", "- name: burst\n      kubernetesVersion: v1.36.1\n"},
}

// controllerScenarios are changes of a cluster's definition, each checked
// against Cluster API's own controllers. A row is one line: the base
// edits (usually none) and the change.
var controllerScenarios = []struct {
	name   string
	base   []replace
	change []replace
}{
	{"nothing", nil, nil},
	{"flavor", nil, []replace{{"flavor: m1.xlarge", "flavor: m1.large"}}},
	{"replicas", nil, []replace{{"replicas: 3\n    - name: big", "replicas: 5\n    - name: big"}}},
	{"labels", nil, []replace{{"- name: general\n", "- name: general\n      labels: {tier: web}\n"}}},
	{"root volume", nil, []replace{{"- name: big\n", "- name: big\n      rootVolume: {sizeGiB: 80, type: ssd}\n"}}},
	{"control plane version", pinGroupVersions, []replace{{"  kubernetesVersion: v1.36.1\n  controlPlane", "  kubernetesVersion: v1.36.2\n  controlPlane"}}},
	{"autoscale minimum up", nil, []replace{{"autoscale: {min: 1, max: 5}", "autoscale: {min: 2, max: 6}"}}},
	{"autoscale maximum", nil, []replace{{"autoscale: {min: 1, max: 5}", "autoscale: {min: 1, max: 8}"}}},
	{"taints", nil, []replace{{"- name: general\n", "- name: general\n      taints: [{key: dedicated, value: db, effect: NoSchedule}]\n"}}},
	{"control plane flavor", nil, []replace{{"flavor: m1.large\n    replicas: 3\n  nodeGroups", "flavor: m1.xlarge\n    replicas: 3\n  nodeGroups"}}},
	{"control plane root volume", nil, []replace{{"    replicas: 3\n  nodeGroups", "    replicas: 3\n    rootVolume: {sizeGiB: 60}\n  nodeGroups"}}},
	{"OIDC", nil, []replace{{"  controlPlane:\n", "  oidc: {issuerURL: https://id.example.org, clientID: kubernetes}\n  controlPlane:\n"}}},
	{"allowed CIDRs", nil, []replace{{"  controlPlane:\n", "  apiServer: {allowedCIDRs: [192.0.2.0/24]}\n  controlPlane:\n"}}},
	{"rollout strategy", nil, []replace{{"- name: general\n", "- name: general\n      rollout: {deletePolicy: Oldest}\n"}}},
	{"control plane remediation", nil, []replace{{"    replicas: 3\n  nodeGroups", "    replicas: 3\n    remediation: {maxRetry: 3, retryPeriodSeconds: 300}\n  nodeGroups"}}},
	{"rollout surge", nil, []replace{{"- name: general\n", "- name: general\n      rollout: {maxSurge: \"50%\", maxUnavailable: 1}\n"}}},
	{"health checks", nil, []replace{{"  controlPlane:\n", "  healthCheck: {nodeStartupTimeoutSeconds: 2400, maxUnhealthy: {workers: 3}}\n  controlPlane:\n"}}},
	{"etcd tuning", nil, []replace{{"  controlPlane:\n", "  etcd: {heartbeatIntervalMs: 300}\n  controlPlane:\n"}}},
	{"certificate renewal", nil, []replace{{"  controlPlane:\n", "  certificates: {renewBeforeDays: 60}\n  controlPlane:\n"}}},
}

// TestDiffPredictsTheControllers checks, for each scenario, that what
// capiform diff predicts is what Cluster API's controllers do: the base
// revision's expanded objects are applied and left to settle, the head's
// are applied as helm upgrade would, and the effects are compared:
//
//	diff                                 controllers
//	node group rolls                     the MachineDeployment makes a new MachineSet
//	node group scales N -> M             its MachineSet's replicas go N -> M
//	autoscale bounds change              nothing (the replicas are the autoscaler's)
//	control plane rolls                  control plane Machines turn UpToDate=False
//	control plane scales N -> M          the KubeadmControlPlane's replicas go N -> M
//	nothing                              none of these
func TestDiffPredictsTheControllers(t *testing.T) {
	env := capienv.Shared(t)
	// The scenarios mostly wait for the controllers: they run all at once
	// (t.Parallel would run only GOMAXPROCS of them at a time).
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, sc := range controllerScenarios {
		wg.Go(func() {
			t.Run(sc.name, func(t *testing.T) {
				ctx := context.Background()
				r := newTestRepo(t)
				for _, e := range sc.base {
					r.edit("clusters/s1/app.yaml", e.old, e.new)
				}
				r.commit("base")
				ns := fmt.Sprintf("scenario-%02d", i)
				before, err := capienv.Expand(ctx, r.dir, "s1", "app", ns)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range sc.change {
					r.edit("clusters/s1/app.yaml", e.old, e.new)
				}
				r.commit(sc.name)
				after, err := capienv.Expand(ctx, r.dir, "s1", "app", ns)
				if err != nil {
					t.Fatal(err)
				}
				rep := r.mustDiff()
				predicted := predictedEffects(rep)

				env.Namespace(t, ns, "app")
				if err := env.Apply(ctx, before); err != nil {
					t.Fatal(err)
				}
				s0 := settle(t, env, ns, true)
				if err := env.Upgrade(ctx, before, after); err != nil {
					t.Fatal(err)
				}
				s1 := settle(t, env, ns, false)
				observed := observedEffects(s0, s1)
				if strings.Join(predicted, "\n") != strings.Join(observed, "\n") {
					t.Errorf("capiform diff predicts:\n  %s\nthe controllers did:\n  %s\ndiff:\n%s",
						strings.Join(orNothing(predicted), "\n  "), strings.Join(orNothing(observed), "\n  "), textOf(t, rep))
				}
			})
		})
	}
}

func orNothing(s []string) []string {
	if len(s) == 0 {
		return []string{"nothing"}
	}
	return s
}

// predictedEffects are the diff's statements on machines, in the terms of
// observedEffects.
func predictedEffects(rep *Report) []string {
	var out []string
	for _, c := range rep.Clusters {
		if cp := c.ControlPlane; cp != nil {
			switch {
			case cp.Replace:
				out = append(out, "control plane: rollout")
			case cp.Scale != nil:
				out = append(out, fmt.Sprintf("control plane: replicas %d -> %d", deref(cp.Scale.From), deref(cp.Scale.To)))
			}
		}
		for _, g := range c.NodeGroups {
			switch {
			case g.Replace:
				out = append(out, g.Name+": rollout")
			case g.Scale != nil:
				out = append(out, fmt.Sprintf("%s: replicas %d -> %d", g.Name, deref(g.Scale.From), deref(g.Scale.To)))
			}
		}
	}
	sort.Strings(out)
	return out
}

// state is what the controllers made of a cluster.
type state struct {
	// machineSets maps a node group to its MachineSets' names and
	// replicas.
	machineSets map[string]map[string]int32
	// cpReplicas is the KubeadmControlPlane's; cpMachines maps each
	// control plane Machine to whether it is UpToDate.
	cpReplicas int32
	cpMachines map[string]bool
}

// settle waits until every controller has seen the current generation of
// the objects it owns and returns what they made. first also waits for
// the first control plane Machine, up to date.
func settle(t *testing.T, env *capienv.Env, ns string, first bool) state {
	t.Helper()
	var s state
	err := capienv.Eventually(context.Background(), 3*time.Minute, func(ctx context.Context) (bool, string, error) {
		s = state{machineSets: map[string]map[string]int32{}, cpMachines: map[string]bool{}}
		kcp := &controlplanev1.KubeadmControlPlane{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-control-plane"}, kcp); err != nil {
			return false, "", err
		}
		s.cpReplicas = deref32(kcp.Spec.Replicas)
		machines := &clusterv1.MachineList{}
		if err := env.Client.List(ctx, machines, client.InNamespace(ns), client.MatchingLabels{clusterv1.MachineControlPlaneLabel: ""}); err != nil {
			return false, "", err
		}
		for i := range machines.Items {
			m := &machines.Items[i]
			c := conditions.Get(m, clusterv1.MachineUpToDateCondition)
			if c == nil {
				return false, "UpToDate condition of " + m.Name, nil
			}
			s.cpMachines[m.Name] = c.Status == "True"
		}
		if first && (len(s.cpMachines) == 0 || !allTrue(s.cpMachines)) {
			return false, "the first control plane Machine, up to date", nil
		}
		// A control plane that rolls fails its reconcile further on (it
		// reads kubeadm's ConfigMap in the workload cluster, which no
		// kubeadm made here), so it never records the generation as
		// observed; its Machines' UpToDate conditions are written anyway.
		if kcp.Status.ObservedGeneration != kcp.Generation && allTrue(s.cpMachines) {
			return false, "KubeadmControlPlane observes its generation", nil
		}
		mds := &clusterv1.MachineDeploymentList{}
		if err := env.Client.List(ctx, mds, client.InNamespace(ns)); err != nil {
			return false, "", err
		}
		if len(mds.Items) == 0 {
			return false, "MachineDeployments", nil
		}
		for _, md := range mds.Items {
			if md.Status.ObservedGeneration != md.Generation {
				return false, "MachineDeployment " + md.Name + " observes its generation", nil
			}
			mss := &clusterv1.MachineSetList{}
			if err := env.Client.List(ctx, mss, client.InNamespace(ns), client.MatchingLabels{clusterv1.MachineDeploymentNameLabel: md.Name}); err != nil {
				return false, "", err
			}
			group := md.Labels[LabelNodeGroup]
			s.machineSets[group] = map[string]int32{}
			for _, ms := range mss.Items {
				if ms.DeletionTimestamp.IsZero() {
					s.machineSets[group][ms.Name] = deref32(ms.Spec.Replicas)
				}
			}
			if len(s.machineSets[group]) == 0 {
				return false, "a MachineSet of " + md.Name, nil
			}
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// observedEffects compares two states in the terms of predictedEffects.
func observedEffects(a, b state) []string {
	var out []string
	for m, upToDate := range b.cpMachines {
		if _, existed := a.cpMachines[m]; existed && !upToDate {
			out = append(out, "control plane: rollout")
			break
		}
	}
	if len(out) == 0 && a.cpReplicas != b.cpReplicas {
		out = append(out, fmt.Sprintf("control plane: replicas %d -> %d", a.cpReplicas, b.cpReplicas))
	}
	for group, sets := range b.machineSets {
		old := a.machineSets[group]
		rolled := false
		for name := range sets {
			if _, ok := old[name]; !ok {
				rolled = true
			}
		}
		switch {
		case rolled:
			out = append(out, group+": rollout")
		case len(sets) == 1 && len(old) == 1:
			for name, n := range sets {
				if old[name] != n {
					out = append(out, fmt.Sprintf("%s: replicas %d -> %d", group, old[name], n))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func allTrue(m map[string]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}

func deref32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// TestUninstallDeletesInClusterAPIOrder removes a settled cluster's
// release the way helm uninstall does (every object but those annotated
// helm.sh/resource-policy: keep, as the rendered objects say) and checks,
// with the controllers running, that Cluster API tears it down in its
// order: every MachineDeployment and the control plane are gone before
// the OpenStackCluster (network, load balancer) starts to go, and nothing
// of the cluster is left.
//
// It needs the chart of issue 12's deletion item, where only the Cluster
// (with the autoscaler and its RBAC) lacks the keep annotation and
// everything Cluster API deletes itself carries it. On a chart that still
// keeps the Cluster, Helm deletes the control plane and workers itself
// and leaves the Cluster and its network behind: the test fails at once
// saying so (PENDING until that chart change is merged).
func TestUninstallDeletesInClusterAPIOrder(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	const ns = "uninstall"
	objs, err := capienv.Expand(ctx, r.dir, "s1", "app", ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "Cluster" && o.GetAnnotations()[ResourcePolicyAnnotation] == ResourcePolicyKeep {
			t.Fatal("PENDING issue 12 (deletion), passes once that chart change is merged: the chart keeps the Cluster (helm.sh/resource-policy: keep), so helm uninstall deletes the control plane and node groups itself and leaves the Cluster and OpenStackCluster behind; this test runs once only the Cluster lacks the annotation")
		}
	}
	env := capienv.Shared(t)
	env.Namespace(t, ns, "app")
	if err := env.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	settle(t, env, ns, true)

	// Watch when each object starts to go (deletionTimestamp) and is gone,
	// by the resourceVersion of the event: one etcd orders every write of
	// this API server, where clocks and polling cannot.
	watched := []schema.GroupVersionKind{
		clusterv1.GroupVersion.WithKind("Cluster"), clusterv1.GroupVersion.WithKind("MachineDeployment"),
		clusterv1.GroupVersion.WithKind("MachineSet"), clusterv1.GroupVersion.WithKind("Machine"),
		controlplanev1.GroupVersion.WithKind("KubeadmControlPlane"),
		capienv.OpenStackClusterGVK, capienv.OpenStackMachineGVK,
	}
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	deleting, gone := map[string]uint64{}, map[string]uint64{}
	watchCtx, stop := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	for _, gvk := range watched {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		w, err := wc.Watch(watchCtx, list, client.InNamespace(ns))
		if err != nil {
			t.Fatal(err)
		}
		watchers.Go(func() {
			defer w.Stop()
			for {
				select {
				case <-watchCtx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					o, ok := ev.Object.(*unstructured.Unstructured)
					if !ok {
						continue
					}
					rv, _ := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
					k := gvk.Kind + "/" + o.GetName()
					mu.Lock()
					if _, ok := deleting[k]; !ok && (!o.GetDeletionTimestamp().IsZero() || ev.Type == watch.Deleted) {
						deleting[k] = rv
					}
					if ev.Type == watch.Deleted {
						gone[k] = rv
					}
					mu.Unlock()
				}
			}
		})
	}

	kept, err := env.Uninstall(ctx, objs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helm uninstall keeps %v", kept)

	// Everything of the cluster, and the Secrets Cluster API made for it.
	all := append(append([]schema.GroupVersionKind{}, watched...),
		bootstrapv1.GroupVersion.WithKind("KubeadmConfig"), corev1.SchemeGroupVersion.WithKind("Secret"))
	for _, o := range objs {
		all = append(all, o.GroupVersionKind())
	}
	var left []string
	err = capienv.Eventually(ctx, 3*time.Minute, func(ctx context.Context) (bool, string, error) {
		if _, err := env.CollectGarbage(ctx, ns, all...); err != nil {
			return false, "", err
		}
		left = nil
		done := map[schema.GroupVersionKind]bool{}
		for _, gvk := range all {
			if done[gvk] {
				continue
			}
			done[gvk] = true
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
				return false, "", err
			}
			for _, o := range list.Items {
				left = append(left, gvk.Kind+"/"+o.GetName())
			}
		}
		sort.Strings(left)
		return len(left) == 0, "nothing of the cluster left; left: " + strings.Join(left, ", "), nil
	})
	stop()
	watchers.Wait()
	if err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var osc uint64
	for k, rv := range deleting {
		if strings.HasPrefix(k, "OpenStackCluster/") {
			osc = rv
		}
	}
	if osc == 0 {
		t.Fatalf("the OpenStackCluster was never deleted; deleted: %v", deleting)
	}
	var before int
	for k, rv := range gone {
		if strings.HasPrefix(k, "MachineDeployment/") || strings.HasPrefix(k, "KubeadmControlPlane/") {
			before++
			if rv >= osc {
				t.Errorf("%s was gone (resourceVersion %d) after the OpenStackCluster started to go (%d): Cluster API must delete workers and control plane first", k, rv, osc)
			}
		}
	}
	if before != 4 {
		t.Errorf("want 3 MachineDeployments and the control plane gone, saw %d: %v", before, gone)
	}
}
