package capienv

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/annotations"
)

// The OpenStack provider's kinds, in the API version of its CRDs
// (envtestutil.CAPOCRDDir).
var (
	OpenStackClusterGVK = schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackCluster"}
	OpenStackMachineGVK = schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackMachine"}
)

// The finalizers CAPO puts on its objects: deletion waits for the cloud
// resources behind them.
const (
	openStackClusterFinalizer = "openstackcluster.infrastructure.cluster.x-k8s.io"
	openStackMachineFinalizer = "openstackmachine.infrastructure.cluster.x-k8s.io"
)

// openStack is THE stand-in of this environment: the OpenStack provider
// (CAPO), whose controllers would call a cloud. It does, per the v1beta1
// infrastructure contract, only what Cluster API waits for:
//   - an OpenStackCluster gets a finalizer, a control plane endpoint (its
//     workload API server's address, Env.SetWorkload or Options.Workload,
//     where the real one is the API load balancer)
//     and status.ready; deleted, it drops the finalizer (network and load
//     balancer "deleted");
//   - an OpenStackMachine, once its Machine has bootstrap data (CAPO boots
//     the server with it), gets a finalizer, spec.providerID and
//     status.ready; deleted, it drops the finalizer (server "deleted").
//
// It does not validate the spec (the real CRD's schema does that on
// write). With Options.Boot it also plays the server once it runs (boot):
// the kubelet registers the Machine's Node, Ready, with the server's
// provider ID in the workload cluster (Cluster API's Machine controller
// finds it there by that ID), and the first control plane server runs
// kubeadm init, whose kube-system/kubeadm-config ConfigMap is what
// KubeadmControlPlane reads as "initialized". Nothing answers for etcd or
// the static pods, so KubeadmControlPlane never reports itself Available
// and never scales past its first Machine (its preflight checks wait for
// a healthy etcd).
type openStack struct {
	client client.Client
	gvk    schema.GroupVersionKind
	// workloadOf is each workload cluster's API server (Env.SetWorkload).
	workloadOf func(namespace, cluster string) *rest.Config
	boot       bool
	clients    *sync.Map // workload clients by API server address
}

func setupOpenStack(mgr ctrl.Manager, workloadOf func(namespace, cluster string) *rest.Config, boot bool) error {
	clients := &sync.Map{}
	for _, gvk := range []schema.GroupVersionKind{OpenStackClusterGVK, OpenStackMachineGVK} {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		r := &openStack{client: mgr.GetClient(), gvk: gvk, workloadOf: workloadOf, boot: boot, clients: clients}
		// Named alike in every environment of the process.
		// As CAPO, it watches the Clusters: an unpause (the end of a
		// move) is when the objects the move made get their status.
		err := ctrl.NewControllerManagedBy(mgr).For(obj).Named("openstack-standin-"+gvk.Kind).
			Watches(&clusterv1.Cluster{}, handler.EnqueueRequestsFromMapFunc(r.ofCluster)).
			WithOptions(controller.Options{SkipNameValidation: ptrTo(true)}).Complete(r)
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *openStack) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.gvk)
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	finalizer := openStackMachineFinalizer
	if r.gvk == OpenStackClusterGVK {
		finalizer = openStackClusterFinalizer
	}
	// As every provider: a paused Cluster (a move under way) is left alone.
	if paused, err := r.paused(ctx, obj); err != nil || paused {
		return reconcile.Result{}, err
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		if controllerutil.RemoveFinalizer(obj, finalizer) {
			return reconcile.Result{}, client.IgnoreNotFound(r.client.Update(ctx, obj))
		}
		return reconcile.Result{}, nil
	}
	var machine *clusterv1.Machine
	if r.gvk == OpenStackMachineGVK {
		// CAPO waits for the Machine's bootstrap data before it creates
		// the server.
		m, err := r.machineOf(ctx, obj)
		if err != nil {
			return reconcile.Result{}, err
		}
		if m == nil || m.Spec.Bootstrap.DataSecretName == nil {
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		machine = m
	}
	if controllerutil.AddFinalizer(obj, finalizer) {
		if err := r.client.Update(ctx, obj); err != nil {
			return reconcile.Result{}, err
		}
	}
	patch := client.MergeFrom(obj.DeepCopy())
	if r.gvk == OpenStackClusterGVK {
		if _, ok, _ := unstructured.NestedMap(obj.Object, "spec", "controlPlaneEndpoint"); !ok {
			host, port, err := endpoint(r.workloadOf(obj.GetNamespace(), clusterName(obj)))
			if err != nil {
				return reconcile.Result{}, err
			}
			_ = unstructured.SetNestedMap(obj.Object, map[string]any{"host": host, "port": port}, "spec", "controlPlaneEndpoint")
			if err := r.client.Patch(ctx, obj, patch); err != nil {
				return reconcile.Result{}, err
			}
		}
	} else if _, ok, _ := unstructured.NestedString(obj.Object, "spec", "providerID"); !ok {
		_ = unstructured.SetNestedField(obj.Object, "openstack:///"+string(obj.GetUID()), "spec", "providerID")
		if err := r.client.Patch(ctx, obj, patch); err != nil {
			return reconcile.Result{}, err
		}
	}
	if machine != nil && r.boot {
		providerID, _, _ := unstructured.NestedString(obj.Object, "spec", "providerID")
		wc, err := r.workload(machine.Namespace, machine.Spec.ClusterName)
		if err != nil {
			return reconcile.Result{}, err
		}
		if err := bootServer(ctx, wc, machine, providerID); err != nil {
			return reconcile.Result{}, err
		}
	}
	if ready, _, _ := unstructured.NestedBool(obj.Object, "status", "ready"); ready {
		return reconcile.Result{}, nil
	}
	patch = client.MergeFrom(obj.DeepCopy())
	_ = unstructured.SetNestedField(obj.Object, true, "status", "ready")
	return reconcile.Result{}, r.client.Status().Patch(ctx, obj, patch)
}

// workload is a client of a workload cluster's API server.
func (r *openStack) workload(namespace, cluster string) (client.Client, error) {
	cfg := r.workloadOf(namespace, cluster)
	if c, ok := r.clients.Load(cfg.Host); ok {
		return c.(client.Client), nil
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	c2, _ := r.clients.LoadOrStore(cfg.Host, c)
	return c2.(client.Client), nil
}

// endpoint is the host and port of an API server.
func endpoint(cfg *rest.Config) (string, int64, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseInt(u.Port(), 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("API server address %s: %w", cfg.Host, err)
	}
	return u.Hostname(), port, nil
}

// clusterName is the Cluster an infrastructure object belongs to: its
// cluster-name label, or its owning Cluster.
func clusterName(obj *unstructured.Unstructured) string {
	if name := obj.GetLabels()[clusterv1.ClusterNameLabel]; name != "" {
		return name
	}
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == "Cluster" {
			return ref.Name
		}
	}
	return ""
}

// ofCluster lists the stand-in's objects in a Cluster's namespace.
func (r *openStack) ofCluster(ctx context.Context, cl client.Object) []reconcile.Request {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(r.gvk.GroupVersion().WithKind(r.gvk.Kind + "List"))
	if err := r.client.List(ctx, list, client.InNamespace(cl.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, o := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
	}
	return out
}

func (r *openStack) paused(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	name := obj.GetLabels()[clusterv1.ClusterNameLabel]
	for _, ref := range obj.GetOwnerReferences() {
		if name == "" && ref.Kind == "Cluster" {
			name = ref.Name
		}
	}
	if name == "" {
		return annotations.HasPaused(obj), nil
	}
	cl := &clusterv1.Cluster{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}, cl); err != nil {
		if apierrors.IsNotFound(err) {
			return annotations.HasPaused(obj), nil
		}
		return false, err
	}
	return annotations.IsPaused(cl, obj), nil
}

// machineOf is the Machine that owns an OpenStackMachine, nil while it
// has none.
func (r *openStack) machineOf(ctx context.Context, obj *unstructured.Unstructured) (*clusterv1.Machine, error) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind != "Machine" {
			continue
		}
		m := &clusterv1.Machine{}
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: ref.Name}, m); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		return m, nil
	}
	return nil, nil
}

// kubeadmConfig is where kubeadm init leaves the cluster's configuration.
var kubeadmConfig = client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: "kubeadm-config"}

// bootServer plays the booted server of machine in the workload cluster: kubeadm
// init on the first control plane server, and the kubelet's Node, named
// after the Machine (names are unique in a namespace, and a test's
// clusters are named apart), Ready. Both are made once; a moved Machine
// finds its Node again by the provider ID.
func bootServer(ctx context.Context, workload client.Client, machine *clusterv1.Machine, providerID string) error {
	_, controlPlane := machine.Labels[clusterv1.MachineControlPlaneLabel]
	if controlPlane {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: kubeadmConfig.Namespace, Name: kubeadmConfig.Name},
			Data:       map[string]string{"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: " + machine.Spec.Version + "\n"},
		}
		if err := workload.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	node := &corev1.Node{}
	switch err := workload.Get(ctx, client.ObjectKey{Name: machine.Name}, node); {
	case apierrors.IsNotFound(err):
		node = &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: machine.Name, Labels: map[string]string{corev1.LabelHostname: machine.Name}},
			Spec:       corev1.NodeSpec{ProviderID: providerID},
		}
		if controlPlane {
			node.Labels["node-role.kubernetes.io/control-plane"] = ""
		}
		if err := workload.Create(ctx, node); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	node.Status = corev1.NodeStatus{
		// Cluster API's NodeHealthy reads these four.
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()},
		},
		NodeInfo: corev1.NodeSystemInfo{KubeletVersion: machine.Spec.Version},
	}
	return workload.Status().Update(ctx, node)
}
