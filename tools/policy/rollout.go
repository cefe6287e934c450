package policy

import (
	"context"
	"fmt"

	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	mdadmission "sigs.k8s.io/cluster-api/core/webhooks/admission"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// rolloutRefused asks Cluster API's MachineDeployment webhook whether it
// accepts a rollout strategy, on a MachineDeployment that is otherwise
// valid, and returns its reason when it does not.
func rolloutRefused(ctx context.Context, r resolve.RolloutValues) error {
	md := &clusterv1.MachineDeployment{}
	md.Name = "policy"
	md.Spec.ClusterName = "policy"
	md.Spec.Template.Spec.ClusterName = "policy"
	md.Spec.Template.Spec.Bootstrap.DataSecretName = ptr.To("policy")
	md.Spec.Rollout.Strategy.Type = clusterv1.RollingUpdateMachineDeploymentStrategyType
	md.Spec.Rollout.Strategy.RollingUpdate.MaxSurge = ptr.To(r.MaxSurge)
	md.Spec.Rollout.Strategy.RollingUpdate.MaxUnavailable = ptr.To(r.MaxUnavailable)
	_, err := (&mdadmission.MachineDeployment{}).ValidateCreate(ctx, md)
	return err
}

// lifecycleChecks are the Go layer of the rollout and quota rules: the
// strategy judged by Cluster API's own webhook, and the peak machines
// with the surge as Cluster API's controller resolves it (resolve.Surge
// calls mdutil), each reported where the CUE rule reports it.
func lifecycleChecks(ctx context.Context, fleet *load.Fleet) diag.List {
	var out diag.List
	for _, s := range fleet.Sites {
		site := s.Spec
		var q v1alpha1.Quotas
		if site.Quotas != nil {
			q = *site.Quotas
		}
		if d := site.ClusterDefaults; d != nil && d.Rollout != nil && (d.Rollout.MaxSurge != nil || d.Rollout.MaxUnavailable != nil) {
			if err := rolloutRefused(ctx, resolve.EffectiveRollout(site, v1alpha1.NodeGroup{})); err != nil {
				out.Add(s.Pos.Of("spec.clusterDefaults.rollout"), "policy.rollout-strategy", "Cluster API refuses the site's rollout (%v): allow one machine above a group's size (maxSurge: 1) or one missing (maxUnavailable: 1)", err)
			}
		}
		total, peak := 0, 0
		for _, c := range s.Clusters {
			machines, clusterPeak := resolve.MachineCounts(site, c.Spec)
			total += machines
			peak += clusterPeak
			if q.MachinesPerCluster > 0 && machines <= q.MachinesPerCluster && clusterPeak > q.MachinesPerCluster {
				out.Add(c.Pos.Of("spec"), "policy.quota-cluster", "cluster %s can have %d machines at once while it rolls, more than the %d site %s allows per cluster: give a group rollout: {maxSurge: 0, maxUnavailable: 1} to roll it within its size, or make groups smaller", c.Metadata.Name, clusterPeak, q.MachinesPerCluster, s.Metadata.Name)
			}
			for i, g := range c.Spec.NodeGroups {
				if g.Rollout == nil || (g.Rollout.MaxSurge == nil && g.Rollout.MaxUnavailable == nil) {
					continue
				}
				if err := rolloutRefused(ctx, resolve.EffectiveRollout(site, g)); err != nil {
					out.Add(c.Pos.Of(fmt.Sprintf("spec.nodeGroups[%d].rollout", i)), "policy.rollout-strategy", "Cluster API refuses the rollout of node group %s (%v): allow one machine above its size (maxSurge: 1) or one missing (maxUnavailable: 1)", g.Name, err)
				}
			}
		}
		if q.MachinesPerSite > 0 && total <= q.MachinesPerSite && peak > q.MachinesPerSite {
			out.Add(s.Pos.Of("spec.quotas.machinesPerSite"), "policy.quota-site", "the clusters of site %s can have %d machines at once while they roll, more than its quota of %d: roll groups within their size, make clusters smaller or raise the quota", s.Metadata.Name, peak, q.MachinesPerSite)
		}
	}
	return out
}
