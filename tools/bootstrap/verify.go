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
	secretutil "sigs.k8s.io/cluster-api/util/secret"
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
	for _, e := range r.essentials(inv) {
		problems = append(problems, "the inventory recorded before the move lacks "+e)
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

	dups, err := duplicateReleases(ctx, tgt.client, r.id.ReleaseName, r.id.StorageNamespace)
	if err != nil {
		return err
	}
	problems = append(problems, dups...)

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
		if st.MovedRevision == 0 {
			if err := r.recordReleaseUIDs(ctx, tgt); err != nil {
				return err
			}
			if st, _, err = loadState(ctx, tgt.client, r.id.Cluster); err != nil {
				return err
			}
			st.Inventory = inv
		}
		rev, err := r.verifyAdoption(ctx, tgt, st)
		if err != nil {
			return fmt.Errorf("%w; the ephemeral cluster is kept", err)
		}
		st.VerifiedRevision = rev
		if err := saveState(ctx, tgt.client, r.id.Cluster, st); err != nil {
			return err
		}
	} else {
		r.opts.logf("helm: adoption was verified at revision %d", st.VerifiedRevision)
		problems, err := changedIdentities(ctx, tgt.client, st.ReleaseUIDs, "after adoption")
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("helm adoption check failed; the ephemeral cluster is kept:\n  %s", strings.Join(problems, "\n  "))
		}
	}

	// Only now does Flux learn about the site: its HelmRelease of this
	// release appears once the root Kustomization is applied, and
	// helm-controller must not upgrade the release while the adoption
	// upgrade above runs.
	if err := r.applyFluxSync(ctx, tgt); err != nil {
		return err
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

// essentials lists what a self-managed cluster cannot do without and the
// inventory (what the ephemeral cluster held before the move) lacks: the
// Cluster, its kubeconfig and CA Secrets (named as Cluster API names them),
// the cloud credentials, and the Helm release's storage Secret. Every
// inventory entry is then checked on both clusters, so each of these must
// be on the management cluster and gone from the ephemeral one.
func (r *runner) essentials(inv []string) []string {
	ns := r.id.TargetNamespace
	secret := func(name string) string { return inventoryEntry(schema.GroupKind{Kind: "Secret"}, ns, name) }
	want := []string{
		inventoryEntry(clusterv1.GroupVersion.WithKind("Cluster").GroupKind(), ns, r.id.Cluster),
		secret(secretutil.Name(r.id.Cluster, secretutil.Kubeconfig)),
		secret(secretutil.Name(r.id.Cluster, secretutil.ClusterCA)),
	}
	if r.opts.CredentialsSecret != "" {
		want = append(want, secret(r.opts.CredentialsSecret))
	}
	have := map[string]bool{}
	storage := false
	prefix := inventoryEntry(schema.GroupKind{Kind: "Secret"}, r.id.StorageNamespace, "sh.helm.release.v1."+r.id.ReleaseName+".v")
	for _, e := range inv {
		have[e] = true
		if strings.HasPrefix(e, prefix) && isDigits(strings.TrimPrefix(e, prefix)) {
			storage = true
		}
	}
	var out []string
	for _, e := range want {
		if !have[e] {
			out = append(out, e)
		}
	}
	if !storage {
		out = append(out, fmt.Sprintf("a storage Secret of the Helm release %s/%s (%s<N>)", r.id.StorageNamespace, r.id.ReleaseName, prefix))
	}
	return out
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

// recordReleaseUIDs records on the target, once, the revision of the
// release the move brought and the UID of every object of its manifest
// there. The move made these objects; adoption must keep them.
func (r *runner) recordReleaseUIDs(ctx context.Context, tgt *cluster) error {
	st, _, err := loadState(ctx, tgt.client, r.id.Cluster)
	if err != nil {
		return err
	}
	if st.MovedRevision != 0 || st.VerifiedRevision != 0 {
		return nil
	}
	ac, err := helmConfig(tgt.config, r.id.StorageNamespace)
	if err != nil {
		return err
	}
	last, err := lastRelease(ac, r.id.ReleaseName)
	if err != nil {
		return err
	}
	if last == nil {
		return fmt.Errorf("helm: release %s/%s is not on the management cluster: its storage secrets did not move", r.id.StorageNamespace, r.id.ReleaseName)
	}
	uids, err := manifestUIDs(ctx, tgt.client, last)
	if err != nil {
		return err
	}
	st.ReleaseUIDs = map[string]types.UID{}
	for k, uid := range uids {
		if uid != "" {
			st.ReleaseUIDs[k] = uid
		}
	}
	st.MovedRevision = last.Version
	if err := saveState(ctx, tgt.client, r.id.Cluster, st); err != nil {
		return err
	}
	r.opts.logf("helm: recorded the identity of %d object(s) of release %s/%s revision %d on %s", len(st.ReleaseUIDs), r.id.StorageNamespace, r.id.ReleaseName, last.Version, r.id.Cluster)
	return nil
}

// changedIdentities compares the release's objects on the target with the
// UIDs recorded after the move.
func changedIdentities(ctx context.Context, c ctrlclient.Client, recorded map[string]types.UID, when string) ([]string, error) {
	keys := make([]string, 0, len(recorded))
	for k := range recorded {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []string
	for _, k := range keys {
		u, err := entryObject(c, k)
		if err != nil {
			return nil, err
		}
		err = c.Get(ctx, ctrlclient.ObjectKeyFromObject(u), u)
		switch {
		case apierrors.IsNotFound(err) || isNoMatch(err):
			problems = append(problems, fmt.Sprintf("%s: %s of the release's manifest is missing on the management cluster (it had uid %s after the move)", when, k, recorded[k]))
		case err != nil:
			return nil, err
		case u.GetUID() != recorded[k]:
			problems = append(problems, fmt.Sprintf("%s: %s is not the object the move brought (uid %s after the move, now %s): it was recreated, not adopted", when, k, recorded[k], u.GetUID()))
		}
	}
	return problems, nil
}

// verifyAdoption upgrades the moved release in place on the target with
// the rendered identity and checks that every object of its manifest is
// still the one the move brought (same UID as recorded after the move),
// before and after the upgrade: the release adopted the moved objects and
// created none a second time. An upgrade an interrupted verify already
// made is not repeated.
func (r *runner) verifyAdoption(ctx context.Context, tgt *cluster, st state) (int, error) {
	if st.MovedRevision == 0 {
		return 0, errors.New("helm: the identity of the release's objects was not recorded after the move")
	}
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
	problems, err := changedIdentities(ctx, tgt.client, st.ReleaseUIDs, "before the upgrade")
	if err != nil {
		return 0, err
	}
	if len(problems) > 0 {
		return 0, fmt.Errorf("helm adoption check failed:\n  %s", strings.Join(problems, "\n  "))
	}
	rel := last
	if last.Version == st.MovedRevision {
		if last.Info == nil || last.Info.Status != releasecommon.StatusDeployed {
			return 0, fmt.Errorf("helm: release %s/%s revision %d is not deployed", r.id.StorageNamespace, r.id.ReleaseName, last.Version)
		}
		if rel, err = upgradeRelease(ctx, ac, r.id.StorageNamespace, r.id.ReleaseName, r.opts.ClusterChart, r.opts.ClusterValues); err != nil {
			return 0, fmt.Errorf("helm: %w", err)
		}
	} else {
		r.opts.logf("helm: release %s/%s is at revision %d, past the moved revision %d: not upgrading again", r.id.StorageNamespace, r.id.ReleaseName, last.Version, st.MovedRevision)
		if last.Info == nil || last.Info.Status != releasecommon.StatusDeployed {
			return 0, fmt.Errorf("helm: release %s/%s revision %d is not deployed", r.id.StorageNamespace, r.id.ReleaseName, last.Version)
		}
	}
	if problems, err = changedIdentities(ctx, tgt.client, st.ReleaseUIDs, "after the upgrade"); err != nil {
		return 0, err
	}
	dups, err := duplicateReleases(ctx, tgt.client, r.id.ReleaseName, r.id.StorageNamespace)
	if err != nil {
		return 0, err
	}
	problems = append(problems, dups...)
	// What the upgrade returned is not the proof: the management cluster
	// must show the new revision.
	observed, seen, err := r.observeAdoption(ctx, tgt, st.MovedRevision)
	if err != nil {
		return 0, err
	}
	problems = append(problems, seen...)
	if len(problems) > 0 {
		return 0, fmt.Errorf("helm adoption check failed:\n  %s", strings.Join(problems, "\n  "))
	}
	r.opts.logf("helm: release %s/%s upgraded in place to revision %d (returned %d) on %s; %d object(s) kept their identity and were applied by it",
		r.id.StorageNamespace, r.id.ReleaseName, observed, rel.Version, r.id.Cluster, len(st.ReleaseUIDs))
	return observed, nil
}

// observeAdoption reads from the management cluster that a revision after
// the moved one was installed there: Helm's storage Secret of the newest
// revision (its labels say deployed and its number), and on every object
// of that revision's manifest a server-side apply recorded in its managed
// fields no earlier than that Secret was made (clusterctl's move creates
// the objects with an update; only Helm's upgrade applies them there). It
// returns the observed revision and what contradicts an adoption.
func (r *runner) observeAdoption(ctx context.Context, tgt *cluster, moved int) (int, []string, error) {
	ac, err := helmConfig(tgt.config, r.id.StorageNamespace)
	if err != nil {
		return 0, nil, err
	}
	last, err := lastRelease(ac, r.id.ReleaseName)
	if err != nil {
		return 0, nil, err
	}
	if last == nil || last.Version <= moved {
		v := 0
		if last != nil {
			v = last.Version
		}
		return 0, []string{fmt.Sprintf("the release %s/%s on the management cluster is at revision %d, the move brought %d: no adoption upgrade was made there", r.id.StorageNamespace, r.id.ReleaseName, v, moved)}, nil
	}
	var problems []string
	var storage corev1.Secret
	key := ctrlclient.ObjectKey{Namespace: r.id.StorageNamespace, Name: fmt.Sprintf("sh.helm.release.v1.%s.v%d", r.id.ReleaseName, last.Version)}
	if err := tgt.client.Get(ctx, key, &storage); err != nil {
		if !apierrors.IsNotFound(err) {
			return 0, nil, err
		}
		return 0, []string{fmt.Sprintf("no storage Secret %s of revision %d on the management cluster", key, last.Version)}, nil
	}
	l := storage.Labels
	if l["owner"] != "helm" || l["name"] != r.id.ReleaseName || l["status"] != string(releasecommon.StatusDeployed) || l["version"] != fmt.Sprint(last.Version) {
		problems = append(problems, fmt.Sprintf("storage Secret %s: labels %v, want owner=helm name=%s status=deployed version=%d", key, l, r.id.ReleaseName, last.Version))
	}
	objs, err := decodeObjects([]byte(last.Manifest))
	if err != nil {
		return 0, nil, fmt.Errorf("release manifest: %w", err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			if m, err := tgt.client.RESTMapper().RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version); err == nil && m.Scope.Name() == "namespace" {
				o.SetNamespace(last.Namespace)
			}
		}
		entry := inventoryEntry(o.GroupVersionKind().GroupKind(), o.GetNamespace(), o.GetName())
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := tgt.client.Get(ctx, ctrlclient.ObjectKeyFromObject(o), got); err != nil {
			if apierrors.IsNotFound(err) || isNoMatch(err) {
				problems = append(problems, fmt.Sprintf("%s of revision %d is missing on the management cluster", entry, last.Version))
				continue
			}
			return 0, nil, err
		}
		// An unchanged server-side apply is not recorded (the object is not
		// written), and clusterctl creates the moved objects with the managed
		// fields they had, so the entry's time cannot show the upgrade; the
		// entry shows that Helm's server-side apply, not an update, owns the
		// object on the management cluster, so that the next upgrade (Flux's)
		// applies over it.
		applied := false
		var managers []string
		for _, mf := range got.GetManagedFields() {
			managers = append(managers, mf.Manager+"/"+string(mf.Operation))
			if mf.Operation == metav1.ManagedFieldsOperationApply {
				applied = true
			}
		}
		if !applied {
			sort.Strings(managers)
			problems = append(problems, fmt.Sprintf("%s of revision %d: no server-side apply in its managed fields on the management cluster (managers %s)", entry, last.Version, strings.Join(managers, ", ")))
		}
	}
	return last.Version, problems, nil
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

// duplicateReleases finds release records of the same name outside the
// storage namespace, by Helm's labels or by the storage object's name
// (sh.helm.release.v1.<name>.v<N>), Secrets and ConfigMaps: there must be
// exactly one release of this name on the cluster, the one Flux adopts.
func duplicateReleases(ctx context.Context, c ctrlclient.Client, name, storageNamespace string) ([]string, error) {
	prefix := "sh.helm.release.v1." + name + ".v"
	var out []string
	for _, kind := range []string{"Secret", "ConfigMap"} {
		var list metav1.PartialObjectMetadataList
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind + "List"))
		if err := c.List(ctx, &list); err != nil {
			return nil, err
		}
		for _, o := range list.Items {
			l := o.GetLabels()
			byLabel := l["owner"] == "helm" && l["name"] == name
			byName := strings.HasPrefix(o.Name, prefix) && isDigits(strings.TrimPrefix(o.Name, prefix))
			if (byLabel || byName) && o.Namespace != storageNamespace {
				out = append(out, fmt.Sprintf("a second release %q has storage %s %s/%s", name, kind, o.Namespace, o.Name))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
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
