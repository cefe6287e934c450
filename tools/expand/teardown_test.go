package expand_test

import (
	"context"
	"testing"

	"github.com/capiform/capiform/tools/expand"
)

// teardown says, for each kind the chart renders, who deletes it when the
// release is uninstalled. Helm deletes what is not kept; what Cluster API
// deletes must be kept, or Helm would delete it at once, behind Cluster
// API's back and out of its order. Read in cluster-api v1.14:
// core/reconcilers/cluster (reconcileDelete), machinedeployment and
// machineset (getTemplatesAndSetOwner, reconcileExternalTemplateReference),
// machinehealthcheck (reconcile) and controlplane/kubeadm
// (reconcileExternalReference).
var teardown = map[string]struct {
	keep bool
	who  string
}{
	// Helm.
	"cluster.x-k8s.io/Cluster":              {false, "Helm: deleting it starts Cluster API's teardown"},
	"/ServiceAccount":                       {false, "Helm: the autoscaler, which Cluster API does not own"},
	"rbac.authorization.k8s.io/Role":        {false, "Helm: the autoscaler's"},
	"rbac.authorization.k8s.io/RoleBinding": {false, "Helm: the autoscaler's"},
	"apps/Deployment":                       {false, "Helm: the autoscaler, gone before it could scale what is being deleted"},
	// Cluster API, in its order.
	"cluster.x-k8s.io/MachineDeployment":                {true, "the Cluster deletes its owned MachineDeployments first, and waits for their machines"},
	"controlplane.cluster.x-k8s.io/KubeadmControlPlane": {true, "the Cluster deletes its controlPlaneRef once no worker is left"},
	"infrastructure.cluster.x-k8s.io/OpenStackCluster":  {true, "the Cluster deletes its infrastructureRef once the control plane is gone"},
	// Owned by the Cluster (an owner reference Cluster API sets):
	// Kubernetes' garbage collector deletes them once the Cluster is gone.
	"infrastructure.cluster.x-k8s.io/OpenStackMachineTemplate": {true, "owned by the Cluster (set by the MachineDeployment, MachineSet and KubeadmControlPlane controllers)"},
	"bootstrap.cluster.x-k8s.io/KubeadmConfigTemplate":         {true, "owned by the Cluster (set by the MachineDeployment and MachineSet controllers)"},
	"cluster.x-k8s.io/MachineHealthCheck":                      {true, "owned by the Cluster (set by the MachineHealthCheck controller)"},
}

// TestTeardownIsClusterAPIs: uninstalling the release deletes the Cluster
// and the autoscaler, and keeps everything Cluster API deletes itself, so
// that it deletes the workers, then the control plane, then the network and
// load balancer. A kind the table does not know fails: say who deletes it.
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
