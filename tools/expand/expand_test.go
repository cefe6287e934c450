package expand_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// chartDir is the chart under test, relative to this package.
const chartDir = "../../charts/openstack-cluster"

func loadValues(t testing.TB, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func options(values map[string]any) expand.Options {
	name, _ := values["clusterName"].(string)
	return expand.Options{
		Chart:                os.DirFS(chartDir),
		ReleaseName:          name,
		Namespace:            "site-a-" + name,
		Values:               values,
		KubeVersion:          "v1.36.1",
		HelmReleaseName:      name,
		HelmReleaseNamespace: "site-a-" + name,
	}
}

func marshal(t testing.TB, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	return buf.Bytes()
}

func TestExpandGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"plain", "autoscale-gpu", "existing-network", "adopted", "node-config", "placement-network"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			objs, err := expand.Expand(context.Background(), options(loadValues(t, name)))
			if err != nil {
				t.Fatal(err)
			}
			if err := verify.Objects(objs); err != nil {
				t.Errorf("verify: %v", err)
			}
			got := marshal(t, objs)
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestExpandDeterministic(t *testing.T) {
	t.Parallel()
	values := loadValues(t, "autoscale-gpu")
	first, err := expand.Expand(context.Background(), options(values))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := expand.Expand(context.Background(), options(loadValues(t, "autoscale-gpu")))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(marshal(t, first)), string(marshal(t, again))); diff != "" {
			t.Fatalf("expansion differs between runs (-first +again):\n%s", diff)
		}
	}
}

func TestExpandPostRendererLabels(t *testing.T) {
	t.Parallel()
	objs, err := expand.Expand(context.Background(), options(loadValues(t, "plain")))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		l := o.GetLabels()
		if l[expand.LabelHelmReleaseName] != "research" || l[expand.LabelHelmReleaseNamespace] != "site-a-research" {
			t.Errorf("%s %s: origin labels %v", o.GetKind(), o.GetName(), l)
		}
		if o.GetNamespace() != "site-a-research" {
			t.Errorf("%s %s: namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		for _, k := range []string{"capiform.dev/site", "capiform.dev/cluster", "cluster.x-k8s.io/cluster-name"} {
			if l[k] == "" {
				t.Errorf("%s %s: no label %s", o.GetKind(), o.GetName(), k)
			}
		}
	}
}

func TestAutoscaledGroup(t *testing.T) {
	t.Parallel()
	objs, err := expand.Expand(context.Background(), options(loadValues(t, "autoscale-gpu")))
	if err != nil {
		t.Fatal(err)
	}
	md := find(t, objs, "MachineDeployment", "ml-gpu")
	if _, found, _ := unstructured.NestedFieldNoCopy(md.Object, "spec", "replicas"); found {
		t.Error("autoscaled MachineDeployment has spec.replicas")
	}
	want := map[string]string{
		"cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size": "0",
		"cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size": "4",
		"capacity.cluster-autoscaler.kubernetes.io/cpu":               "16",
		"capacity.cluster-autoscaler.kubernetes.io/memory":            "65536Mi",
		"capacity.cluster-autoscaler.kubernetes.io/gpu-count":         "1",
		"capacity.cluster-autoscaler.kubernetes.io/gpu-type":          "nvidia.com/gpu",
		"capacity.cluster-autoscaler.kubernetes.io/labels":            "node-role.kubernetes.io/gpu=,node.cluster.x-k8s.io/accelerator=nvidia-a100",
		"capacity.cluster-autoscaler.kubernetes.io/taints":            "nvidia.com/gpu=true:NoSchedule",
	}
	if diff := cmp.Diff(want, md.GetAnnotations()); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	// min 1: no capacity annotations.
	cpu := find(t, objs, "MachineDeployment", "ml-cpu")
	for k := range cpu.GetAnnotations() {
		if strings.HasPrefix(k, "capacity.") {
			t.Errorf("min-1 group has %s", k)
		}
	}
	dep := find(t, objs, "Deployment", "ml-autoscaler")
	args, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := args[0].(map[string]any)
	got := strings.Join(toStrings(c["args"]), " ")
	for _, w := range []string{
		"--cloud-provider=clusterapi",
		"--node-group-auto-discovery=clusterapi:namespace=site-a-ml,clusterName=ml",
		"--kubeconfig=",
		"--clusterapi-cloud-config-authoritative",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("autoscaler args %q lack %q", got, w)
		}
	}
	if c["image"] != "registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.0" {
		t.Errorf("autoscaler image %v", c["image"])
	}
	// No autoscaled group: no autoscaler.
	plain, err := expand.Expand(context.Background(), options(loadValues(t, "plain")))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range plain {
		if o.GetKind() == "Deployment" {
			t.Errorf("autoscaler deployed without an autoscaled group: %s", o.GetName())
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func BenchmarkExpand(b *testing.B) {
	values := loadValues(b, "plain")
	ctx := context.Background()
	for b.Loop() {
		if _, err := expand.Expand(ctx, options(values)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChartExpand expands with a chart loaded once, as render --check,
// expand --all and diff do.
func BenchmarkChartExpand(b *testing.B) {
	values := loadValues(b, "plain")
	ctx := context.Background()
	c, err := expand.Load(os.DirFS(chartDir))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Expand(ctx, options(values)); err != nil {
			b.Fatal(err)
		}
	}
}
