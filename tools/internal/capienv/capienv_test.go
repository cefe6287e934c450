package capienv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestControllersProvisionTheChartsCluster applies the expanded objects of
// a test cluster and checks that each controller took its part: the
// webhooks admitted the objects, the stand-in provisioned the
// OpenStackCluster, the Cluster reports its infrastructure provisioned,
// KubeadmControlPlane made its first Machine (whose KubeadmConfig got
// bootstrap data and whose OpenStackMachine the stand-in provisioned), and
// every MachineDeployment has its MachineSet.
func TestControllersProvisionTheChartsCluster(t *testing.T) {
	env := Shared(t)
	ctx := context.Background()
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join(testrepo.Root(), "testdata", "diff", "fleet", "clusters"), filepath.Join(dir, "clusters")); err != nil {
		t.Fatal(err)
	}
	ns := "provision"
	objs, err := Expand(ctx, dir, "s1", "app", ns)
	if err != nil {
		t.Fatal(err)
	}
	env.Namespace(t, ns, "app")
	start := time.Now()
	if err := env.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	err = Eventually(ctx, 90*time.Second, func(ctx context.Context) (bool, string, error) {
		c := &clusterv1.Cluster{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, c); err != nil {
			return false, "", err
		}
		if c.Status.Initialization.InfrastructureProvisioned == nil || !*c.Status.Initialization.InfrastructureProvisioned {
			return false, "Cluster infrastructure provisioned", nil
		}
		kcp := &controlplanev1.KubeadmControlPlane{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-control-plane"}, kcp); err != nil {
			return false, "", err
		}
		machines := &clusterv1.MachineList{}
		if err := env.Client.List(ctx, machines, client.InNamespace(ns), client.MatchingLabels{clusterv1.MachineControlPlaneLabel: ""}); err != nil {
			return false, "", err
		}
		if len(machines.Items) == 0 {
			return false, "a control plane Machine", nil
		}
		m := machines.Items[0]
		if m.Spec.Bootstrap.DataSecretName == nil {
			return false, "bootstrap data of " + m.Name, nil
		}
		if m.Spec.ProviderID == "" {
			return false, "provider ID of " + m.Name, nil
		}
		mds := &clusterv1.MachineDeploymentList{}
		if err := env.Client.List(ctx, mds, client.InNamespace(ns)); err != nil {
			return false, "", err
		}
		mss := &clusterv1.MachineSetList{}
		if err := env.Client.List(ctx, mss, client.InNamespace(ns)); err != nil {
			return false, "", err
		}
		if len(mds.Items) != 3 || len(mss.Items) != 3 {
			return false, fmt.Sprintf("3 MachineDeployments with a MachineSet each, have %d and %d", len(mds.Items), len(mss.Items)), nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("provisioned in %s", time.Since(start).Round(time.Millisecond))
}
