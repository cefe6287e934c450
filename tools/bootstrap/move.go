package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	clusterctl "sigs.k8s.io/cluster-api/cmd/clusterctl/client"
	clusterctlcluster "sigs.k8s.io/cluster-api/cmd/clusterctl/client/cluster"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/config"
	"sigs.k8s.io/cluster-api/util/conditions"
	secretutil "sigs.k8s.io/cluster-api/util/secret"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const (
	// stateNamespace holds the pivot's own record on both clusters.
	stateNamespace = "capiform-system"
	fieldOwner     = "capiform-bootstrap"
	phaseComplete  = "complete"
)

func stateName(clusterName string) string { return "capiform-bootstrap-" + clusterName }

// state is what the pivot records in a ConfigMap: the inventory of objects
// to move (taken from the source before the move), and on the target the
// verified Helm revision and completion.
type state struct {
	Inventory []string `json:"inventory,omitempty"`
	// MovedRevision is the release's revision the move brought, and
	// ReleaseUIDs the UID each object of its manifest had on the target
	// right after the move (recorded once, on the target, before the
	// adoption upgrade): adoption must keep exactly these objects.
	MovedRevision    int                  `json:"movedRevision,omitempty"`
	ReleaseUIDs      map[string]types.UID `json:"releaseUIDs,omitempty"`
	VerifiedRevision int                  `json:"verifiedRevision,omitempty"`
	Phase            string               `json:"phase,omitempty"`
}

func loadState(ctx context.Context, c ctrlclient.Client, clusterName string) (state, bool, error) {
	var cm corev1.ConfigMap
	err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: stateNamespace, Name: stateName(clusterName)}, &cm)
	if apierrors.IsNotFound(err) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("reading the bootstrap state: %w", err)
	}
	var s state
	if err := yaml.Unmarshal([]byte(cm.Data["state"]), &s); err != nil {
		return state{}, false, fmt.Errorf("bootstrap state %s/%s: %w", stateNamespace, cm.Name, err)
	}
	return s, true, nil
}

func saveState(ctx context.Context, c ctrlclient.Client, clusterName string, s state) error {
	sort.Strings(s.Inventory)
	raw, err := yaml.Marshal(s)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: stateNamespace}}
	if err := apply(ctx, c, ns); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: stateNamespace, Name: stateName(clusterName)},
		Data:       map[string]string{"state": string(raw)},
	}
	if err := apply(ctx, c, cm); err != nil {
		return fmt.Errorf("recording the bootstrap state: %w", err)
	}
	return nil
}

// apply is a server-side apply with the pivot's field owner.
func apply(ctx context.Context, c ctrlclient.Client, obj ctrlclient.Object) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		m, err := runtimeToUnstructured(obj)
		if err != nil {
			return err
		}
		u = m
	}
	u.SetManagedFields(nil)
	u.SetResourceVersion("")
	//nolint:staticcheck // client.Apply patches keep unstructured objects simple.
	return c.Patch(ctx, u, ctrlclient.Apply, ctrlclient.FieldOwner(fieldOwner), ctrlclient.ForceOwnership)
}

func (r *runner) alreadyComplete(ctx context.Context) (bool, error) {
	if r.opts.InjectEphemeral == nil && r.opts.EphemeralKubeconfig == "" {
		// A first run must not fail here for want of a container engine;
		// the ephemeral step says so in its own words.
		if _, err := r.kindProvider(); err != nil {
			return false, nil
		}
	}
	// While the ephemeral cluster holds the cluster, the pivot is not done
	// (and the target may not even answer yet).
	if _, onSource, err := r.source(ctx); err != nil || onSource {
		return false, err
	}
	tgt, err := r.reachableTarget(ctx)
	if err != nil || tgt == nil {
		return false, err
	}
	s, ok, err := loadState(ctx, tgt.client, r.id.Cluster)
	if err != nil {
		// A target that is not up yet cannot be complete.
		if isNoMatch(err) {
			return false, nil
		}
		return false, err
	}
	if ok && s.Phase == phaseComplete {
		r.opts.logf("%s is bootstrapped already (verified at Helm revision %d); nothing to do", r.id.Cluster, s.VerifiedRevision)
		return true, r.mark(markerComplete, tgt.config.Host)
	}
	return false, nil
}

// movedType is a kind whose objects clusterctl moves.
type movedType struct {
	gvk        schema.GroupVersionKind
	crd        bool
	namespaced bool
}

// moveTypes returns the kinds clusterctl considers: every CRD labelled
// clusterctl.cluster.x-k8s.io, plus Secrets and ConfigMaps.
func moveTypes(ctx context.Context, c ctrlclient.Client) ([]movedType, error) {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(ctx, &crds, ctrlclient.HasLabels{clusterctlv1.ClusterctlLabel}); err != nil {
		return nil, err
	}
	out := []movedType{
		{gvk: corev1.SchemeGroupVersion.WithKind("ConfigMap"), namespaced: true},
		{gvk: corev1.SchemeGroupVersion.WithKind("Secret"), namespaced: true},
	}
	for _, crd := range crds.Items {
		for _, v := range crd.Spec.Versions {
			if v.Storage {
				out = append(out, movedType{
					gvk:        schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind},
					crd:        true,
					namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].gvk.String() < out[j].gvk.String() })
	return out, nil
}

// inventoryEntry names an object independent of its version and UID.
func inventoryEntry(gk schema.GroupKind, namespace, name string) string {
	return fmt.Sprintf("%s %s/%s", gk.String(), namespace, name)
}

func parseEntry(e string) (schema.GroupKind, string, string, error) {
	gkS, nn, ok := strings.Cut(e, " ")
	ns, name, ok2 := strings.Cut(nn, "/")
	if !ok || !ok2 {
		return schema.GroupKind{}, "", "", fmt.Errorf("bad inventory entry %q", e)
	}
	return schema.ParseGroupKind(gkS), ns, name, nil
}

// inventory lists the objects of a namespace that clusterctl will move:
// objects of the moved kinds that are owned by something, Secrets named
// after a Cluster, and anything labelled clusterctl.cluster.x-k8s.io/move.
// Objects that would not move are returned separately.
func inventory(ctx context.Context, c ctrlclient.Client, namespace string) (moving, staying []string, err error) {
	types, err := moveTypes(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	var clusters clusterv1.ClusterList
	if err := c.List(ctx, &clusters, ctrlclient.InNamespace(namespace)); err != nil {
		return nil, nil, err
	}
	for _, t := range types {
		if !t.namespaced {
			continue
		}
		var list unstructured.UnstructuredList
		list.SetGroupVersionKind(t.gvk.GroupVersion().WithKind(t.gvk.Kind + "List"))
		if err := c.List(ctx, &list, ctrlclient.InNamespace(namespace)); err != nil {
			return nil, nil, fmt.Errorf("listing %s: %w", t.gvk.Kind, err)
		}
		for _, o := range list.Items {
			e := inventoryEntry(t.gvk.GroupKind(), o.GetNamespace(), o.GetName())
			if linked(&o, t, clusters.Items) {
				moving = append(moving, e)
			} else if t.crd || !ignoredUnlinked(&o) {
				staying = append(staying, e)
			}
		}
	}
	sort.Strings(moving)
	sort.Strings(staying)
	return moving, staying, nil
}

func linked(o *unstructured.Unstructured, t movedType, clusters []clusterv1.Cluster) bool {
	if _, ok := o.GetLabels()[clusterctlv1.ClusterctlMoveLabel]; ok {
		return true
	}
	if len(o.GetOwnerReferences()) > 0 {
		return true
	}
	// Clusters and ClusterClasses are the roots of the graph.
	if t.gvk.Group == clusterv1.GroupVersion.Group && (t.gvk.Kind == "Cluster" || t.gvk.Kind == "ClusterClass") {
		return true
	}
	// clusterctl links a Secret without owners to a Cluster only by Cluster
	// API's naming convention, <cluster>-<purpose> with a purpose it knows
	// (kubeconfig, ca, etcd, sa, proxy, apiserver-etcd-client); any other
	// <cluster>-* Secret stays behind.
	if t.gvk.Kind == "Secret" && !t.crd {
		clusterName, _, err := secretutil.ParseSecretName(o.GetName())
		if err != nil {
			return false
		}
		for _, cl := range clusters {
			if cl.Name == clusterName && cl.Namespace == o.GetNamespace() {
				return true
			}
		}
	}
	return false
}

// ignoredUnlinked are objects every namespace has, which nobody expects
// to move.
func ignoredUnlinked(o *unstructured.Unstructured) bool {
	return o.GetKind() == "ConfigMap" && o.GetName() == "kube-root-ca.crt"
}

func stepPreflight(ctx context.Context, r *runner) error {
	if skip, err := r.skipPastMove(ctx); err != nil || skip {
		return err
	}
	src, err := r.ephemeralCluster(ctx, false)
	if err != nil {
		return err
	}
	var problems []string
	ns := r.id.TargetNamespace

	// Provider CRDs without clusterctl's label are invisible to move.
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := src.client.List(ctx, &crds); err != nil {
		return err
	}
	for _, crd := range crds.Items {
		// clusterctl's own inventory CRD is not moved and carries only its
		// core label.
		if strings.HasSuffix(crd.Spec.Group, "cluster.x-k8s.io") && crd.Spec.Group != clusterctlv1.GroupVersion.Group {
			if _, ok := crd.Labels[clusterctlv1.ClusterctlLabel]; !ok {
				problems = append(problems, fmt.Sprintf("CustomResourceDefinition %s lacks the label %s: its objects would not move", crd.Name, clusterctlv1.ClusterctlLabel))
			}
		}
	}

	// Objects nothing links to would stay behind, except those the next
	// step labels.
	willLabel, err := r.objectsToLabel(ctx, src)
	if err != nil {
		return err
	}
	_, staying, err := inventory(ctx, src.client, ns)
	if err != nil {
		return err
	}
	for _, e := range staying {
		if willLabel[e] {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s is linked to no Cluster and has no label %s: it would not move (label it, or delete it if it is not needed)", e, clusterctlv1.ClusterctlMoveLabel))
	}

	tgt, err := r.targetCluster(ctx)
	if err != nil {
		return err
	}

	// Move refuses clusters that are still provisioning.
	var clusters clusterv1.ClusterList
	if err := src.client.List(ctx, &clusters, ctrlclient.InNamespace(ns)); err != nil {
		return err
	}
	for i := range clusters.Items {
		cl := &clusters.Items[i]
		if !ptr.Deref(cl.Status.Initialization.InfrastructureProvisioned, false) {
			problems = append(problems, fmt.Sprintf("Cluster %s/%s is still provisioning its infrastructure", ns, cl.Name))
		}
		if !conditions.IsTrue(cl, clusterv1.ClusterControlPlaneInitializedCondition) || (cl.Spec.ControlPlaneRef.IsDefined() && !ptr.Deref(cl.Status.Initialization.ControlPlaneInitialized, false)) {
			problems = append(problems, fmt.Sprintf("Cluster %s/%s: the control plane is not initialized", ns, cl.Name))
		}
		machines, err := machinesWithoutNode(ctx, src.client, ns, cl.Name)
		if err != nil {
			return err
		}
		problems = append(problems, machines...)
		if cl.Name == r.id.Cluster {
			p, err := r.wrongTarget(ctx, src, tgt, cl)
			if err != nil {
				return err
			}
			problems = append(problems, p...)
		}
	}

	// Both clusters run exactly the site's providers: clusterctl's move
	// needs the source's providers on the target, and the site is the
	// source of truth for their versions.
	for _, c := range []*cluster{src, tgt} {
		missing, err := missingProviders(ctx, c.client, r.where(c), wantedProviders(r.opts.Providers))
		if err != nil {
			problems = append(problems, strings.Split(err.Error(), "\n")...)
		}
		for _, p := range missing {
			problems = append(problems, fmt.Sprintf("provider %s is not installed on %s: run again (the providers steps install it)", p, r.where(c)))
		}
	}

	// A Cluster of the same name on the target that no earlier move of
	// this pivot made: clusterctl would update it in place with the
	// ephemeral cluster's objects and mix two clusters.
	p, err := r.foreignClusterOnTarget(ctx, src, tgt)
	if err != nil {
		return err
	}
	problems = append(problems, p...)

	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) block the move:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	r.opts.logf("preflight passed")
	return nil
}

// wrongTarget lists why the management cluster's kubeconfig does not reach
// the cluster being moved: it reaches the ephemeral cluster itself (the same
// kube-system namespace), or an API server other than the Cluster's control
// plane endpoint (Cluster API writes <cluster>-kubeconfig for that
// endpoint). Moving there would hand the cluster to some other cluster.
func (r *runner) wrongTarget(ctx context.Context, src, tgt *cluster, cl *clusterv1.Cluster) ([]string, error) {
	var problems []string
	fix := fmt.Sprintf("bootstrap reads the management cluster's kubeconfig from the Secret %s/%s, else from --kubeconfig-out %q: "+
		"give the kubeconfig of %s there, then run again", r.id.TargetNamespace, secretutil.Name(r.id.Cluster, secretutil.Kubeconfig), r.opts.TargetKubeconfig, r.id.Cluster)
	srcUID, err := clusterIdentity(ctx, src.client)
	if err != nil {
		return nil, fmt.Errorf("reading the ephemeral cluster's identity: %w", err)
	}
	tgtUID, err := clusterIdentity(ctx, tgt.client)
	if err != nil {
		return nil, fmt.Errorf("reading the management cluster's identity: %w", err)
	}
	if srcUID == tgtUID {
		problems = append(problems, fmt.Sprintf("the management cluster's kubeconfig (server %s) reaches the ephemeral cluster itself (namespace kube-system has the same uid %s on both): %s", tgt.config.Host, srcUID, fix))
	}
	ep := cl.Spec.ControlPlaneEndpoint
	if !ep.IsValid() {
		problems = append(problems, fmt.Sprintf("Cluster %s/%s has no spec.controlPlaneEndpoint yet: wait for Cluster API to record it", cl.Namespace, cl.Name))
		return problems, nil
	}
	u, err := url.Parse(tgt.config.Host)
	if err != nil {
		return nil, fmt.Errorf("the management cluster's kubeconfig: server %q: %w", tgt.config.Host, err)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	if !strings.EqualFold(u.Hostname(), ep.Host) || port != fmt.Sprint(ep.Port) {
		problems = append(problems, fmt.Sprintf("the management cluster's kubeconfig points at %s, but Cluster %s/%s's control plane endpoint is %s: it is the kubeconfig of another cluster; %s", tgt.config.Host, cl.Namespace, cl.Name, ep.String(), fix))
	}
	return problems, nil
}

// clusterIdentity is the UID of a cluster's kube-system namespace: made
// once with the cluster, so two kubeconfigs with the same identity reach
// the same cluster whatever their server addresses.
func clusterIdentity(ctx context.Context, c ctrlclient.Client) (types.UID, error) {
	var ns corev1.Namespace
	if err := c.Get(ctx, ctrlclient.ObjectKey{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return "", err
	}
	return ns.UID, nil
}

// foreignClusterOnTarget refuses a Cluster of the same name already on the
// management cluster before this pivot began moving (no inventory recorded
// on the ephemeral cluster: the move step records it before clusterctl
// runs). After a failed move that left the source unpaused, the Cluster
// there is the earlier move's, and the rerun moves over it.
func (r *runner) foreignClusterOnTarget(ctx context.Context, src, tgt *cluster) ([]string, error) {
	var cl clusterv1.Cluster
	err := tgt.client.Get(ctx, ctrlclient.ObjectKey{Namespace: r.id.TargetNamespace, Name: r.id.Cluster}, &cl)
	if apierrors.IsNotFound(err) || isNoMatch(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, ok, err := loadState(ctx, src.client, r.id.Cluster)
	if err != nil {
		return nil, err
	}
	if ok && len(st.Inventory) > 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("the management cluster already holds a Cluster %s/%s (uid %s, created %s) that no move of this bootstrap made: "+
		"clusterctl would overwrite it with the ephemeral cluster's objects and mix the two. Nothing was paused. "+
		"If it is a copy of this cluster (applied there by hand or by Flux), remove it without Cluster API acting on it "+
		"(set spec.paused: true, clear the finalizers of the objects of namespace %s, then delete them), or the live cluster's machines would be deleted; "+
		"if it is another cluster, this is the wrong management cluster or the wrong cluster name. Then run again",
		cl.Namespace, cl.Name, cl.UID, cl.CreationTimestamp.UTC().Format(time.RFC3339), cl.Namespace)}, nil
}

// objectsToLabel returns the inventory entries of the Helm release
// storage secrets and the cloud credentials secret.
func (r *runner) objectsToLabel(ctx context.Context, src *cluster) (map[string]bool, error) {
	secrets, err := r.secretsToLabel(ctx, src)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, s := range secrets {
		out[inventoryEntry(schema.GroupKind{Kind: "Secret"}, s.Namespace, s.Name)] = true
	}
	return out, nil
}

func (r *runner) secretsToLabel(ctx context.Context, src *cluster) ([]corev1.Secret, error) {
	var list corev1.SecretList
	if err := src.client.List(ctx, &list, ctrlclient.InNamespace(r.id.StorageNamespace),
		ctrlclient.MatchingLabels{"owner": "helm", "name": r.id.ReleaseName}); err != nil {
		return nil, err
	}
	out := list.Items
	if r.opts.CredentialsSecret != "" {
		var s corev1.Secret
		err := src.client.Get(ctx, ctrlclient.ObjectKey{Namespace: r.id.TargetNamespace, Name: r.opts.CredentialsSecret}, &s)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if err == nil {
			out = append(out, s)
		} else {
			r.opts.logf("warning: the cloud credentials secret %s/%s does not exist", r.id.TargetNamespace, r.opts.CredentialsSecret)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func stepLabelForMove(ctx context.Context, r *runner) error {
	if skip, err := r.skipPastMove(ctx); err != nil || skip {
		return err
	}
	src, err := r.ephemeralCluster(ctx, false)
	if err != nil {
		return err
	}
	secrets, err := r.secretsToLabel(ctx, src)
	if err != nil {
		return err
	}
	n := 0
	for i := range secrets {
		s := &secrets[i]
		if _, ok := s.Labels[clusterctlv1.ClusterctlMoveLabel]; ok {
			continue
		}
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:""}}}`, clusterctlv1.ClusterctlMoveLabel))
		if err := src.client.Patch(ctx, s, ctrlclient.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("labelling secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		n++
	}
	r.opts.logf("%d secret(s) labelled for move, %d already were", n, len(secrets)-n)
	return nil
}

func stepMove(ctx context.Context, r *runner) error {
	tgt, err := r.targetCluster(ctx)
	if err != nil {
		return err
	}
	src, onSource, err := r.source(ctx)
	if err != nil {
		return err
	}
	ns := r.id.TargetNamespace
	if !onSource {
		has, err := clusterExists(ctx, tgt.client, ns, r.id.Cluster)
		if err != nil {
			return err
		}
		if !has {
			return fmt.Errorf("Cluster %s/%s is neither on the ephemeral nor on the management cluster", ns, r.id.Cluster)
		}
		r.opts.logf("the cluster has moved already")
		if src != nil {
			// clusterctl deletes the Clusters together with the objects
			// moved by label; a move interrupted there leaves some of them
			// on the source. Finish deleting, once the target has them all.
			st, ok, err := loadState(ctx, src.client, r.id.Cluster)
			if err != nil {
				return err
			}
			if ok && len(st.Inventory) > 0 {
				missing, err := missingOn(ctx, tgt.client, st.Inventory)
				if err != nil {
					return err
				}
				if len(missing) > 0 {
					return fmt.Errorf("the Cluster left the ephemeral cluster but the management cluster lacks what the ephemeral cluster held before the move "+
						"(clusterctl did not move these; copy each from the ephemeral cluster, or a backup, to the management cluster, then run again):\n  %s", strings.Join(missing, "\n  "))
				}
				gone, err := missingOn(ctx, src.client, st.Inventory)
				if err != nil {
					return err
				}
				left := difference(st.Inventory, gone)
				if len(left) > 0 {
					r.opts.logf("finishing an interrupted move: deleting %d object(s) left on the ephemeral cluster", len(left))
					if err := deleteFromSource(ctx, src.client, left); err != nil {
						return err
					}
				}
			}
		}
		// A move interrupted after the source was emptied but before the
		// target was resumed leaves the target paused.
		if err := setPaused(ctx, tgt.client, ns, false, r.opts.logf); err != nil {
			return err
		}
		if err := r.recordReleaseUIDs(ctx, tgt); err != nil {
			return err
		}
		return r.mark(markerMoved, tgt.config.Host)
	}

	// Record what the source holds, before anything moves: every object of
	// the kinds clusterctl moves in the namespace, whether or not clusterctl
	// links it to the Cluster, so that one left behind (a secret nobody
	// labelled) is missing on the target for verify, not only for a test. A
	// rerun adds to the record (union) so that objects a partial move
	// already deleted from the source are still checked.
	moving, staying, err := inventory(ctx, src.client, ns)
	if err != nil {
		return err
	}
	st, _, err := loadState(ctx, src.client, r.id.Cluster)
	if err != nil {
		return err
	}
	st.Inventory = union(st.Inventory, union(moving, staying))
	if err := saveState(ctx, src.client, r.id.Cluster, st); err != nil {
		return err
	}
	r.opts.logf("inventory: %d object(s) to move", len(st.Inventory))

	paused, err := anyPaused(ctx, src.client, ns)
	if err != nil {
		return err
	}
	if paused {
		missing, err := missingOn(ctx, tgt.client, st.Inventory)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			// clusterctl creates everything on the target before it deletes
			// anything: a complete target means the earlier move was
			// interrupted while deleting. Finish what it started.
			r.opts.logf("an earlier move created every object on the target and was interrupted while deleting the source; finishing it")
			if err := deleteFromSource(ctx, src.client, st.Inventory); err != nil {
				return err
			}
			if err := setPaused(ctx, tgt.client, ns, false, r.opts.logf); err != nil {
				return err
			}
			return r.mark(markerMoved, tgt.config.Host)
		}
		if err := deletionBegun(ctx, src.client, missing, st.Inventory); err != nil {
			return err
		}
		r.opts.logf("an earlier move was interrupted before the target was complete (%d object(s) missing there); unpausing the source to move again", len(missing))
		if err := setPaused(ctx, src.client, ns, false, r.opts.logf); err != nil {
			return err
		}
	}

	if err := r.clusterctlMove(ctx, src, tgt, ns); err != nil {
		// Leave the source running when nothing was deleted from it, so
		// that nothing is left unreconciled; a rerun moves again. Use a
		// context that outlives a cancelled run.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		return r.afterFailedMove(uctx, src, tgt, st.Inventory, ns, fmt.Errorf("clusterctl move: %w", err))
	}
	r.opts.logf("moved %s to %s", ns, r.id.Cluster)
	if err := r.recordReleaseUIDs(ctx, tgt); err != nil {
		return err
	}
	return r.mark(markerMoved, tgt.config.Host)
}

// afterFailedMove unpauses the source when the failed move deleted nothing
// from it, then reads both clusters and says where things are and what to
// do. The hint is written from what it reads, not from what it meant to
// do, so that it is right even when the unpause did not happen.
func (r *runner) afterFailedMove(ctx context.Context, src, tgt *cluster, inv []string, ns string, moveErr error) error {
	if _, err := r.unpauseSourceAfterFailure(ctx, src, tgt, inv, ns); err != nil {
		return errors.Join(moveErr, err)
	}
	obs, err := observeMove(ctx, src.client, tgt.client, ns, r.id.Cluster, inv)
	if err != nil {
		return errors.Join(moveErr, fmt.Errorf("reading the clusters after the failed move: %w", err))
	}
	return fmt.Errorf("%w\n%s", moveErr, obs.hint(r.id.Cluster))
}

// Where a Cluster object is and whether it is paused.
const (
	clusterAbsent  = "absent"
	clusterPaused  = "paused"
	clusterRunning = "running"
)

// moveState is what both clusters hold of the pivot's inventory.
type moveState struct {
	Source, Target     string // clusterAbsent, clusterPaused or clusterRunning
	OnSource, OnTarget int    // inventory entries present
	Total              int
}

// observeMove reads where the inventory's objects are and the state of the
// Cluster on each side.
func observeMove(ctx context.Context, src, tgt ctrlclient.Client, ns, name string, inv []string) (moveState, error) {
	var s moveState
	var err error
	if s.Source, err = clusterState(ctx, src, ns, name); err != nil {
		return s, err
	}
	if s.Target, err = clusterState(ctx, tgt, ns, name); err != nil {
		return s, err
	}
	goneSrc, err := missingOn(ctx, src, inv)
	if err != nil {
		return s, err
	}
	goneTgt, err := missingOn(ctx, tgt, inv)
	if err != nil {
		return s, err
	}
	s.Total = len(inv)
	s.OnSource, s.OnTarget = len(inv)-len(goneSrc), len(inv)-len(goneTgt)
	return s, nil
}

func clusterState(ctx context.Context, c ctrlclient.Client, ns, name string) (string, error) {
	var cl clusterv1.Cluster
	err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &cl)
	switch {
	case apierrors.IsNotFound(err) || isNoMatch(err):
		return clusterAbsent, nil
	case err != nil:
		return "", err
	case ptr.Deref(cl.Spec.Paused, false):
		return clusterPaused, nil
	}
	return clusterRunning, nil
}

// hint says what a failed move left and what the operator does next.
func (s moveState) hint(target string) string {
	switch {
	case s.Source == clusterRunning && s.OnTarget < s.Total:
		return fmt.Sprintf("The move failed before anything was deleted from the ephemeral cluster: the source was unpaused and its controllers manage the cluster again; "+
			"%d of %d object(s) had reached %s. Run the same command again to move again (objects already there are updated, not duplicated).", s.OnTarget, s.Total, target)
	case s.Source == clusterPaused && s.OnTarget == s.Total:
		return fmt.Sprintf("Every object is on %s; the Cluster on the ephemeral cluster stays paused with %d object(s) not yet deleted there. "+
			"Run the same command again to finish deleting them and to unpause the Cluster on %s.", target, s.OnSource, target)
	case s.Source == clusterAbsent && s.OnTarget == s.Total && s.Target == clusterPaused:
		return fmt.Sprintf("Every object is on %s (%d left on the ephemeral cluster), but the Cluster on %s is still paused. "+
			"Run the same command again to unpause it.", target, s.OnSource, target)
	case s.Source == clusterAbsent && s.Target == clusterRunning:
		return "The Cluster left the ephemeral cluster and runs on " + target + ". Run the same command again to go on."
	}
	return fmt.Sprintf("The Cluster on the ephemeral cluster is %s and on %s %s; %d of %d object(s) are on %s, %d left on the ephemeral cluster. "+
		"Run the same command again: it decides from this state whether to move again or to finish the move.", s.Source, target, s.Target, s.OnTarget, s.Total, target, s.OnSource)
}

// unpauseSourceAfterFailure unpauses the source only when the move had
// deleted nothing from it yet. Once clusterctl's deletion phase has begun
// the source stays paused: with every object on the target the rerun
// finishes the move; otherwise the error lists what is where.
func (r *runner) unpauseSourceAfterFailure(ctx context.Context, src, tgt *cluster, inv []string, ns string) (bool, error) {
	missing, err := missingOn(ctx, tgt.client, inv)
	if err != nil {
		return false, fmt.Errorf("after the failed move, reading the target: %w", err)
	}
	if len(missing) > 0 {
		if err := deletionBegun(ctx, src.client, missing, inv); err != nil {
			return false, err
		}
	}
	if len(missing) == 0 {
		r.opts.logf("the failed move had created every object on the target; the source stays paused and a rerun finishes the move")
		return false, nil
	}
	has, err := clusterExists(ctx, src.client, ns, r.id.Cluster)
	if err != nil || !has {
		return false, err
	}
	return true, setPaused(ctx, src.client, ns, false, r.opts.logf)
}

// deletionBegun fails, listing what is where, when clusterctl's deletion
// phase has begun on the source (an inventoried object is gone from it, or
// carries clusterctl's delete-for-move annotation) although the target
// lacks objects (missing). Unpausing the source then would restart
// reconciliation of a half-deleted cluster; moving again would not bring
// back what is gone.
func deletionBegun(ctx context.Context, src ctrlclient.Client, missing, inv []string) error {
	gone, err := missingOn(ctx, src, inv)
	if err != nil {
		return fmt.Errorf("reading the ephemeral cluster: %w", err)
	}
	var marked []string
	for _, e := range difference(inv, gone) {
		u, err := entryObject(src, e)
		if err != nil {
			return err
		}
		if err := src.Get(ctx, ctrlclient.ObjectKeyFromObject(u), u); err != nil {
			if apierrors.IsNotFound(err) {
				gone = append(gone, e)
				continue
			}
			return err
		}
		if _, ok := u.GetAnnotations()[clusterctlv1.DeleteForMoveAnnotation]; ok {
			marked = append(marked, e)
		}
	}
	if len(gone) == 0 && len(marked) == 0 {
		return nil
	}
	sort.Strings(gone)
	list := func(title string, es []string) string {
		if len(es) == 0 {
			return ""
		}
		return fmt.Sprintf("\n%s (%d):\n  %s", title, len(es), strings.Join(es, "\n  "))
	}
	return fmt.Errorf("the move had begun deleting objects from the ephemeral cluster although the management cluster lacks some: "+
		"the source is left paused (unpausing it would reconcile a half-deleted cluster) and the move is not retried; "+
		"restore the missing objects on the management cluster (from the ephemeral cluster or a backup), then rerun%s%s%s",
		list("missing on the management cluster", missing),
		list("deleted from the ephemeral cluster", gone),
		list("marked "+clusterctlv1.DeleteForMoveAnnotation+" on the ephemeral cluster", marked))
}

// clusterctlMove runs clusterctl's Move between the two clusters, through
// clients built on the pivot's rest.Configs (and so through any injected
// transport).
func (r *runner) clusterctlMove(ctx context.Context, src, tgt *cluster, ns string) error {
	cfgClient, err := config.New(ctx, r.opts.ClusterctlConfig)
	if err != nil {
		return err
	}
	byPath := map[string]*cluster{src.kubeconfig: src, tgt.kubeconfig: tgt}
	factory := func(in clusterctl.ClusterClientFactoryInput) (clusterctlcluster.Client, error) {
		c, ok := byPath[in.Kubeconfig.Path]
		if !ok {
			return nil, fmt.Errorf("unknown kubeconfig %q", in.Kubeconfig.Path)
		}
		kc := clusterctlcluster.Kubeconfig{Path: in.Kubeconfig.Path, Context: in.Kubeconfig.Context}
		p := &restProxy{Proxy: clusterctlcluster.NewProxy(kc), config: c.config}
		return clusterctlcluster.New(kc, cfgClient, clusterctlcluster.InjectProxy(p)), nil
	}
	client, err := clusterctl.New(ctx, r.opts.ClusterctlConfig, clusterctl.InjectConfig(cfgClient), clusterctl.InjectClusterClientFactory(factory))
	if err != nil {
		return err
	}
	// clusterctl retries each write for about 2.5 minutes; the deadline
	// bounds the whole move, so that an API server that keeps refusing
	// ends it and the failure is handled (and the source unpaused) in a
	// known time.
	mctx, cancel := context.WithTimeout(ctx, r.timeouts.Move)
	defer cancel()
	err = client.Move(mctx, clusterctl.MoveOptions{
		FromKubeconfig: clusterctl.Kubeconfig{Path: src.kubeconfig},
		ToKubeconfig:   clusterctl.Kubeconfig{Path: tgt.kubeconfig},
		Namespace:      ns,
	})
	if err != nil && ctx.Err() == nil && mctx.Err() != nil {
		return fmt.Errorf("not finished within %s (Timeouts.Move): %w", r.timeouts.Move, err)
	}
	return err
}

// restProxy is clusterctl's proxy with the pivot's rest.Config.
type restProxy struct {
	clusterctlcluster.Proxy
	config *rest.Config
}

func (p *restProxy) GetConfig() (*rest.Config, error) {
	c := rest.CopyConfig(p.config)
	c.QPS, c.Burst = 500, 1000
	return c, nil
}

func (p *restProxy) NewClient(ctx context.Context) (ctrlclient.Client, error) {
	c, _ := p.GetConfig()
	return ctrlclient.New(c, ctrlclient.Options{Scheme: scheme})
}

func union(a, b []string) []string {
	set := map[string]bool{}
	for _, s := range a {
		set[s] = true
	}
	for _, s := range b {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func anyPaused(ctx context.Context, c ctrlclient.Client, ns string) (bool, error) {
	var list clusterv1.ClusterList
	if err := c.List(ctx, &list, ctrlclient.InNamespace(ns)); err != nil {
		return false, err
	}
	for _, cl := range list.Items {
		if ptr.Deref(cl.Spec.Paused, false) {
			return true, nil
		}
	}
	return false, nil
}

// setPaused sets or clears spec.paused on every Cluster of a namespace, the
// way clusterctl does (clearing drops the field).
func setPaused(ctx context.Context, c ctrlclient.Client, ns string, paused bool, logf func(string, ...any)) error {
	var list clusterv1.ClusterList
	if err := c.List(ctx, &list, ctrlclient.InNamespace(ns)); err != nil {
		return err
	}
	value := "null"
	if paused {
		value = "true"
	}
	for i := range list.Items {
		cl := &list.Items[i]
		if ptr.Deref(cl.Spec.Paused, false) == paused {
			continue
		}
		patch := ctrlclient.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"paused":%s}}`, value)))
		if err := c.Patch(ctx, cl, patch); err != nil {
			return fmt.Errorf("setting paused=%t on Cluster %s/%s: %w", paused, ns, cl.Name, err)
		}
		logf("Cluster %s/%s paused=%t", ns, cl.Name, paused)
	}
	return nil
}

// missingOn returns the inventory entries that do not exist on a cluster.
func missingOn(ctx context.Context, c ctrlclient.Client, inv []string) ([]string, error) {
	var missing []string
	for _, e := range inv {
		exists, err := entryExists(ctx, c, e)
		if err != nil {
			return nil, err
		}
		if !exists {
			missing = append(missing, e)
		}
	}
	return missing, nil
}

func entryObject(c ctrlclient.Client, e string) (*unstructured.Unstructured, error) {
	gk, ns, name, err := parseEntry(e)
	if err != nil {
		return nil, err
	}
	m, err := c.RESTMapper().RESTMapping(gk)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(m.GroupVersionKind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u, nil
}

func entryExists(ctx context.Context, c ctrlclient.Client, e string) (bool, error) {
	u, err := entryObject(c, e)
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = c.Get(ctx, ctrlclient.ObjectKeyFromObject(u), u)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// deleteFromSource finishes an interrupted move as clusterctl would:
// annotate for move, delete, drop finalizers; Clusters last.
func deleteFromSource(ctx context.Context, c ctrlclient.Client, inv []string) error {
	ordered := append([]string(nil), inv...)
	isCluster := func(e string) bool { return strings.HasPrefix(e, "Cluster.cluster.x-k8s.io ") }
	sort.SliceStable(ordered, func(i, j int) bool { return !isCluster(ordered[i]) && isCluster(ordered[j]) })
	for _, e := range ordered {
		u, err := entryObject(c, e)
		if err != nil {
			return err
		}
		if err := c.Get(ctx, ctrlclient.ObjectKeyFromObject(u), u); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:""}}}`, clusterctlv1.DeleteForMoveAnnotation))
		if err := c.Patch(ctx, u, ctrlclient.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := c.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if len(u.GetFinalizers()) > 0 {
			fin := ctrlclient.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
			if err := c.Patch(ctx, u, fin); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

func isNoMatch(err error) bool {
	return err != nil && (meta.IsNoMatchError(err) || apierrors.IsNotFound(err) && strings.Contains(err.Error(), "the server could not find the requested resource"))
}

func runtimeToUnstructured(obj ctrlclient.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetKind() == "" {
		gvks, _, err := scheme.ObjectKinds(obj)
		if err != nil || len(gvks) == 0 {
			return nil, fmt.Errorf("unknown kind of %T", obj)
		}
		u.SetGroupVersionKind(gvks[0])
	}
	return u, nil
}
