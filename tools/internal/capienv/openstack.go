package capienv

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
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
//   - an OpenStackCluster gets a finalizer, a control plane endpoint (this
//     API server's address, where the real one is the API load balancer)
//     and status.ready; deleted, it drops the finalizer (network and load
//     balancer "deleted");
//   - an OpenStackMachine, once its Machine has bootstrap data (CAPO boots
//     the server with it), gets a finalizer, spec.providerID and
//     status.ready; deleted, it drops the finalizer (server "deleted").
//
// It does not validate the spec (the real CRD's schema does that on
// write) and makes no Nodes.
type openStack struct {
	client client.Client
	gvk    schema.GroupVersionKind
	host   string
	port   int64
}

func setupOpenStack(mgr ctrl.Manager, cfg *rest.Config) error {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return err
	}
	port, err := strconv.ParseInt(u.Port(), 10, 32)
	if err != nil {
		return fmt.Errorf("API server address %s: %w", cfg.Host, err)
	}
	for _, gvk := range []schema.GroupVersionKind{OpenStackClusterGVK, OpenStackMachineGVK} {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		r := &openStack{client: mgr.GetClient(), gvk: gvk, host: u.Hostname(), port: port}
		if err := ctrl.NewControllerManagedBy(mgr).For(obj).Named("openstack-standin-" + gvk.Kind).Complete(r); err != nil {
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
	if !obj.GetDeletionTimestamp().IsZero() {
		if controllerutil.RemoveFinalizer(obj, finalizer) {
			return reconcile.Result{}, client.IgnoreNotFound(r.client.Update(ctx, obj))
		}
		return reconcile.Result{}, nil
	}
	if r.gvk == OpenStackMachineGVK {
		// CAPO waits for the Machine's bootstrap data before it creates
		// the server.
		ready, err := r.bootstrapReady(ctx, obj)
		if err != nil {
			return reconcile.Result{}, err
		}
		if !ready {
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
	}
	if controllerutil.AddFinalizer(obj, finalizer) {
		if err := r.client.Update(ctx, obj); err != nil {
			return reconcile.Result{}, err
		}
	}
	patch := client.MergeFrom(obj.DeepCopy())
	if r.gvk == OpenStackClusterGVK {
		if _, ok, _ := unstructured.NestedMap(obj.Object, "spec", "controlPlaneEndpoint"); !ok {
			_ = unstructured.SetNestedMap(obj.Object, map[string]any{"host": r.host, "port": r.port}, "spec", "controlPlaneEndpoint")
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
	if ready, _, _ := unstructured.NestedBool(obj.Object, "status", "ready"); ready {
		return reconcile.Result{}, nil
	}
	patch = client.MergeFrom(obj.DeepCopy())
	_ = unstructured.SetNestedField(obj.Object, true, "status", "ready")
	return reconcile.Result{}, r.client.Status().Patch(ctx, obj, patch)
}

func (r *openStack) bootstrapReady(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind != "Machine" {
			continue
		}
		m := &clusterv1.Machine{}
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: ref.Name}, m); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		return m.Spec.Bootstrap.DataSecretName != nil, nil
	}
	return false, nil
}
