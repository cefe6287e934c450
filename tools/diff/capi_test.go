package diff

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/pipeline"
)

// fixture is the test fleet with the repository's chart, rendered once.
var fixture = sync.OnceValues(func() (*fixtureFleet, error) {
	fsys := fstest.MapFS{}
	for src, dst := range map[string]string{chartSrc: "charts/openstack-cluster", fleetSrc: "."} {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fsys[filepath.ToSlash(filepath.Join(dst, rel))] = &fstest.MapFile{Data: b, Mode: 0o644}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	res, err := pipeline.Render(context.Background(), pipeline.Options{FS: fsys})
	if err != nil {
		return nil, err
	}
	return &fixtureFleet{fsys: fsys, res: res}, nil
})

type fixtureFleet struct {
	fsys fs.FS
	res  *pipeline.Result
}

// expandApp expands cluster s1/app with its values changed by mutate.
func expandApp(t *testing.T, mutate func(v map[string]any)) objectSet {
	t.Helper()
	f, err := fixture()
	if err != nil {
		t.Fatal(err)
	}
	rel := *f.res.Release("s1", "app")
	b, _ := json.Marshal(rel.Values)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(v)
	}
	rel.Values = v
	objs, err := pipeline.Expand(context.Background(), f.fsys, f.res, &rel)
	if err != nil {
		t.Fatal(err)
	}
	return newObjectSet(objs)
}

func ng(v map[string]any, name string) map[string]any {
	for _, g := range v["nodeGroups"].([]any) {
		if m := g.(map[string]any); m["name"] == name {
			return m
		}
	}
	panic("no node group " + name)
}

func cpv(v map[string]any) map[string]any { return v["controlPlane"].(map[string]any) }

// pinGroups pins every node group to the cluster's current version.
func pinGroups(v map[string]any) {
	for _, g := range v["nodeGroups"].([]any) {
		g.(map[string]any)["kubernetesVersion"] = v["kubernetesVersion"]
	}
}

// setField sets a field of the objects of a kind.
func setField(set objectSet, kind, name string, value any, path ...string) {
	for k, o := range set {
		if k.Kind == kind && (name == "" || strings.HasSuffix(k.Name, name)) {
			if err := unstructured.SetNestedField(o.Object, value, path...); err != nil {
				panic(err)
			}
		}
	}
}

func TestImpactFromChartObjects(t *testing.T) {
	t.Parallel()
	type want struct {
		cpReplace  bool
		cpReason   string
		cpInPlace  string
		cpScale    bool
		group      string // the one group touched ("" none)
		replace    bool
		reason     string
		field      string // a TemplateFields path
		inPlace    string // an InPlace path
		scale      [2]int
		autoscale  *AutoscaleChange
		finding    Severity
		findingMsg string
		action     Action
	}
	cases := []struct {
		name   string
		base   func(v map[string]any)
		values func(v map[string]any)
		objs   func(s objectSet)
		want   want
	}{{
		name:   "control plane version",
		base:   pinGroups,
		values: func(v map[string]any) { v["kubernetesVersion"] = "v1.36.2" },
		want:   want{cpReplace: true, cpReason: "version v1.36.1 -> v1.36.2"},
	}, {
		name:   "control plane flavor: infrastructure template",
		values: func(v map[string]any) { cpv(v)["machineFlavor"] = "m1.xlarge" },
		want:   want{cpReplace: true, cpReason: "infrastructure template app-control-plane-"},
	}, {
		name: "control plane kubeadm config spec",
		values: func(v map[string]any) {
			v["oidc"] = map[string]any{"issuerURL": "https://id.example.org", "clientID": "k8s"}
		},
		want: want{cpReplace: true, cpReason: "kubeadm config spec changed"},
	}, {
		name: "control plane joinConfiguration only: the joined machines roll",
		objs: func(s objectSet) {
			setField(s, "KubeadmControlPlane", "", []any{map[string]any{"name": "max-pods", "value": "200"}}, "spec", "kubeadmConfigSpec", "joinConfiguration", "nodeRegistration", "kubeletExtraArgs")
		},
		want: want{cpReplace: true, cpReason: "kubeadm joinConfiguration changed"},
	}, {
		name: "control plane initConfiguration only: nothing rolls",
		objs: func(s objectSet) {
			setField(s, "KubeadmControlPlane", "", []any{map[string]any{"name": "max-pods", "value": "200"}}, "spec", "kubeadmConfigSpec", "initConfiguration", "nodeRegistration", "kubeletExtraArgs")
		},
		want: want{cpInPlace: "spec.kubeadmConfigSpec.initConfiguration.nodeRegistration.kubeletExtraArgs"},
	}, {
		name: "control plane kubeadm DNS is ignored by KCP",
		objs: func(s objectSet) {
			setField(s, "KubeadmControlPlane", "", "registry.example.org/coredns", "spec", "kubeadmConfigSpec", "clusterConfiguration", "dns", "imageRepository")
		},
		want: want{cpInPlace: "spec.kubeadmConfigSpec.clusterConfiguration.dns.imageRepository"},
	}, {
		name:   "control plane rollout.after",
		values: func(v map[string]any) { cpv(v)["rolloutAfter"] = "2026-02-01T00:00:00Z" },
		want:   want{cpReplace: true, cpReason: "rollout.after set to 2026-02-01T00:00:00Z"},
	}, {
		name:   "control plane replicas",
		values: func(v map[string]any) { cpv(v)["machineCount"] = 5 },
		want:   want{cpScale: true},
	}, {
		name: "control plane deletion timeout in place",
		objs: func(s objectSet) {
			setField(s, "KubeadmControlPlane", "", int64(1200), "spec", "machineTemplate", "spec", "deletion", "nodeDrainTimeoutSeconds")
		},
		want: want{cpInPlace: "spec.machineTemplate.spec.deletion.nodeDrainTimeoutSeconds"},
	}, {
		name:   "group flavor: infrastructure template",
		values: func(v map[string]any) { ng(v, "general")["machineFlavor"] = "m1.medium" },
		want:   want{group: "general", replace: true, reason: "infrastructure template app-general-", field: "OpenStackMachineTemplate.spec.template.spec.flavor"},
	}, {
		name: "group taints: bootstrap template",
		values: func(v map[string]any) {
			ng(v, "general")["taints"] = []any{map[string]any{"key": "dedicated", "value": "db", "effect": "NoSchedule"}}
		},
		want: want{group: "general", replace: true, reason: "bootstrap template app-general-", field: "KubeadmConfigTemplate.spec.template.spec.joinConfiguration.nodeRegistration.taints"},
	}, {
		name:   "group version",
		values: func(v map[string]any) { ng(v, "general")["kubernetesVersion"] = "v1.35.4" },
		want:   want{group: "general", replace: true, reason: "version v1.36.1 -> v1.35.4", finding: Unsafe, findingMsg: "downgraded"},
	}, {
		name:   "group newer than control plane",
		values: func(v map[string]any) { ng(v, "general")["kubernetesVersion"] = "v1.36.2" },
		want:   want{group: "general", replace: true, reason: "version", finding: Unsafe, findingMsg: "newer version than the control plane"},
	}, {
		name:   "group rollout.after",
		values: func(v map[string]any) { ng(v, "general")["rolloutAfter"] = "2026-02-01T00:00:00Z" },
		want:   want{group: "general", replace: true, reason: "rollout.after set to"},
	}, {
		name:   "group labels in place",
		values: func(v map[string]any) { ng(v, "general")["labels"] = map[string]any{"node.cluster.x-k8s.io/pool": "a"} },
		want:   want{group: "general", inPlace: `spec.template.metadata.labels."node.cluster.x-k8s.io/pool"`},
	}, {
		name: "group template annotations in place",
		objs: func(s objectSet) {
			setField(s, "MachineDeployment", "general", map[string]any{"example.org/owner": "team-a"}, "spec", "template", "metadata", "annotations")
		},
		want: want{group: "general", inPlace: "spec.template.metadata.annotations"},
	}, {
		name: "group drain and volume detach timeouts in place",
		objs: func(s objectSet) {
			setField(s, "MachineDeployment", "general", int64(60), "spec", "template", "spec", "deletion", "nodeVolumeDetachTimeoutSeconds")
		},
		want: want{group: "general", inPlace: "spec.template.spec.deletion.nodeVolumeDetachTimeoutSeconds"},
	}, {
		name: "group deletion order in place",
		objs: func(s objectSet) {
			setField(s, "MachineDeployment", "general", "Oldest", "spec", "deletion", "order")
		},
		want: want{group: "general", inPlace: "spec.deletion.order"},
	}, {
		name: "group minReadySeconds in place",
		objs: func(s objectSet) {
			setField(s, "MachineDeployment", "general", int64(30), "spec", "template", "spec", "minReadySeconds")
		},
		want: want{group: "general", inPlace: "spec.template.spec.minReadySeconds"},
	}, {
		name: "bootstrap template changed under the same name",
		objs: func(s objectSet) {
			setField(s, "KubeadmConfigTemplate", "", []any{"echo hi"}, "spec", "template", "spec", "preKubeadmCommands")
			for k := range s {
				if k.Kind == "KubeadmConfigTemplate" && !strings.HasPrefix(k.Name, "app-general-") {
					delete(s, k)
				}
			}
		},
		want: want{group: "general", inPlace: "KubeadmConfigTemplate.spec.template.spec.preKubeadmCommands", finding: Warning, findingMsg: "changed under the same name: no machine rolls"},
	}, {
		name:   "group replicas",
		values: func(v map[string]any) { ng(v, "big")["machineCount"] = 4 },
		want:   want{group: "big", scale: [2]int{2, 4}},
	}, {
		name:   "autoscale bounds",
		values: func(v map[string]any) { ng(v, "burst")["autoscale"] = map[string]any{"min": 2, "max": 8} },
		want:   want{group: "burst", autoscale: &AutoscaleChange{From: &Bounds{1, 5}, To: &Bounds{2, 8}}},
	}, {
		name: "group added",
		values: func(v map[string]any) {
			v["nodeGroups"] = append(v["nodeGroups"].([]any), map[string]any{"name": "new", "machineFlavor": "m1.medium", "machineCount": 3, "capacity": map[string]any{"cpu": 2, "memoryMiB": 4096, "gpu": 0}})
		},
		want: want{group: "new", action: Added},
	}, {
		name:   "control plane skips a minor",
		base:   func(v map[string]any) { v["kubernetesVersion"] = "v1.34.2"; pinGroups(v) },
		values: func(v map[string]any) { v["kubernetesVersion"] = "v1.36.2" },
		want:   want{cpReplace: true, cpReason: "version v1.34.2 -> v1.36.2", finding: Unsafe, findingMsg: "skips a minor"},
	}, {
		name:   "control plane downgrade",
		base:   pinGroups,
		values: func(v map[string]any) { v["kubernetesVersion"] = "v1.35.4" },
		want:   want{cpReplace: true, cpReason: "version", finding: Unsafe, findingMsg: "control plane downgraded"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			old := expandApp(t, tc.base)
			cur := expandApp(t, func(v map[string]any) {
				if tc.base != nil {
					tc.base(v)
				}
				if tc.values != nil {
					tc.values(v)
				}
			})
			if tc.objs != nil {
				tc.objs(cur)
			}
			cr := &ClusterReport{Site: "s1", Cluster: "app"}
			cr.Objects = compareObjects(old, cur)
			impact(t.Context(), cr, old, cur)
			w := tc.want
			dump := func() string { return cr.text(palette{}) }

			cp := cr.ControlPlane
			// The diff's control plane verdict is Cluster API's whole
			// up-to-date check on every case.
			if want, got := upToDateWithInfrastructure(t, old, cur), rollsBySpec(cp); got != want {
				t.Errorf("the diff says the control plane rolls: %v; KubeadmControlPlane's UpToDate with the infrastructure machine says %v:\n%s", got, want, dump())
			}
			switch {
			case w.cpReplace || w.cpScale || w.cpInPlace != "":
				if cp == nil {
					t.Fatalf("want a control plane change:\n%s", dump())
				}
				if cp.Replace != w.cpReplace {
					t.Errorf("control plane replace = %v, want %v:\n%s", cp.Replace, w.cpReplace, dump())
				}
				if w.cpReason != "" && !strings.Contains(strings.Join(cp.Reasons, ";"), w.cpReason) {
					t.Errorf("control plane reasons %v, want %q", cp.Reasons, w.cpReason)
				}
				if w.cpScale != (cp.Scale != nil) {
					t.Errorf("control plane scale %+v", cp.Scale)
				}
				if w.cpInPlace != "" && !hasPathPrefix(cp.InPlace, w.cpInPlace) {
					t.Errorf("control plane in place %v, want %s", cp.InPlace, w.cpInPlace)
				}
			case cp != nil:
				t.Errorf("control plane touched:\n%s", dump())
			}

			if w.group == "" {
				if len(cr.NodeGroups) != 0 {
					t.Errorf("node groups touched:\n%s", dump())
				}
			} else {
				if len(cr.NodeGroups) != 1 || cr.NodeGroups[0].Name != w.group {
					t.Fatalf("want only group %s:\n%s", w.group, dump())
				}
				g := cr.NodeGroups[0]
				action := w.action
				if action == "" {
					action = Changed
				}
				if g.Action != action {
					t.Errorf("group action %s, want %s", g.Action, action)
				}
				if g.Replace != w.replace {
					t.Errorf("group replace = %v, want %v:\n%s", g.Replace, w.replace, dump())
				}
				if w.reason != "" && !strings.Contains(strings.Join(g.Reasons, ";"), w.reason) {
					t.Errorf("group reasons %v, want %q", g.Reasons, w.reason)
				}
				if w.field != "" && !hasPathPrefix(g.TemplateFields, w.field) {
					t.Errorf("template fields %v, want %s", g.TemplateFields, w.field)
				}
				if w.inPlace != "" && !hasPathPrefix(g.InPlace, w.inPlace) {
					t.Errorf("in place %v, want %s", g.InPlace, w.inPlace)
				}
				if !w.replace && w.inPlace == "" && len(g.InPlace) > 0 && action == Changed {
					t.Errorf("unexpected in-place changes %v", g.InPlace)
				}
				if w.scale != [2]int{} && (g.Scale == nil || deref(g.Scale.From) != w.scale[0] || deref(g.Scale.To) != w.scale[1]) {
					t.Errorf("scale %+v, want %v", g.Scale, w.scale)
				}
				if w.autoscale != nil {
					if g.Autoscale == nil || !boundsEqual(g.Autoscale.From, w.autoscale.From) || !boundsEqual(g.Autoscale.To, w.autoscale.To) {
						t.Errorf("autoscale %+v", g.Autoscale)
					}
					if g.Replace || g.Scale != nil {
						t.Errorf("autoscale bounds must not roll or set replicas: %+v", g)
					}
				}
			}
			if w.finding != "" && !hasFinding(cr.Findings, w.finding, w.findingMsg) {
				t.Errorf("want %s finding %q, got %v", w.finding, w.findingMsg, cr.Findings)
			}
			if w.finding == "" {
				for _, f := range cr.Findings {
					if f.Severity == Unsafe {
						t.Errorf("unexpected finding %v", f)
					}
				}
			}
		})
	}
}

func hasPathPrefix(fs []FieldChange, prefix string) bool {
	for _, f := range fs {
		if strings.HasPrefix(f.Path, prefix) {
			return true
		}
	}
	return false
}

func TestCompareFieldsKeyedLists(t *testing.T) {
	t.Parallel()
	a := map[string]any{"groups": []any{map[string]any{"name": "a", "n": 1}, map[string]any{"name": "b", "n": 2}}}
	b := map[string]any{"groups": []any{map[string]any{"name": "new", "n": 0}, map[string]any{"name": "a", "n": 1}, map[string]any{"name": "b", "n": 3}}}
	got := compareFields("", a, b)
	want := []FieldChange{
		{Path: "groups[name=b].n", Action: Changed, Old: "2", New: "3"},
		{Path: "groups[name=new].n", Action: Added, New: "0"},
		{Path: "groups[name=new].name", Action: Added, New: "new"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got[i], want[i])
		}
	}
}

// TestAutoscaledGroupRolloutCountsEveryMachine: a rollout of an autoscaled
// group replaces every machine it runs, between its bounds, and says so.
func TestAutoscaledGroupRolloutCountsEveryMachine(t *testing.T) {
	t.Parallel()
	old := expandApp(t, nil)
	cur := expandApp(t, func(v map[string]any) { ng(v, "burst")["machineFlavor"] = "m1.large" })
	cr := &ClusterReport{Site: "s1", Cluster: "app"}
	impact(t.Context(), cr, old, cur)
	if len(cr.NodeGroups) != 1 {
		t.Fatalf("groups: %+v", cr.NodeGroups)
	}
	g := cr.NodeGroups[0]
	if !g.Replace || g.Replaced != 1 || g.ReplacedMax != 5 {
		t.Fatalf("rollout of burst (autoscale 1..5) = %+v", g)
	}
	if got := g.headline(); !strings.Contains(got, "rolls, replacing 1-5 machine(s)") {
		t.Errorf("headline = %q", got)
	}
	if got := g.short(); !strings.Contains(got, "**rolls 1-5**") {
		t.Errorf("table cell = %q", got)
	}
	rep := &Report{Clusters: []*ClusterReport{cr}}
	if got := rep.Summary(); !strings.Contains(got, "(1-5 machine(s) replaced)") {
		t.Errorf("summary = %q", got)
	}
}

// TestJoinConfigurationRollsJoinedMachines: a change to the control plane's
// joinConfiguration alone replaces the machines that joined: all but the
// one kubeadm init made, while it lives.
func TestJoinConfigurationRollsJoinedMachines(t *testing.T) {
	t.Parallel()
	old := expandApp(t, nil)
	cur := expandApp(t, nil)
	setField(cur, "KubeadmControlPlane", "", []any{map[string]any{"name": "max-pods", "value": "200"}}, "spec", "kubeadmConfigSpec", "joinConfiguration", "nodeRegistration", "kubeletExtraArgs")
	cr := &ClusterReport{Site: "s1", Cluster: "app"}
	impact(t.Context(), cr, old, cur)
	cp := cr.ControlPlane
	if cp == nil || !cp.Replace {
		t.Fatalf("control plane = %+v", cp)
	}
	n := deref(nestedInt(old.ofKind("KubeadmControlPlane")[0], "spec", "replicas"))
	if cp.Replaced != n-1 || cp.ReplacedMax != n {
		t.Errorf("replaced %d-%d, want %d-%d", cp.Replaced, cp.ReplacedMax, n-1, n)
	}
}
