package expand_test

import (
	"context"
	"testing"

	"github.com/capiform/capiform/tools/expand"
)

// teardown says, for each kind the chart renders, who deletes it when the
// release is uninstalled, and whether it is kept (helm.sh/resource-policy:
// keep). Helm deletes what is not kept, all at once; it must not delete
// what the Cluster deletes after the workers (its controlPlaneRef and its
// infrastructureRef), or the control plane and the network go from under
// running machines. Keep is honoured by upgrades too: what an upgrade must
// be able to drop (a node group's MachineDeployment and health check) is
// not kept. Read in cluster-api v1.14: core/reconcilers/cluster
// (reconcileDelete), machinedeployment and machineset
// (getTemplatesAndSetOwner, reconcileExternalTemplateReference) and
// controlplane/kubeadm (reconcileExternalReference); in Helm v4:
// pkg/kube/client.go (Update skips deleting a dropped object kept).
var teardown = map[string]struct {
	keep bool
	who  string
}{
	"cluster.x-k8s.io/Cluster":              {false, "Helm: deleting it starts Cluster API's teardown"},
	"/ServiceAccount":                       {false, "Helm: the autoscaler, which Cluster API does not own"},
	"rbac.authorization.k8s.io/Role":        {false, "Helm: the autoscaler's"},
	"rbac.authorization.k8s.io/RoleBinding": {false, "Helm: the autoscaler's"},
	"apps/Deployment":                       {false, "Helm: the autoscaler, gone before it could scale what is being deleted"},
	"cluster.x-k8s.io/MachineDeployment":    {false, "Helm, with the Cluster: the workers are what the Cluster deletes first, and it waits for them before the control plane; kept, a node group dropped by an upgrade would never go"},
	"cluster.x-k8s.io/MachineHealthCheck":   {false, "Helm: no remediation during the teardown; kept, a dropped node group's check would stay"},
	// What the Cluster deletes after the workers, in its order.
	"controlplane.cluster.x-k8s.io/KubeadmControlPlane": {true, "the Cluster deletes its controlPlaneRef once no worker is left"},
	"infrastructure.cluster.x-k8s.io/OpenStackCluster":  {true, "the Cluster deletes its infrastructureRef once the control plane is gone"},
	// Owned by the Cluster (an owner reference Cluster API sets):
	// Kubernetes' garbage collector deletes them once the Cluster is gone.
	// Kept for rollouts too: machines refer to superseded templates.
	"infrastructure.cluster.x-k8s.io/OpenStackMachineTemplate": {true, "owned by the Cluster (set by the MachineDeployment, MachineSet and KubeadmControlPlane controllers)"},
	"bootstrap.cluster.x-k8s.io/KubeadmConfigTemplate":         {true, "owned by the Cluster (set by the MachineDeployment and MachineSet controllers)"},
}

// TestTeardownIsClusterAPIs: uninstalling the release deletes the Cluster,
// the autoscaler and the workers' MachineDeployments, and keeps the control
// plane, the OpenStackCluster and the templates, so that Cluster API
// deletes the workers, then the control plane, then the network and load
// balancer. A kind the table does not know fails: say who deletes it.
func TestTeardownIsClusterAPIs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, name := range []string{"plain", "autoscale-gpu", "existing-network"} {
		objs, err := expand.Expand(context.Background(), options(loadValues(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			gk := o.GroupVersionKind().Group + "/" + o.GetKind()
			seen[gk] = true
			want, ok := teardown[gk]
			if !ok {
				t.Errorf("%s: %s %s: who deletes it when the release is uninstalled? Add it to the teardown table (and keep it if Cluster API deletes it)", name, gk, o.GetName())
				continue
			}
			if kept := o.GetAnnotations()["helm.sh/resource-policy"] == "keep"; kept != want.keep {
				t.Errorf("%s: %s %s: kept = %v, want %v (%s)", name, gk, o.GetName(), kept, want.keep, want.who)
			}
		}
	}
	for gk := range teardown {
		if !seen[gk] {
			t.Errorf("%s is in the teardown table but the chart renders none", gk)
		}
	}
}
