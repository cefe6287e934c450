package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

func stepEphemeral(ctx context.Context, r *runner) error {
	eph, err := r.ephemeralCluster(ctx, false)
	if err != nil {
		return err
	}
	if eph == nil {
		if moved, err := r.movedWithoutEphemeral(ctx); err != nil {
			return err
		} else if moved {
			r.opts.logf("the kind cluster is gone and the cluster already lives on %s: nothing to create", r.id.Cluster)
			return nil
		}
		if err := r.refuseSecondPivot("create the kind cluster " + r.opts.ephemeralName()); err != nil {
			return err
		}
		if eph, err = r.ephemeralCluster(ctx, true); err != nil {
			return err
		}
	}
	if _, err := waitFor(ctx, r, r.timeouts.Providers, "the ephemeral cluster's API server", func(ctx context.Context) ([]string, error) {
		var ns clusterv1.ClusterList
		if err := eph.client.List(ctx, &ns, ctrlclient.Limit(1)); err != nil && !isNoMatch(err) {
			return []string{err.Error()}, nil
		}
		return nil, nil
	}); err != nil {
		return err
	}
	r.opts.logf("ephemeral cluster at %s", eph.config.Host)
	return r.mark(markerStarted, "")
}

// movedWithoutEphemeral reports whether the ephemeral cluster is gone
// because an earlier run moved the cluster already.
func (r *runner) movedWithoutEphemeral(ctx context.Context) (bool, error) {
	if r.opts.InjectTarget == nil && r.opts.TargetKubeconfig == "" {
		return false, nil
	}
	tgt, err := r.reachableTarget(ctx)
	if err != nil || tgt == nil {
		return false, err
	}
	return clusterExists(ctx, tgt.client, r.id.TargetNamespace, r.id.Cluster)
}

// reachableTarget is the new management cluster, or nil when there is none
// yet (Cluster API has not made its kubeconfig).
func (r *runner) reachableTarget(ctx context.Context) (*cluster, error) {
	tgt, err := r.targetCluster(ctx)
	if errors.Is(err, errNoTarget) {
		return nil, nil
	}
	return tgt, err
}

// source is the ephemeral cluster when it still holds the Cluster object.
func (r *runner) source(ctx context.Context) (*cluster, bool, error) {
	eph, err := r.ephemeralCluster(ctx, false)
	if err != nil || eph == nil {
		return eph, false, err
	}
	has, err := clusterExists(ctx, eph.client, r.id.TargetNamespace, r.id.Cluster)
	return eph, has, err
}

// moved reports whether the cluster already lives on the target.
func (r *runner) moved(ctx context.Context) (bool, error) {
	_, onSource, err := r.source(ctx)
	if err != nil || onSource {
		return false, err
	}
	tgt, err := r.reachableTarget(ctx)
	if err != nil || tgt == nil {
		return false, err
	}
	return clusterExists(ctx, tgt.client, r.id.TargetNamespace, r.id.Cluster)
}

// holder is the cluster that holds the Cluster API objects now.
func (r *runner) holder(ctx context.Context) (*cluster, error) {
	eph, onSource, err := r.source(ctx)
	if err != nil {
		return nil, err
	}
	if onSource {
		return eph, nil
	}
	tgt, err := r.targetCluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("Cluster %s/%s is on no cluster: %w", r.id.TargetNamespace, r.id.Cluster, err)
	}
	has, err := clusterExists(ctx, tgt.client, r.id.TargetNamespace, r.id.Cluster)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, fmt.Errorf("Cluster %s/%s is neither on the ephemeral nor on the management cluster", r.id.TargetNamespace, r.id.Cluster)
	}
	return tgt, nil
}

func (r *runner) providerInstaller() (ProviderInstaller, error) {
	if r.opts.InjectProviderInstaller != nil {
		return r.opts.InjectProviderInstaller, nil
	}
	dir, err := r.tempDir()
	if err != nil {
		return nil, err
	}
	return ClusterctlInstaller{
		ConfigFile: r.opts.ClusterctlConfig,
		Repository: r.opts.ProviderRepository,
		Timeout:    r.timeouts.Providers,
		TempDir:    dir,
	}, nil
}

func (r *runner) ensureProviders(ctx context.Context, c *cluster) error {
	missing, err := missingProviders(ctx, c.client, r.where(c), wantedProviders(r.opts.Providers))
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		r.opts.logf("providers already installed on the %s cluster", c.role)
		return nil
	}
	names := make([]string, len(missing))
	for i, p := range missing {
		names[i] = p.String()
	}
	r.opts.logf("installing %s on the %s cluster", strings.Join(names, ", "), c.role)
	inst, err := r.providerInstaller()
	if err != nil {
		return err
	}
	return inst.Init(ctx, c.kubeconfig, missing)
}

// where names a cluster in messages.
func (r *runner) where(c *cluster) string {
	if c.role == RoleTarget {
		return "the management cluster " + r.id.Cluster
	}
	return "the ephemeral cluster"
}

func stepProvidersEphemeral(ctx context.Context, r *runner) error {
	if skip, err := r.skipPastMove(ctx); err != nil || skip {
		return err
	}
	eph, err := r.ephemeralCluster(ctx, false)
	if err != nil {
		return err
	}
	if err := r.ensureProviders(ctx, eph); err != nil {
		return err
	}
	return r.ensureSyncMachineLabels(ctx, eph)
}

func stepClusterChart(ctx context.Context, r *runner) error {
	if skip, err := r.skipPastMove(ctx); err != nil || skip {
		return err
	}
	if err := r.refuseSecondPivot("install the cluster chart"); err != nil {
		return err
	}
	eph, err := r.ephemeralCluster(ctx, false)
	if err != nil {
		return err
	}
	_, _, err = ensureRelease(ctx, eph.config, r.id.StorageNamespace, r.id.ReleaseName, r.opts.ClusterChart, r.opts.ClusterValues, r.opts.Log)
	return err
}

func stepBasePlatform(ctx context.Context, r *runner) error {
	// The move only happens after this step and wait-ready passed; after it
	// the target's controllers rebuild the status that the waits read.
	if skip, err := r.skipPastMove(ctx); err != nil || skip {
		return err
	}
	// The kubeconfig secret exists once the first control plane node runs;
	// the base platform cannot be installed before.
	if _, err := waitFor(ctx, r, r.timeouts.ControlPlaneInitialized, "the control plane to be initialized", func(ctx context.Context) ([]string, error) {
		h, err := r.holder(ctx)
		if err != nil {
			return nil, err
		}
		var missing []string
		var cl clusterv1.Cluster
		if err := h.client.Get(ctx, ctrlclient.ObjectKey{Namespace: r.id.TargetNamespace, Name: r.id.Cluster}, &cl); err != nil {
			return nil, err
		}
		if !conditions.IsTrue(&cl, clusterv1.ClusterControlPlaneInitializedCondition) {
			missing = append(missing, fmt.Sprintf("Cluster %s: condition %s is not True%s", cl.Name, clusterv1.ClusterControlPlaneInitializedCondition, conditionMessage(&cl, clusterv1.ClusterControlPlaneInitializedCondition)))
		}
		if _, err := kubeconfigSecret(ctx, h.client, r.id.Cluster); err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, err
			}
			missing = append(missing, fmt.Sprintf("Secret %s/%s-kubeconfig does not exist yet", r.id.TargetNamespace, r.id.Cluster))
		}
		return missing, nil
	}); err != nil {
		return err
	}
	tgt, err := r.targetCluster(ctx)
	if err != nil {
		return err
	}
	// Nothing is installed through a kubeconfig of another cluster.
	holder, err := r.holder(ctx)
	if err != nil {
		return err
	}
	var cl clusterv1.Cluster
	if err := holder.client.Get(ctx, ctrlclient.ObjectKey{Namespace: r.id.TargetNamespace, Name: r.id.Cluster}, &cl); err != nil {
		return err
	}
	if problems, err := r.wrongTarget(ctx, holder, tgt, &cl); err != nil {
		return err
	} else if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) with the management cluster's kubeconfig; nothing was installed or paused:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	if len(r.opts.BasePlatform) == 0 {
		r.opts.logf("no base platform releases given")
		return nil
	}
	inst := r.opts.InjectWorkloadInstaller
	if inst == nil {
		inst = helmInstaller{log: r.opts.Log}
	}
	for _, a := range r.opts.BasePlatform {
		a, err := withSecretValues(ctx, holder.client, r.id.TargetNamespace, a)
		if err != nil {
			return fmt.Errorf("base platform %s/%s: %w", a.Namespace, a.ReleaseName, err)
		}
		if err := inst.EnsureRelease(ctx, tgt.config, a); err != nil {
			return fmt.Errorf("base platform %s/%s: %w", a.Namespace, a.ReleaseName, err)
		}
	}
	return nil
}

func stepWaitReady(ctx context.Context, r *runner) error {
	if skip, err := r.skipPastMove(ctx); err != nil || skip {
		return err
	}
	_, err := waitFor(ctx, r, r.timeouts.Ready, "the cluster to be ready", func(ctx context.Context) ([]string, error) {
		h, err := r.holder(ctx)
		if err != nil {
			return nil, err
		}
		missing, err := readiness(ctx, h.client, r.id.TargetNamespace, r.id.Cluster)
		if r.opts.SkipControlPlaneAvailable {
			missing = slices.DeleteFunc(missing, func(m string) bool {
				return strings.Contains(m, "condition "+clusterv1.ClusterControlPlaneAvailableCondition+" ")
			})
		}
		return missing, err
	})
	return err
}

// readiness lists what keeps a cluster from being ready: the control
// plane not available, MachineDeployments not available or short of
// ready replicas, Machines without a node.
func readiness(ctx context.Context, c ctrlclient.Client, namespace, name string) ([]string, error) {
	var cl clusterv1.Cluster
	if err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: namespace, Name: name}, &cl); err != nil {
		return nil, err
	}
	var missing []string
	if !ptr.Deref(cl.Status.Initialization.InfrastructureProvisioned, false) {
		missing = append(missing, fmt.Sprintf("Cluster %s: infrastructure is not provisioned", name))
	}
	if !conditions.IsTrue(&cl, clusterv1.ClusterControlPlaneAvailableCondition) {
		missing = append(missing, fmt.Sprintf("Cluster %s: condition %s is not True%s", name, clusterv1.ClusterControlPlaneAvailableCondition, conditionMessage(&cl, clusterv1.ClusterControlPlaneAvailableCondition)))
	}
	var mds clusterv1.MachineDeploymentList
	if err := c.List(ctx, &mds, ctrlclient.InNamespace(namespace), ctrlclient.MatchingLabels{clusterv1.ClusterNameLabel: name}); err != nil {
		return nil, err
	}
	for i := range mds.Items {
		md := &mds.Items[i]
		if !conditions.IsTrue(md, clusterv1.MachineDeploymentAvailableCondition) {
			missing = append(missing, fmt.Sprintf("MachineDeployment %s: condition Available is not True%s", md.Name, conditionMessage(md, clusterv1.MachineDeploymentAvailableCondition)))
		}
		if want := md.Spec.Replicas; want != nil && ptr.Deref(md.Status.ReadyReplicas, 0) < *want {
			missing = append(missing, fmt.Sprintf("MachineDeployment %s: %d of %d replicas ready", md.Name, ptr.Deref(md.Status.ReadyReplicas, 0), *want))
		}
	}
	machines, err := machinesWithoutNode(ctx, c, namespace, name)
	if err != nil {
		return nil, err
	}
	missing = append(missing, machines...)
	return missing, nil
}

func machinesWithoutNode(ctx context.Context, c ctrlclient.Client, namespace, name string) ([]string, error) {
	var ms clusterv1.MachineList
	if err := c.List(ctx, &ms, ctrlclient.InNamespace(namespace), ctrlclient.MatchingLabels{clusterv1.ClusterNameLabel: name}); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms.Items {
		if !m.Status.NodeRef.IsDefined() {
			out = append(out, fmt.Sprintf("Machine %s: no node yet", m.Name))
		}
	}
	sort.Strings(out)
	return out, nil
}

func conditionMessage(obj conditions.Getter, t string) string {
	c := conditions.Get(obj, t)
	if c == nil {
		return " (not reported yet)"
	}
	if c.Message != "" {
		return fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
	}
	return fmt.Sprintf(" (%s)", c.Reason)
}

func stepProvidersTarget(ctx context.Context, r *runner) error {
	tgt, err := r.targetCluster(ctx)
	if err != nil {
		return err
	}
	if err := r.ensureProviders(ctx, tgt); err != nil {
		return err
	}
	return r.ensureSyncMachineLabels(ctx, tgt)
}

// waitFor polls check until it reports nothing missing, logging what is
// missing whenever that changes; on timeout the error lists it.
func waitFor(ctx context.Context, r *runner, timeout time.Duration, what string, check func(context.Context) ([]string, error)) ([]string, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		missing, err := check(ctx)
		if err != nil {
			return nil, err
		}
		if len(missing) == 0 {
			return nil, nil
		}
		if s := strings.Join(missing, "; "); s != last {
			r.opts.logf("waiting for %s: %s", what, s)
			last = s
		}
		if time.Now().After(deadline) {
			return missing, fmt.Errorf("timed out after %s waiting for %s; missing:\n  %s", timeout, what, strings.Join(missing, "\n  "))
		}
		select {
		case <-ctx.Done():
			return missing, ctx.Err()
		case <-time.After(r.timeouts.Poll):
		}
	}
}

func clusterExists(ctx context.Context, c ctrlclient.Client, namespace, name string) (bool, error) {
	var cl clusterv1.Cluster
	err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: namespace, Name: name}, &cl)
	if apierrors.IsNotFound(err) || isNoMatch(err) {
		return false, nil
	}
	return err == nil, err
}

func stepCleanup(ctx context.Context, r *runner) error {
	if r.opts.InjectEphemeral != nil || r.opts.EphemeralKubeconfig != "" {
		r.opts.logf("the ephemeral cluster was given, so it is kept")
		return nil
	}
	if r.opts.KeepEphemeral {
		r.opts.logf("keeping the kind cluster %s as asked", r.opts.ephemeralName())
		return nil
	}
	kind, err := r.kindProvider()
	if err != nil {
		return err
	}
	exists, err := kindExists(kind, r.opts.ephemeralName())
	if err != nil || !exists {
		return err
	}
	r.opts.logf("deleting the kind cluster %s", r.opts.ephemeralName())
	return kind.Delete(r.opts.ephemeralName())
}

// skipPastMove reports, and logs, whether the move has happened or has
// begun (the source's Cluster is paused with an inventory recorded): then
// the steps before the move must not touch the source, whose objects may
// be half deleted; the move step resumes.
func (r *runner) skipPastMove(ctx context.Context) (bool, error) {
	moved, err := r.moved(ctx)
	if err != nil {
		return false, err
	}
	if moved {
		r.opts.logf("skipped: the cluster has moved already")
		return true, nil
	}
	eph, onSource, err := r.source(ctx)
	if err != nil || !onSource {
		return false, err
	}
	paused, err := anyPaused(ctx, eph.client, r.id.TargetNamespace)
	if err != nil || !paused {
		return false, err
	}
	st, ok, err := loadState(ctx, eph.client, r.id.Cluster)
	if err != nil {
		return false, err
	}
	if ok && len(st.Inventory) > 0 {
		r.opts.logf("skipped: an earlier move was interrupted; the move step resumes it")
		return true, nil
	}
	return false, nil
}
