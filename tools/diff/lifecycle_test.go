package diff

import (
	"strings"
	"testing"
)

// TestScenarioLifecycleFields classifies a change of each lifecycle field
// as Cluster API v1.14 applies it: a MachineDeployment's rollout strategy
// and deletion order, and a KubeadmControlPlane's remediation, change in
// place (no new MachineSet, no machine replaced); a MachineHealthCheck
// touches no machine.
func TestScenarioLifecycleFields(t *testing.T) {
	t.Parallel()
	const app = "clusters/s1/app.yaml"
	for _, tc := range []struct {
		name string
		edit func(r *testRepo)
		// groups are the node groups touched, each in place; cp is
		// whether the control plane is touched, in place.
		groups []string
		cp     bool
		// fields are paths that must be among the in-place changes.
		fields []string
		// objects are kinds whose objects must be among the changed ones.
		objects []string
	}{{
		name: "node group rollout strategy and delete policy",
		edit: func(r *testRepo) {
			r.edit(app, "replicas: 3\n    - name: big", "replicas: 3\n      rollout: {maxSurge: 0, maxUnavailable: 1, deletePolicy: Oldest}\n    - name: big")
		},
		groups: []string{"general"},
		fields: []string{"spec.rollout.strategy.rollingUpdate.maxSurge", "spec.rollout.strategy.rollingUpdate.maxUnavailable", "spec.deletion.order"},
	}, {
		name: "site rollout default",
		edit: func(r *testRepo) {
			r.edit("clusters/s1/site.yaml", "  git:\n", "  clusterDefaults:\n    rollout: {maxSurge: \"50%\"}\n  git:\n")
		},
		groups: []string{"big", "burst", "general"},
		fields: []string{"spec.rollout.strategy.rollingUpdate.maxSurge"},
	}, {
		name: "control plane remediation",
		edit: func(r *testRepo) {
			r.edit(app, "    replicas: 3\n  nodeGroups:", "    replicas: 3\n    remediation: {maxRetry: 5, retryPeriodSeconds: 600, minHealthyPeriodSeconds: 7200}\n  nodeGroups:")
		},
		cp:     true,
		fields: []string{"spec.remediation.maxRetry", "spec.remediation.retryPeriodSeconds", "spec.remediation.minHealthyPeriodSeconds"},
	}, {
		name: "health checks",
		edit: func(r *testRepo) {
			r.edit(app, "  nodeGroups:", "  healthCheck: {nodeStartupTimeoutSeconds: 2400, unhealthyTimeoutSeconds: 600, maxUnhealthy: {controlPlane: \"34%\", workers: 1}}\n  nodeGroups:")
		},
		objects: []string{"MachineHealthCheck"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRepo(t)
			tc.edit(r)
			r.commit(tc.name)
			rep := r.mustDiff()
			c := cluster(t, rep, "s1", "app")
			var inPlace []FieldChange
			if (c.ControlPlane != nil) != tc.cp {
				t.Errorf("control plane touched = %v, want %v:\n%s", c.ControlPlane != nil, tc.cp, textOf(t, rep))
			}
			if c.ControlPlane != nil {
				if c.ControlPlane.Replace || c.ControlPlane.Scale != nil {
					t.Errorf("control plane rolls or scales: %+v", c.ControlPlane)
				}
				inPlace = append(inPlace, c.ControlPlane.InPlace...)
			}
			var names []string
			for _, g := range c.NodeGroups {
				names = append(names, g.Name)
				if g.Replace || g.Scale != nil || g.Autoscale != nil {
					t.Errorf("node group %s rolls or scales: %+v", g.Name, g)
				}
				if g.Peak != 0 || g.PeakMax != 0 {
					t.Errorf("node group %s has a peak without rolling: %+v", g.Name, g)
				}
				inPlace = append(inPlace, g.InPlace...)
			}
			if strings.Join(names, ",") != strings.Join(tc.groups, ",") {
				t.Errorf("groups touched = %v, want %v", names, tc.groups)
			}
			for _, f := range tc.fields {
				if !hasPath(inPlace, f) {
					t.Errorf("%s is not among the in-place changes %v", f, inPlace)
				}
			}
			kinds := map[string]bool{}
			for _, o := range c.Objects {
				kinds[o.Kind] = true
			}
			for _, k := range tc.objects {
				if !kinds[k] {
					t.Errorf("no %s among the changed objects %v", k, c.Objects)
				}
			}
			if out := textOf(t, rep); strings.Contains(out, "replacing") {
				t.Errorf("the report says machines are replaced:\n%s", out)
			}
		})
	}
}

// TestScenarioRolloutPeak reports the most machines each rolling group
// has at once: its size and its surge as Cluster API resolves it (a
// percentage rounds up; an autoscaled group between its bounds; the
// control plane one machine above its size).
func TestScenarioRolloutPeak(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	// Every group and the control plane roll (a new image for v1.36.1 is
	// not needed: the flavors change).
	r.edit(app(), "    flavor: m1.large\n    replicas: 3", "    flavor: m1.xlarge\n    replicas: 3")
	r.edit(app(), "      flavor: m1.large\n      replicas: 3", "      flavor: m1.xlarge\n      replicas: 3\n      rollout: {maxSurge: 0, maxUnavailable: 1}")
	r.edit(app(), "      flavor: m1.xlarge\n      replicas: 2", "      flavor: m1.large\n      replicas: 2\n      rollout: {maxSurge: \"50%\"}")
	r.edit(app(), "      flavor: m1.medium\n      autoscale: {min: 1, max: 5}", "      flavor: m1.large\n      autoscale: {min: 1, max: 5}\n      rollout: {maxSurge: \"50%\"}")
	r.commit("roll everything")
	rep := r.mustDiff()
	c := cluster(t, rep, "s1", "app")
	if c.ControlPlane == nil || !c.ControlPlane.Replace || c.ControlPlane.Peak != 4 {
		t.Errorf("control plane: want 3 machines rolling, up to 4 at once, got %+v", c.ControlPlane)
	}
	for _, want := range []struct {
		name          string
		peak, peakMax int
	}{
		{"general", 3, 0}, // within its size
		{"big", 3, 0},     // 50% of 2
		{"burst", 2, 8},   // 1 + 50% of 1 rounded up, 5 + 50% of 5 rounded up
	} {
		g := group(t, c, want.name)
		if !g.Replace || g.Peak != want.peak || g.PeakMax != want.peakMax {
			t.Errorf("%s: want peak %d-%d, got %+v", want.name, want.peak, want.peakMax, g)
		}
	}
	text := textOf(t, rep)
	for _, s := range []string{
		"control plane: rolls, replacing 3 machine(s), up to 4 at once",
		"node group general: rolls, replacing 3 machine(s), up to 3 at once",
		"node group burst: rolls, replacing 1-5 machine(s), up to 2-8 at once",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("the text report lacks %q:\n%s", s, text)
		}
	}
}

func app() string { return "clusters/s1/app.yaml" }
