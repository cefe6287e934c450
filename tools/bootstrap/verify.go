package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	releasecommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

func stepVerify(ctx context.Context, r *runner) error {
	tgt, err := r.targetCluster(ctx)
	if err != nil {
		return err
	}
	ns := r.id.TargetNamespace
	var problems []string

	// The inventory recorded before the move, from the ephemeral cluster
	// (or, once recorded there, the target).
	st, _, err := loadState(ctx, tgt.client, r.id.Cluster)
	if err != nil {
		return err
	}
	inv := st.Inventory
	eph, err := r.ephemeralCluster(ctx, false)
	if err != nil {
		return err
	}
	if eph != nil {
		src, ok, err := loadState(ctx, eph.client, r.id.Cluster)
		if err != nil {
			return err
		}
		if ok {
			inv = union(inv, src.Inventory)
		}
	}
	if len(inv) == 0 {
		return errors.New("no inventory of the move was recorded: the move step has not run")
	}
	missing, err := missingOn(ctx, tgt.client, inv)
	if err != nil {
		return err
	}
	for _, e := range missing {
		problems = append(problems, "missing on the management cluster: "+e)
	}
	if eph != nil {
		left, err := missingOn(ctx, eph.client, inv)
		if err != nil {
			return err
		}
		still := difference(inv, left)
		for _, e := range still {
			problems = append(problems, "still on the ephemeral cluster: "+e)
		}
	}

	var clusters clusterv1.ClusterList
	if err := tgt.client.List(ctx, &clusters, ctrlclient.InNamespace(ns)); err != nil {
		return err
	}
	for _, cl := range clusters.Items {
		if ptr.Deref(cl.Spec.Paused, false) {
			problems = append(problems, fmt.Sprintf("Cluster %s/%s is still paused", ns, cl.Name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("verification failed; the ephemeral cluster is kept:\n  %s", strings.Join(problems, "\n  "))
	}
	r.opts.logf("inventory: all %d object(s) are on %s and none is left behind", len(inv), r.id.Cluster)

	st.Inventory = inv
	if st.VerifiedRevision == 0 {
		rev, err := r.verifyAdoption(ctx, tgt)
		if err != nil {
			return fmt.Errorf("%w; the ephemeral cluster is kept", err)
		}
		st.VerifiedRevision = rev
		if err := saveState(ctx, tgt.client, r.id.Cluster, st); err != nil {
			return err
		}
	} else {
		r.opts.logf("helm: adoption was verified at revision %d", st.VerifiedRevision)
	}

	if eph != nil {
		if err := r.removeUnmovedReleaseObjects(ctx, eph, tgt); err != nil {
			return fmt.Errorf("%w; the ephemeral cluster is kept", err)
		}
	}

	if r.opts.SkipFluxReady {
		r.opts.logf("flux: not waiting for the root Kustomization (SkipFluxReady)")
	} else if err := r.waitFluxReady(ctx, tgt); err != nil {
		return fmt.Errorf("%w; the ephemeral cluster is kept", err)
	}

	st.Phase = phaseComplete
	if err := saveState(ctx, tgt.client, r.id.Cluster, st); err != nil {
		return err
	}
	return r.mark(markerComplete, tgt.config.Host)
}

func difference(a, b []string) []string {
	drop := map[string]bool{}
	for _, s := range b {
		drop[s] = true
	}
	var out []string
	for _, s := range a {
		if !drop[s] {
			out = append(out, s)
		}
	}
	return out
}

// verifyAdoption upgrades the moved release in place on the target with
// the rendered identity and checks that it became the next revision and
// changed no object's identity: the objects the move brought are adopted,
// not created a second time.
func (r *runner) verifyAdoption(ctx context.Context, tgt *cluster) (int, error) {
	ac, err := helmConfig(tgt.config, r.id.StorageNamespace)
	if err != nil {
		return 0, err
	}
	last, err := lastRelease(ac, r.id.ReleaseName)
	if err != nil {
		return 0, err
	}
	if last == nil {
		return 0, fmt.Errorf("helm: release %s/%s is not on the management cluster: its storage secrets did not move", r.id.StorageNamespace, r.id.ReleaseName)
	}
	if last.Info == nil || last.Info.Status != releasecommon.StatusDeployed {
		return 0, fmt.Errorf("helm: release %s/%s revision %d is not deployed", r.id.StorageNamespace, r.id.ReleaseName, last.Version)
	}
	before, err := manifestUIDs(ctx, tgt.client, last)
	if err != nil {
		return 0, err
	}
	rel, err := upgradeRelease(ctx, ac, r.id.StorageNamespace, r.id.ReleaseName, r.opts.ClusterChart, r.opts.ClusterValues)
	if err != nil {
		return 0, fmt.Errorf("helm: %w", err)
	}
	var problems []string
	if rel.Version != last.Version+1 {
		problems = append(problems, fmt.Sprintf("the upgrade made revision %d, want %d", rel.Version, last.Version+1))
	}
	after, err := manifestUIDs(ctx, tgt.client, rel)
	if err != nil {
		return 0, err
	}
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if before[k] != "" && after[k] != before[k] {
			problems = append(problems, fmt.Sprintf("%s was replaced by the upgrade (uid %s -> %s)", k, before[k], after[k]))
		}
	}
	dups, err := duplicateReleases(ctx, tgt.client, r.id.ReleaseName, r.id.StorageNamespace)
	if err != nil {
		return 0, err
	}
	problems = append(problems, dups...)
	if len(problems) > 0 {
		return 0, fmt.Errorf("helm adoption check failed:\n  %s", strings.Join(problems, "\n  "))
	}
	r.opts.logf("helm: release %s/%s upgraded in place to revision %d; %d object(s) kept their identity", r.id.StorageNamespace, r.id.ReleaseName, rel.Version, len(before))
	return rel.Version, nil
}

// manifestUIDs maps each object of a release's manifest to its UID on the
// cluster ("" when it does not exist).
func manifestUIDs(ctx context.Context, c ctrlclient.Client, rel *releasev1.Release) (map[string]types.UID, error) {
	objs, err := decodeObjects([]byte(rel.Manifest))
	if err != nil {
		return nil, fmt.Errorf("release manifest: %w", err)
	}
	out := map[string]types.UID{}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			if m, err := c.RESTMapper().RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version); err == nil && m.Scope.Name() == "namespace" {
				o.SetNamespace(rel.Namespace)
			}
		}
		key := inventoryEntry(o.GroupVersionKind().GroupKind(), o.GetNamespace(), o.GetName())
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		err := c.Get(ctx, ctrlclient.ObjectKeyFromObject(o), got)
		switch {
		case apierrors.IsNotFound(err) || isNoMatch(err):
			out[key] = ""
		case err != nil:
			return nil, err
		default:
			out[key] = got.GetUID()
		}
	}
	return out, nil
}

// duplicateReleases finds release storage of the same name outside the
// storage namespace: a second release Flux or bootstrap would have made.
func duplicateReleases(ctx context.Context, c ctrlclient.Client, name, storageNamespace string) ([]string, error) {
	var list corev1.SecretList
	if err := c.List(ctx, &list, ctrlclient.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range list.Items {
		if s.Namespace != storageNamespace {
			out = append(out, fmt.Sprintf("a second release %q has storage %s/%s", name, s.Namespace, s.Name))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (r *runner) waitFluxReady(ctx context.Context, tgt *cluster) error {
	root, err := rootKustomization(r.opts.Flux.SyncManifests)
	if err != nil {
		return err
	}
	_, err = waitFor(ctx, r, r.timeouts.Flux, "Flux's root Kustomization "+root.String(), func(ctx context.Context) ([]string, error) {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
		u.SetKind("Kustomization")
		if err := tgt.client.Get(ctx, root, u); err != nil {
			if apierrors.IsNotFound(err) || isNoMatch(err) {
				return []string{"it does not exist"}, nil
			}
			return nil, err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Ready" {
				if m["status"] == "True" {
					return nil, nil
				}
				return []string{fmt.Sprintf("Ready is %v: %v", m["status"], m["message"])}, nil
			}
		}
		return []string{"no Ready condition yet"}, nil
	})
	return err
}

// rootKustomization finds the Flux Kustomization among the site's
// flux-system objects.
func rootKustomization(sync []byte) (types.NamespacedName, error) {
	objs, err := decodeObjects(sync)
	if err != nil {
		return types.NamespacedName{}, err
	}
	for _, o := range objs {
		if o.GetKind() == "Kustomization" && strings.HasPrefix(o.GetAPIVersion(), "kustomize.toolkit.fluxcd.io/") {
			ns := o.GetNamespace()
			if ns == "" {
				ns = fluxNamespace
			}
			return types.NamespacedName{Namespace: ns, Name: o.GetName()}, nil
		}
	}
	return types.NamespacedName{}, errors.New("the site's flux-system objects hold no Flux Kustomization")
}

// removeUnmovedReleaseObjects deals with the objects of the cluster's
// release that clusterctl does not move: kinds that are neither Secrets,
// ConfigMaps nor CRDs labelled for clusterctl (the chart's cluster
// autoscaler: ServiceAccount, Role, RoleBinding, Deployment). The adoption
// upgrade on the target created them there; they must exist on the target,
// and their copies on the ephemeral cluster (Helm's annotations naming this
// release) are deleted, so that no autoscaler keeps running against the
// ephemeral cluster. It reads everything it needs, so reruns repeat it.
func (r *runner) removeUnmovedReleaseObjects(ctx context.Context, eph, tgt *cluster) error {
	ac, err := helmConfig(tgt.config, r.id.StorageNamespace)
	if err != nil {
		return err
	}
	last, err := lastRelease(ac, r.id.ReleaseName)
	if err != nil || last == nil {
		return err
	}
	types, err := moveTypes(ctx, eph.client)
	if err != nil {
		return err
	}
	moved := map[schema.GroupKind]bool{}
	for _, t := range types {
		moved[t.gvk.GroupKind()] = true
	}
	objs, err := decodeObjects([]byte(last.Manifest))
	if err != nil {
		return fmt.Errorf("release manifest: %w", err)
	}
	var problems []string
	n := 0
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if moved[gvk.GroupKind()] {
			continue
		}
		if o.GetNamespace() == "" {
			o.SetNamespace(last.Namespace)
		}
		entry := inventoryEntry(gvk.GroupKind(), o.GetNamespace(), o.GetName())
		onTarget := &unstructured.Unstructured{}
		onTarget.SetGroupVersionKind(gvk)
		if err := tgt.client.Get(ctx, ctrlclient.ObjectKeyFromObject(o), onTarget); err != nil {
			if !apierrors.IsNotFound(err) {
				return err
			}
			problems = append(problems, "missing on the management cluster (not moved, not made by the upgrade): "+entry)
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		err := eph.client.Get(ctx, ctrlclient.ObjectKeyFromObject(o), u)
		if apierrors.IsNotFound(err) || isNoMatch(err) {
			continue
		}
		if err != nil {
			return err
		}
		a := u.GetAnnotations()
		if a["meta.helm.sh/release-name"] != r.id.ReleaseName || a["meta.helm.sh/release-namespace"] != r.id.StorageNamespace {
			continue
		}
		if err := eph.client.Delete(ctx, u, ctrlclient.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s from the ephemeral cluster: %w", entry, err)
		}
		n++
	}
	if len(problems) > 0 {
		return fmt.Errorf("verification failed:\n  %s", strings.Join(problems, "\n  "))
	}
	if n > 0 {
		r.opts.logf("deleted %d object(s) of the release that clusterctl does not move from the ephemeral cluster; the upgrade made them on %s", n, r.id.Cluster)
	}
	return nil
}
