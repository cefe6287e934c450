package diff

import (
	"strings"
	"testing"
)

// TestScenarioEtcdAndCertificates classifies the etcd and certificate
// settings: etcd's tuning, defragmentation schedule and volume are in the
// control plane's machines (its kubeadm config or its machine template), so
// a change rolls the control plane and nothing else; the certificate
// renewal window is propagated in place and only triggers rollouts of
// machines near expiry, which the diff says without rolling anything.
func TestScenarioEtcdAndCertificates(t *testing.T) {
	t.Parallel()
	const app = "clusters/s1/app.yaml"
	addToSpec := func(r *testRepo, file, yaml string) {
		r.edit(file, "spec:\n", "spec:\n"+yaml)
	}
	for _, tc := range []struct {
		name   string
		change func(r *testRepo)
		// rolls: the control plane's 3 machines are replaced because of a
		// template field under fieldPrefix; otherwise inPlace is the
		// control plane's only (in-place) change and finding a finding.
		rolls       bool
		reason      string
		fieldPrefix string
		inPlace     string
		finding     string
	}{
		{
			name:        "cluster etcd heartbeat rolls the control plane",
			change:      func(r *testRepo) { addToSpec(r, app, "  etcd: {heartbeatIntervalMs: 300, electionTimeoutMs: 3000}\n") },
			rolls:       true,
			reason:      "kubeadm config spec changed",
			fieldPrefix: "KubeadmControlPlane.spec.kubeadmConfigSpec.clusterConfiguration.etcd.local.extraArgs[name=heartbeat-interval].value",
		},
		{
			name: "site default etcd quota rolls the control plane",
			change: func(r *testRepo) {
				r.edit("clusters/s1/site.yaml", "  git:\n", "  clusterDefaults:\n    etcd: {quotaBackendGiB: 6}\n  git:\n")
			},
			rolls:       true,
			reason:      "kubeadm config spec changed",
			fieldPrefix: "KubeadmControlPlane.spec.kubeadmConfigSpec.clusterConfiguration.etcd.local.extraArgs[name=quota-backend-bytes].value",
		},
		{
			name:        "defragmentation schedule rolls the control plane",
			change:      func(r *testRepo) { addToSpec(r, app, "  etcd: {defragSchedule: '0 4 * * 3'}\n") },
			rolls:       true,
			reason:      "kubeadm config spec changed",
			fieldPrefix: "KubeadmControlPlane.spec.kubeadmConfigSpec.files",
		},
		{
			name:        "etcd volume rolls the control plane (new machine template)",
			change:      func(r *testRepo) { addToSpec(r, app, "  etcd: {volume: {sizeGiB: 20}}\n") },
			rolls:       true,
			reason:      "infrastructure template app-control-plane-",
			fieldPrefix: "OpenStackMachineTemplate.spec.template.spec.additionalBlockDevices",
		},
		{
			name:    "longer certificate renewal rolls nothing by itself",
			change:  func(r *testRepo) { addToSpec(r, app, "  certificates: {renewBeforeDays: 60}\n") },
			inPlace: "spec.rollout.before.certificatesExpiryDays",
			finding: "renewal 30 -> 60 days before expiry: no machine rolls for the change itself, but Cluster API replaces",
		},
		{
			name:    "certificate renewal off rolls nothing",
			change:  func(r *testRepo) { addToSpec(r, app, "  certificates: {renewBeforeDays: 0}\n") },
			inPlace: "spec.rollout.before.certificatesExpiryDays",
			finding: "certificate renewal off (was 30 days before expiry)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRepo(t)
			tc.change(r)
			r.commit(tc.name)
			rep := r.mustDiff()
			c := cluster(t, rep, "s1", "app")
			cp := c.ControlPlane
			if len(c.NodeGroups) != 0 {
				t.Errorf("node groups touched: %+v", c.NodeGroups)
			}
			if cp == nil {
				t.Fatalf("control plane untouched:\n%s", textOf(t, rep))
			}
			if cp.Replace != tc.rolls {
				t.Fatalf("control plane replace = %v, want %v:\n%s", cp.Replace, tc.rolls, textOf(t, rep))
			}
			if tc.rolls {
				if cp.Replaced != 3 || !strings.Contains(strings.Join(cp.Reasons, ";"), tc.reason) {
					t.Errorf("want 3 machines replaced for %q, got %d for %v", tc.reason, cp.Replaced, cp.Reasons)
				}
				found := false
				for _, f := range cp.TemplateFields {
					found = found || strings.HasPrefix(f.Path, tc.fieldPrefix)
				}
				if !found {
					t.Errorf("want a template field under %s, got %v", tc.fieldPrefix, cp.TemplateFields)
				}
				return
			}
			if len(cp.InPlace) != 1 || cp.InPlace[0].Path != tc.inPlace || cp.Scale != nil {
				t.Errorf("want only %s in place, got %+v", tc.inPlace, cp)
			}
			if !hasFinding(c.Findings, Info, tc.finding) {
				t.Errorf("want the finding %q, got %v", tc.finding, c.Findings)
			}
		})
	}
}
