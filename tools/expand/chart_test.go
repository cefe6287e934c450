package expand_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/expand"
)

// lint runs `helm lint --strict` through the SDK and returns every message
// at warning level or above. Helm's schema validation is off: its loader
// fetches URLs and reads local files, and capiform never calls it
// (TestValuesSchema and TestValidateMatchesHelm check the values).
func lint(t *testing.T, dir string, values map[string]any) []string {
	t.Helper()
	l := action.NewLint()
	l.Strict = true
	l.SkipSchemaValidation = true
	l.Namespace = "site-a-research"
	kv, err := common.ParseKubeVersion("v1.36.1")
	if err != nil {
		t.Fatal(err)
	}
	l.KubeVersion = kv
	res := l.Run([]string{dir}, values)
	var problems []string
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			problems = append(problems, m.Error())
		}
	}
	for _, err := range res.Errors {
		problems = append(problems, err.Error())
	}
	return problems
}

func TestChartLint(t *testing.T) {
	t.Parallel()
	for name, values := range map[string]map[string]any{
		"chart defaults":   nil,
		"plain":            loadValues(t, "plain"),
		"autoscale-gpu":    loadValues(t, "autoscale-gpu"),
		"existing-network": loadValues(t, "existing-network"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if problems := lint(t, chartDir, values); len(problems) > 0 {
				t.Errorf("helm lint:\n%s", strings.Join(problems, "\n"))
			}
		})
	}
}

// TestChartLintDetectsErrors makes sure that the lint above would fail: a
// copy of the chart with a broken template must not lint clean.
func TestChartLintDetectsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyDir(t, chartDir, dir)
	bad := filepath.Join(dir, "templates", "broken.yaml")
	if err := os.WriteFile(bad, []byte("kind: ConfigMap\n{{ .Values.nope.deeper }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if problems := lint(t, dir, loadValues(t, "plain")); len(problems) == 0 {
		t.Error("lint of a broken chart reported nothing")
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deepCopy copies values through JSON so that cases cannot share maps.
func deepCopy(t testing.TB, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// templateNames returns "Kind/name" of every hash-named template, by node
// group ("control-plane" for the control plane's).
func templateNames(t *testing.T, values map[string]any) map[string]string {
	t.Helper()
	objs, err := expand.Expand(context.Background(), options(values))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, o := range objs {
		switch o.GetKind() {
		case "OpenStackMachineTemplate", "KubeadmConfigTemplate":
			names[o.GetKind()+"/"+o.GetLabels()["capiform.dev/node-group"]] = o.GetName()
		}
	}
	return names
}

func group(v map[string]any, i int) map[string]any {
	return v["nodeGroups"].([]any)[i].(map[string]any)
}

// twoGroups is the plain values with a second group, md-1, equal to md-0.
func twoGroups(t testing.TB) map[string]any {
	v := loadValues(t, "plain")
	g := deepCopy(t, group(v, 0))
	g["name"] = "md-1"
	v["nodeGroups"] = append(v["nodeGroups"].([]any), g)
	return v
}

func TestTemplateNaming(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(v map[string]any)
		// renamed lists the "Kind/group" keys whose name must change; every
		// other template must keep its name.
		renamed []string
	}{
		{
			name:    "flavor of one group",
			edit:    func(v map[string]any) { group(v, 1)["machineFlavor"] = "m1.xlarge" },
			renamed: []string{"OpenStackMachineTemplate/md-1"},
		},
		{
			name: "replicas",
			edit: func(v map[string]any) {
				group(v, 0)["machineCount"] = 7
				v["controlPlane"].(map[string]any)["machineCount"] = 5
			},
		},
		{
			name: "labels",
			edit: func(v map[string]any) {
				group(v, 0)["labels"] = map[string]any{"node-role.kubernetes.io/worker": "", "tier": "gold"}
			},
		},
		{
			name: "autoscaling",
			edit: func(v map[string]any) {
				g := group(v, 0)
				g["machineCount"] = nil
				g["autoscale"] = map[string]any{"min": 0, "max": 3}
			},
		},
		{
			name: "rolloutAfter",
			edit: func(v map[string]any) {
				group(v, 0)["rolloutAfter"] = "2026-03-01T00:00:00Z"
			},
		},
		{
			name: "taints of one group",
			edit: func(v map[string]any) {
				group(v, 0)["taints"] = []any{map[string]any{"key": "a", "value": "b", "effect": "NoSchedule"}}
			},
			renamed: []string{"KubeadmConfigTemplate/md-0"},
		},
		{
			name: "pass-through kubeadmConfigSpec of one group",
			edit: func(v map[string]any) {
				group(v, 1)["kubeadmConfigSpec"] = map[string]any{"preKubeadmCommands": []any{"true"}}
			},
			renamed: []string{"KubeadmConfigTemplate/md-1"},
		},
		{
			name: "root volume of the control plane",
			edit: func(v map[string]any) {
				v["controlPlane"].(map[string]any)["rootVolume"] = map[string]any{"sizeGiB": 40}
			},
			renamed: []string{"OpenStackMachineTemplate/control-plane"},
		},
		{
			// The resolver picks the image of the version: both change.
			name: "kubernetesVersion",
			edit: func(v map[string]any) {
				v["kubernetesVersion"] = "v1.36.2"
				v["machineImage"] = map[string]any{"name": "ubuntu-2404-kube-v1.36.2", "id": ""}
			},
			renamed: []string{"OpenStackMachineTemplate/control-plane", "OpenStackMachineTemplate/md-0", "OpenStackMachineTemplate/md-1"},
		},
		{
			// Even an image that does not name its version: the template
			// carries the version it was made for.
			name:    "kubernetesVersion alone",
			edit:    func(v map[string]any) { v["kubernetesVersion"] = "v1.36.2" },
			renamed: []string{"OpenStackMachineTemplate/control-plane", "OpenStackMachineTemplate/md-0", "OpenStackMachineTemplate/md-1"},
		},
		{
			name: "kubernetesVersion with a group pinned to the old one",
			edit: func(v map[string]any) {
				g := group(v, 1)
				g["kubernetesVersion"] = "v1.36.1"
				g["machineImage"] = v["machineImage"]
				v["kubernetesVersion"] = "v1.36.2"
				v["machineImage"] = map[string]any{"name": "ubuntu-2404-kube-v1.36.2", "id": ""}
			},
			renamed: []string{"OpenStackMachineTemplate/control-plane", "OpenStackMachineTemplate/md-0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := templateNames(t, twoGroups(t))
			v := twoGroups(t)
			tc.edit(v)
			after := templateNames(t, v)
			var renamed []string
			for k, name := range before {
				if after[k] != name {
					renamed = append(renamed, k)
				}
			}
			sort.Strings(renamed)
			sort.Strings(tc.renamed)
			if diff := cmp.Diff(tc.renamed, renamed); diff != "" {
				t.Errorf("renamed templates (-want +got):\n%s\nbefore %v\nafter  %v", diff, before, after)
			}
		})
	}
}

func TestTemplateNamesOfEqualGroupsDiffer(t *testing.T) {
	t.Parallel()
	names := templateNames(t, twoGroups(t))
	for _, kind := range []string{"OpenStackMachineTemplate", "KubeadmConfigTemplate"} {
		a, b := names[kind+"/md-0"], names[kind+"/md-1"]
		if a == "" || a == b {
			t.Errorf("%s: md-0 %q, md-1 %q", kind, a, b)
		}
		// Equal specs, equal hashes: only the group tells them apart.
		if a[len(a)-8:] != b[len(b)-8:] {
			t.Errorf("%s: equal specs hash differently: %q, %q", kind, a, b)
		}
		if !strings.HasPrefix(a, "research-md-0-") || !strings.HasPrefix(b, "research-md-1-") {
			t.Errorf("%s: names %q, %q", kind, a, b)
		}
	}
	if cp := names["OpenStackMachineTemplate/control-plane"]; !strings.HasPrefix(cp, "research-control-plane-") || len(cp) != len("research-control-plane-")+8 {
		t.Errorf("control plane template name %q", cp)
	}
}

func TestValuesSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		edit    func(v map[string]any)
		wantErr string // "" when the values must be accepted
	}{
		{name: "valid"},
		{
			name:    "unknown top-level key",
			edit:    func(v map[string]any) { v["clusterNmae"] = "x" },
			wantErr: "clusterNmae",
		},
		{
			name:    "unknown key in controlPlane",
			edit:    func(v map[string]any) { v["controlPlane"].(map[string]any)["flavor"] = "m1.small" },
			wantErr: "flavor",
		},
		{
			name:    "unknown key in a node group",
			edit:    func(v map[string]any) { group(v, 0)["replicas"] = 3 },
			wantErr: "replicas",
		},
		{
			name:    "unknown key in apiServer",
			edit:    func(v map[string]any) { v["apiServer"].(map[string]any)["allowedCIDRs"] = []any{} },
			wantErr: "allowedCIDRs",
		},
		{
			name:    "bad kubernetesVersion",
			edit:    func(v map[string]any) { v["kubernetesVersion"] = "1.36" },
			wantErr: "kubernetesVersion",
		},
		{
			name:    "group named control-plane",
			edit:    func(v map[string]any) { group(v, 0)["name"] = "control-plane" },
			wantErr: "nodeGroups",
		},
		{
			name:    "image without name or id",
			edit:    func(v map[string]any) { v["machineImage"] = map[string]any{"name": "", "id": ""} },
			wantErr: "machineImage",
		},
		{
			name:    "etcd volume of size 0",
			edit:    func(v map[string]any) { v["etcd"] = map[string]any{"volume": map[string]any{"sizeGiB": 0}} },
			wantErr: "sizeGiB",
		},
		{
			name:    "unknown key in etcd",
			edit:    func(v map[string]any) { v["etcd"] = map[string]any{"heartbeatInterval": 250} },
			wantErr: "heartbeatInterval",
		},
		{
			name:    "election timeout above etcd's maximum",
			edit:    func(v map[string]any) { v["etcd"] = map[string]any{"electionTimeoutMs": 60000} },
			wantErr: "electionTimeoutMs",
		},
		{
			name:    "defragmentation schedule that is not cron",
			edit:    func(v map[string]any) { v["etcd"] = map[string]any{"defragSchedule": "weekly"} },
			wantErr: "defragSchedule",
		},
		{
			name: "etcd tuned, defragmentation off, certificate renewal off",
			edit: func(v map[string]any) {
				v["etcd"] = map[string]any{"heartbeatIntervalMs": 100, "electionTimeoutMs": 1000, "quotaBackendGiB": 2, "defragSchedule": ""}
				v["controlPlane"].(map[string]any)["certificatesExpiryDays"] = 0
			},
		},
		{
			name:    "certificate renewal under Cluster API's 7 days",
			edit:    func(v map[string]any) { v["controlPlane"].(map[string]any)["certificatesExpiryDays"] = 3 },
			wantErr: "certificatesExpiryDays",
		},
		{
			name: "unknown keys inside the pass-through kubeadmConfigSpec",
			edit: func(v map[string]any) {
				v["controlPlane"].(map[string]any)["kubeadmConfigSpec"] = map[string]any{"anything": map[string]any{"goes": true}}
				group(v, 0)["kubeadmConfigSpec"] = map[string]any{"files": []any{map[string]any{"path": "/x", "content": "y"}}}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := loadValues(t, "plain")
			if tc.edit != nil {
				tc.edit(v)
			}
			_, err := expand.Expand(context.Background(), options(v))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("accepted, want an error about %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not name %q", err, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), "schema"):
				t.Fatalf("error %q is not the schema's", err)
			}
		})
	}
}

func TestPassThroughMerges(t *testing.T) {
	t.Parallel()
	objs, err := expand.Expand(context.Background(), options(loadValues(t, "autoscale-gpu")))
	if err != nil {
		t.Fatal(err)
	}
	kct := find(t, objs, "KubeadmConfigTemplate", templateNameOf(t, objs, "gpu"))
	nr, _, _ := unstructured.NestedMap(kct.Object, "spec", "template", "spec", "joinConfiguration", "nodeRegistration")
	if nr["imagePullSerial"] != false || nr["kubeletExtraArgs"] == nil || nr["taints"] == nil {
		t.Errorf("merged nodeRegistration %v", nr)
	}
}

func templateNameOf(t *testing.T, objs []*unstructured.Unstructured, group string) string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "KubeadmConfigTemplate" && o.GetLabels()["capiform.dev/node-group"] == group {
			return o.GetName()
		}
	}
	t.Fatalf("no KubeadmConfigTemplate of %s", group)
	return ""
}
