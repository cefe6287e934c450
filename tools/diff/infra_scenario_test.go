package diff

import (
	"sort"
	"strings"
	"testing"
)

// TestScenarioPlacementAndNetwork classifies the placement and network
// fields: what is in a machine template (server group, metadata, config
// drive, volumes, ports, existing security groups) rolls the groups whose
// template it is, and nothing else; what is in the OpenStackCluster changes
// in place where the OpenStack provider's webhook lets it (security group
// rules) and is refused where it does not (the load balancer's provider,
// a new floating IP, managed groups turned off), which the diff reports as
// unsafe or as a warning rather than as a change that would happen.
func TestScenarioPlacementAndNetwork(t *testing.T) {
	t.Parallel()
	const app = "clusters/s1/app.yaml"
	const site = "clusters/s1/site.yaml"
	offer := func(r *testRepo) {
		r.edit(site, "  git:\n", "  networking:\n    loadBalancerProviders: [amphora, ovn]\n    portNetworks: [{name: storage}, {name: fabric, vnicTypes: [direct]}]\n  git:\n")
		r.edit(site, "{name: m1.xlarge, vcpus: 8, ramMiB: 16384}", "{name: m1.xlarge, vcpus: 8, ramMiB: 16384, sriov: true}")
	}
	for _, tc := range []struct {
		name string
		// base prepares the base revision; edit makes the change.
		base, edit func(r *testRepo)
		// rolls are the groups replaced ("control-plane" for it), each
		// for a field of its OpenStackMachineTemplate under field.
		rolls []string
		field string
		// finding is a finding of the given severity that must be there;
		// no finding is unsafe unless sev is Unsafe.
		sev     Severity
		finding string
		// unchanged: the cluster's objects do not change at all.
		unchanged bool
	}{{
		name: "node group server group rolls the group",
		edit: func(r *testRepo) {
			r.edit(app, "replicas: 2\n", "replicas: 2\n      serverGroup: {name: app-big, policy: soft-anti-affinity}\n")
		},
		rolls: []string{"big"},
		field: "OpenStackMachineTemplate.spec.template.spec.serverGroup",
	}, {
		name: "control plane server group and metadata roll the control plane",
		edit: func(r *testRepo) {
			r.edit(app, "    replicas: 3\n  nodeGroups:", "    replicas: 3\n    serverGroup: {name: app-cp, policy: anti-affinity}\n    serverMetadata: {billing: app}\n  nodeGroups:")
		},
		rolls: []string{"control-plane"},
		field: "OpenStackMachineTemplate.spec.template.spec.server",
	}, {
		name:  "site server metadata rolls every group",
		edit:  func(r *testRepo) { r.edit(site, "  git:\n", "  placement: {serverMetadata: {billing: s1}}\n  git:\n") },
		rolls: []string{"big", "burst", "control-plane", "general"},
		field: "OpenStackMachineTemplate.spec.template.spec.serverMetadata",
	}, {
		name:  "config drive rolls the group",
		edit:  func(r *testRepo) { r.edit(app, "replicas: 2\n", "replicas: 2\n      configDrive: true\n") },
		rolls: []string{"big"},
		field: "OpenStackMachineTemplate.spec.template.spec.configDrive",
	}, {
		name: "extra volume rolls the group",
		edit: func(r *testRepo) {
			r.edit(app, "replicas: 2\n", "replicas: 2\n      volumes: [{name: scratch, sizeGiB: 100}]\n")
		},
		rolls: []string{"big"},
		field: "OpenStackMachineTemplate.spec.template.spec.additionalBlockDevices",
	}, {
		// The volume is the same; its filesystem and mount are the
		// bootstrap's: a new KubeadmConfigTemplate, and Cluster API
		// rolls the group for it.
		name: "mounting an extra volume rolls the group",
		base: func(r *testRepo) {
			r.edit(app, "replicas: 2\n", "replicas: 2\n      volumes: [{name: scratch, sizeGiB: 100}]\n")
		},
		edit: func(r *testRepo) {
			r.edit(app, "{name: scratch, sizeGiB: 100}", "{name: scratch, sizeGiB: 100, mountPath: /scratch}")
		},
		rolls: []string{"big"},
		field: "KubeadmConfigTemplate.spec.template.spec.mounts",
	}, {
		name: "SR-IOV port rolls the group",
		base: offer,
		edit: func(r *testRepo) {
			r.edit(app, "replicas: 2\n", "replicas: 2\n      ports: [{network: fabric, vnicType: direct, disablePortSecurity: true}]\n")
		},
		rolls: []string{"big"},
		field: "OpenStackMachineTemplate.spec.template.spec.ports",
	}, {
		name: "existing security group rolls every machine",
		edit: func(r *testRepo) {
			r.edit(app, "  nodeGroups:", "  securityGroups: {existing: [monitoring]}\n  nodeGroups:")
		},
		rolls: []string{"big", "burst", "control-plane", "general"},
		field: "OpenStackMachineTemplate.spec.template.spec.securityGroups",
	}, {
		name: "security group rules and node ports change in place",
		edit: func(r *testRepo) {
			r.edit(app, "  nodeGroups:", "  securityGroups:\n    nodePortsFrom: [192.0.2.0/24]\n    rules: [{name: ssh, direction: ingress, protocol: tcp, portRangeMin: 22, portRangeMax: 22}]\n  nodeGroups:")
		},
		sev:     Info,
		finding: "security group rules change in place",
	}, {
		name: "load balancer provider cannot change",
		base: offer,
		edit: func(r *testRepo) {
			r.edit(app, "  nodeGroups:", "  apiServer: {loadBalancerProvider: ovn}\n  nodeGroups:")
		},
		sev:     Unsafe,
		finding: "spec.apiServerLoadBalancer cannot change once the cluster exists",
	}, {
		name:      "a site offering load balancer providers changes no cluster",
		edit:      func(r *testRepo) { r.edit(site, "  git:\n", "  networking: {loadBalancerProviders: [ovn]}\n  git:\n") },
		unchanged: true,
	}, {
		name: "a fixed floating IP only if it is the one the API server has",
		edit: func(r *testRepo) {
			r.edit(app, "  nodeGroups:", "  apiServer: {floatingIPAddress: 203.0.113.10}\n  nodeGroups:")
		},
		sev:     Warning,
		finding: "takes a new apiServerFloatingIP (none -> 203.0.113.10) only when it is the address the API load balancer already has",
	}, {
		name: "managed security groups cannot be turned off",
		edit: func(r *testRepo) {
			r.edit(app, "  nodeGroups:", "  securityGroups: {managed: false, existing: [cluster]}\n  nodeGroups:")
		},
		rolls:   []string{"big", "burst", "control-plane", "general"},
		field:   "OpenStackMachineTemplate.spec.template.spec.securityGroups",
		sev:     Unsafe,
		finding: "spec.managedSecurityGroups cannot change once the cluster exists",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRepo(t)
			if tc.base != nil {
				tc.base(r)
				r.commit("base")
			}
			tc.edit(r)
			r.commit(tc.name)
			rep := r.mustDiff()
			if tc.unchanged {
				if len(rep.Clusters) > 0 {
					t.Errorf("clusters changed: %s", textOf(t, rep))
				}
				return
			}
			c := cluster(t, rep, "s1", "app")
			var rolled []string
			check := func(name string, ro *Rollout) {
				if ro == nil {
					return
				}
				if ro.Replace {
					rolled = append(rolled, name)
					if !hasPathPrefix(ro.TemplateFields, tc.field) {
						t.Errorf("%s rolls, but not for %s: %v", name, tc.field, ro.TemplateFields)
					}
				}
			}
			check("control-plane", c.ControlPlane)
			for i := range c.NodeGroups {
				check(c.NodeGroups[i].Name, &c.NodeGroups[i])
			}
			sort.Strings(rolled)
			if strings.Join(rolled, ",") != strings.Join(tc.rolls, ",") {
				t.Errorf("rolled %v, want %v:\n%s", rolled, tc.rolls, textOf(t, rep))
			}
			if tc.finding != "" && !hasFinding(c.Findings, tc.sev, tc.finding) {
				t.Errorf("no %s finding %q among %v", tc.sev, tc.finding, c.Findings)
			}
			if tc.sev != Unsafe && rep.Unsafe() > 0 {
				t.Errorf("unsafe findings: %s", textOf(t, rep))
			}
		})
	}
}
