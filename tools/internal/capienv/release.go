package capienv

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/kube"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/pipeline"
)

// FieldOwner is the field manager of the release's objects: helm-controller
// applies them server-side.
const FieldOwner = "helm-controller"

// Expand renders the fleet in the folder dir (a repository's root, with
// the chart) and expands the named cluster through the chart, as
// helm-controller would install it, with every namespaced object moved to
// namespace (so that tests sharing one API server do not meet).
func Expand(ctx context.Context, dir, site, cluster, namespace string) ([]*unstructured.Unstructured, error) {
	fsys := os.DirFS(dir)
	res, err := pipeline.Render(ctx, pipeline.Options{FS: fsys, Sites: []string{site}, NoTrees: true})
	if err != nil {
		return nil, err
	}
	rel := res.Release(site, cluster)
	if rel == nil {
		return nil, fmt.Errorf("no cluster %s/%s in %s", site, cluster, dir)
	}
	objs, err := pipeline.Expand(ctx, fs.FS(fsys), res, rel)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetNamespace() != "" {
			o.SetNamespace(namespace)
		}
	}
	return objs, nil
}

// Namespace creates a namespace for one test, with the Secret that points
// the named workload cluster at this API server (see KubeconfigSecret).
func (e *Env) Namespace(tb testing.TB, name, cluster string) {
	tb.Helper()
	ctx := context.Background()
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		tb.Fatal(err)
	}
	if err := e.Client.Create(ctx, e.KubeconfigSecret(name, cluster)); err != nil {
		tb.Fatal(err)
	}
}

// Apply applies objects server-side in Helm's install order, as
// helm-controller installs and upgrades a release.
func (e *Env) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	sorted, err := helmOrder(objs, releaseutil.InstallOrder)
	if err != nil {
		return err
	}
	for _, o := range sorted {
		o = o.DeepCopy()
		o.SetResourceVersion("")
		o.SetManagedFields(nil)
		if err := e.Client.Patch(ctx, o, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil { //nolint:staticcheck // the typed Apply needs generated apply configurations
			return fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// Upgrade moves a release from the objects old to the objects cur as
// helm upgrade does: cur is applied, and what old had and cur has not is
// deleted unless it carries helm.sh/resource-policy: keep.
func (e *Env) Upgrade(ctx context.Context, old, cur []*unstructured.Unstructured) error {
	if err := e.Apply(ctx, cur); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, o := range cur {
		have[key(o)] = true
	}
	var gone []*unstructured.Unstructured
	for _, o := range old {
		if !have[key(o)] {
			gone = append(gone, o)
		}
	}
	_, err := e.Uninstall(ctx, gone)
	return err
}

// Uninstall deletes a release's objects the way helm uninstall does
// (action.Uninstall): in Helm's uninstall order, with background
// propagation, every object except those annotated
// helm.sh/resource-policy: keep, read from the objects themselves. It
// returns the objects kept.
func (e *Env) Uninstall(ctx context.Context, objs []*unstructured.Unstructured) (kept []string, err error) {
	sorted, err := helmOrder(objs, releaseutil.UninstallOrder)
	if err != nil {
		return nil, err
	}
	for _, o := range sorted {
		if o.GetAnnotations()[kube.ResourcePolicyAnno] == kube.KeepPolicy {
			kept = append(kept, o.GetKind()+"/"+o.GetName())
			continue
		}
		del := &unstructured.Unstructured{}
		del.SetGroupVersionKind(o.GroupVersionKind())
		del.SetNamespace(o.GetNamespace())
		del.SetName(o.GetName())
		if err := e.Client.Delete(ctx, del, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return kept, fmt.Errorf("deleting %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return kept, nil
}

// helmOrder sorts objects by Helm's own kind order (releaseutil), which
// keeps the order of objects of one kind as given.
func helmOrder(objs []*unstructured.Unstructured, order releaseutil.KindSortOrder) ([]*unstructured.Unstructured, error) {
	files := map[string]string{}
	byName := map[string]*unstructured.Unstructured{}
	for i, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("templates/%06d.yaml", i)
		files[name] = string(b)
		byName[name] = o
	}
	_, manifests, err := releaseutil.SortManifests(files, nil, order)
	if err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, 0, len(manifests))
	for _, m := range manifests {
		out = append(out, byName[m.Name])
	}
	return out, nil
}

func key(o *unstructured.Unstructured) string {
	return o.GroupVersionKind().GroupKind().String() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// CollectGarbage deletes, in namespace, the objects of the given kinds
// whose owners are all gone, until none is left: the work of the garbage
// collector of kube-controller-manager, which envtest does not run. It
// returns what it deleted.
func (e *Env) CollectGarbage(ctx context.Context, namespace string, kinds ...schema.GroupVersionKind) ([]string, error) {
	var out []string
	for {
		n := 0
		for _, gvk := range kinds {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := e.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
				return out, err
			}
			for i := range list.Items {
				o := &list.Items[i]
				refs := o.GetOwnerReferences()
				if len(refs) == 0 || !o.GetDeletionTimestamp().IsZero() {
					continue
				}
				alive := false
				for _, ref := range refs {
					owner := &metav1.PartialObjectMetadata{}
					owner.SetGroupVersionKind(schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind))
					err := e.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, owner)
					if err == nil && owner.GetUID() == ref.UID {
						alive = true
						break
					}
					if err != nil && !apierrors.IsNotFound(err) {
						return out, err
					}
				}
				if alive {
					continue
				}
				if err := e.Client.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
					return out, err
				}
				out = append(out, o.GetKind()+"/"+o.GetName())
				n++
			}
		}
		if n == 0 {
			return out, nil
		}
	}
}

// Eventually polls cond until it holds or timeout passes; cond says what
// it is waiting for, for the failure message.
func Eventually(ctx context.Context, timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		ok, what, err := cond(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ok {
			return nil
		}
		if what != "" {
			last = what
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s, still waiting: %s", timeout, strings.TrimSpace(last))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
