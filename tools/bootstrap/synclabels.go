package bootstrap

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/config"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

// SyncMachineLabelsFlag is the Cluster API core controller's flag for the
// node labels it copies from Machines to Nodes beyond its default domains.
// clusterctl's core provider components have no variable for it, so the
// pivot sets it on the installed Deployment.
const SyncMachineLabelsFlag = "--additional-sync-machine-labels"

// managerContainer is the controller's container in the core provider's
// Deployment (capi-controller-manager).
const managerContainer = "manager"

// syncMachineLabelsValue is the flag's value for the patterns: joined by
// commas, as the controller's string-slice flag reads it (CSV: a pattern
// holding a comma, such as `x{1,3}`, is quoted so it stays one pattern).
func syncMachineLabelsValue(patterns []string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(patterns) // writes to a buffer cannot fail
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// syncMachineLabelsArgs returns the container args with exactly one
// --additional-sync-machine-labels carrying patterns, where the first
// occurrence was (appended when there was none); every other occurrence,
// as --flag=value or --flag value, is dropped and the other args are kept
// in order. No patterns: the flag is removed. args is not modified.
func syncMachineLabelsArgs(args, patterns []string) []string {
	want := ""
	if len(patterns) > 0 {
		want = SyncMachineLabelsFlag + "=" + syncMachineLabelsValue(patterns)
	}
	out := make([]string, 0, len(args)+1)
	placed := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == SyncMachineLabelsFlag:
			i++ // its value is the next arg
		case strings.HasPrefix(a, SyncMachineLabelsFlag+"="):
		default:
			out = append(out, a)
			continue
		}
		if want != "" && !placed {
			out = append(out, want)
			placed = true
		}
	}
	if want != "" && !placed {
		out = append(out, want)
	}
	return out
}

// coreControllers lists the Deployments of the Cluster API core provider
// that clusterctl installed, found by the labels clusterctl puts on every
// object of a provider's components.
func coreControllers(ctx context.Context, c ctrlclient.Client) ([]appsv1.Deployment, error) {
	var list appsv1.DeploymentList
	label := clusterctlv1.ManifestLabel(config.ClusterAPIProviderName, clusterctlv1.CoreProviderType)
	if err := c.List(ctx, &list, ctrlclient.MatchingLabels{
		clusterctlv1.ClusterctlLabel: "",
		clusterv1.ProviderNameLabel:  label,
	}); err != nil {
		return nil, fmt.Errorf("listing the Deployments of the core provider (label %s=%s): %w", clusterv1.ProviderNameLabel, label, err)
	}
	var out []appsv1.Deployment
	for _, d := range list.Items {
		if slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == managerContainer }) {
			out = append(out, d)
		}
	}
	return out, nil
}

// ensureSyncMachineLabels makes the core controller's manager container
// carry exactly the site's --additional-sync-machine-labels (none when the
// site lists no pattern). A Deployment already in that state is not
// written, so a rerun changes nothing.
func (r *runner) ensureSyncMachineLabels(ctx context.Context, c *cluster) error {
	patterns := r.opts.SyncMachineLabels
	deps, err := coreControllers(ctx, c.client)
	if err != nil {
		return err
	}
	if len(deps) == 0 {
		if len(patterns) == 0 {
			return nil
		}
		return fmt.Errorf("the %s cluster has no Deployment of the Cluster API core provider (labels %s, %s=%s) with a %q container to set %s on",
			c.role, clusterctlv1.ClusterctlLabel, clusterv1.ProviderNameLabel,
			clusterctlv1.ManifestLabel(config.ClusterAPIProviderName, clusterctlv1.CoreProviderType), managerContainer, SyncMachineLabelsFlag)
	}
	for _, d := range deps {
		key := ctrlclient.ObjectKeyFromObject(&d)
		changed := false
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur appsv1.Deployment
			if err := c.client.Get(ctx, key, &cur); err != nil {
				return err
			}
			changed = false
			for i := range cur.Spec.Template.Spec.Containers {
				ct := &cur.Spec.Template.Spec.Containers[i]
				if ct.Name != managerContainer {
					continue
				}
				args := syncMachineLabelsArgs(ct.Args, patterns)
				if !slices.Equal(args, ct.Args) {
					ct.Args = args
					changed = true
				}
			}
			if !changed {
				return nil
			}
			return c.client.Update(ctx, &cur)
		})
		if err != nil {
			return fmt.Errorf("setting %s on Deployment %s on the %s cluster: %w", SyncMachineLabelsFlag, key, c.role, err)
		}
		switch {
		case changed && len(patterns) > 0:
			r.opts.logf("set %s=%s on Deployment %s on the %s cluster", SyncMachineLabelsFlag, syncMachineLabelsValue(patterns), key, c.role)
		case changed:
			r.opts.logf("removed %s from Deployment %s on the %s cluster: the site lists no spec.syncMachineLabels", SyncMachineLabelsFlag, key, c.role)
		case len(patterns) > 0:
			r.opts.logf("Deployment %s on the %s cluster already has %s=%s", key, c.role, SyncMachineLabelsFlag, syncMachineLabelsValue(patterns))
		}
	}
	return nil
}
