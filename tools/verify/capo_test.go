package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/envtestutil"
	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/verify"
)

// sourced is an expanded object and what it was expanded from.
type sourced struct {
	from string
	obj  *unstructured.Unstructured
}

var (
	openStackOnce sync.Once
	openStackObjs []sourced
	openStackErr  error
)

// openStackObjects are the OpenStack provider's objects of every cluster of
// the test fleet and of every values file of the chart's golden tests
// (tools/expand/testdata), which between them set every field the chart
// can set.
func openStackObjects(t *testing.T) []sourced {
	t.Helper()
	openStackOnce.Do(func() { openStackObjs, openStackErr = expandOpenStack() })
	if openStackErr != nil {
		t.Fatal(openStackErr)
	}
	if len(openStackObjs) == 0 {
		t.Fatal("no OpenStack objects expanded")
	}
	return openStackObjs
}

func expandOpenStack() ([]sourced, error) {
	apiVersion, _ := verify.CAPOFields()
	var out []sourced
	keep := func(from string, objs []*unstructured.Unstructured) {
		for _, o := range objs {
			if o.GetAPIVersion() == apiVersion {
				out = append(out, sourced{from: from, obj: o})
			}
		}
	}
	ctx := context.Background()
	fsys := testrepo.FleetFS()
	res, err := pipeline.Render(ctx, pipeline.Options{FS: fsys, NoTrees: true})
	if err != nil {
		return nil, err
	}
	for _, rel := range res.Releases {
		objs, err := pipeline.Expand(ctx, fsys, res, rel)
		if err != nil {
			return nil, err
		}
		keep(testrepo.FleetDir+" "+rel.Site+"/"+rel.Cluster, objs)
	}
	files, err := filepath.Glob(filepath.Join("..", "expand", "testdata", "*.values.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no values files under tools/expand/testdata")
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var values map[string]any
		if err := yaml.Unmarshal(data, &values); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		name, _ := values["clusterName"].(string)
		objs, err := expand.Expand(ctx, expand.Options{
			Chart: os.DirFS("../../charts/openstack-cluster"), ReleaseName: name, Namespace: "site-a-" + name, Values: values,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		keep("tools/expand/testdata/"+filepath.Base(f), objs)
	}
	return out, nil
}

// crdSchemas are the OpenAPI schemas of the provider's kinds in the
// version the chart writes, by kind.
func crdSchemas(t *testing.T) map[string]*apiextensionsv1.JSONSchemaProps {
	t.Helper()
	apiVersion, _ := verify.CAPOFields()
	version := apiVersion[strings.Index(apiVersion, "/")+1:]
	out := map[string]*apiextensionsv1.JSONSchemaProps{}
	for _, crd := range envtestutil.CAPOCRDs(t, nil) {
		for _, v := range crd.Spec.Versions {
			if v.Name == version && v.Schema != nil {
				out[crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
			}
		}
	}
	return out
}

// schemaAt follows a capo_fields.yaml path ("spec.ports[].network.id")
// through a CRD's schema.
func schemaAt(root *apiextensionsv1.JSONSchemaProps, path string) (*apiextensionsv1.JSONSchemaProps, error) {
	cur := root
	for _, seg := range strings.Split(path, ".") {
		name := strings.TrimRight(seg, "[]")
		child, ok := cur.Properties[name]
		if !ok {
			return nil, fmt.Errorf("no field %q", name)
		}
		cur = &child
		for range strings.Count(seg, "[]") {
			if cur.Items == nil || cur.Items.Schema == nil {
				return nil, fmt.Errorf("%q is not a list", name)
			}
			cur = cur.Items.Schema
		}
	}
	return cur, nil
}

// TestCAPOFieldsInCRDs: every path of the hand-written field list that
// verify accepts is a field of the provider's CRD, of the type the list
// says. A path the CRD lacks (a typo, or a field of another CAPO version)
// fails here and not at the provider.
func TestCAPOFieldsInCRDs(t *testing.T) {
	t.Parallel()
	schemas := crdSchemas(t)
	_, kinds := verify.CAPOFields()
	for kind, fields := range kinds {
		schema, ok := schemas[kind]
		if !ok {
			t.Errorf("capo_fields.yaml: kind %s: no CRD under testdata/crds/capo", kind)
			continue
		}
		for path, want := range fields {
			s, err := schemaAt(schema, path)
			if err != nil {
				t.Errorf("capo_fields.yaml: %s %s: not in CAPO %s's CRD: %v", kind, path, envtestutil.CAPOVersion, err)
				continue
			}
			if s.Type != want {
				t.Errorf("capo_fields.yaml: %s %s is %s, CAPO %s's CRD says %s", kind, path, want, envtestutil.CAPOVersion, s.Type)
			}
		}
	}
}

// paths adds to into every path of v below path, in capo_fields.yaml's
// notation.
func paths(v any, path string, into map[string]bool) {
	into[path] = true
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			paths(e, path+"."+k, into)
		}
	case []any:
		for _, e := range v {
			paths(e, path+"[]", into)
		}
	}
}

// TestCAPOFieldsCoverChart: the field list is exactly what the chart
// emits: every path of every expanded OpenStack object is in it (verify
// would refuse the object otherwise), and every path in it is emitted by
// some test input, so that no entry outlives the chart's use of it and
// every accepted field is checked against the CRDs by the tests here.
func TestCAPOFieldsCoverChart(t *testing.T) {
	t.Parallel()
	_, kinds := verify.CAPOFields()
	emitted := map[string]map[string]bool{}
	for _, s := range openStackObjects(t) {
		kind := s.obj.GetKind()
		if emitted[kind] == nil {
			emitted[kind] = map[string]bool{}
		}
		for k, v := range s.obj.Object {
			if k == "apiVersion" || k == "kind" || k == "metadata" {
				continue
			}
			got := map[string]bool{}
			paths(v, k, got)
			for p := range got {
				emitted[kind][p] = true
				if _, ok := kinds[kind][p]; !ok {
					t.Errorf("%s: %s %s: %s is not in capo_fields.yaml (add it, with its type from the CRD)", s.from, kind, s.obj.GetName(), p)
				}
			}
		}
	}
	for kind, fields := range kinds {
		var unused []string
		for p := range fields {
			if !emitted[kind][p] {
				unused = append(unused, p)
			}
		}
		sort.Strings(unused)
		for _, p := range unused {
			t.Errorf("capo_fields.yaml: %s %s: no test input makes the chart emit it (remove it, or add a test input that sets it)", kind, p)
		}
	}
}

// TestCRDsAreUpstream: the CRDs under testdata/crds (the OpenStack
// provider's, helm- and notification-controller's) are the upstream files,
// where a copy of those is beside the repository (../shared/crds).
func TestCRDsAreUpstream(t *testing.T) {
	t.Parallel()
	for name, ours := range map[string]string{"capo": envtestutil.CAPOCRDDir(), "flux": envtestutil.FluxCRDDir()} {
		t.Run(name, func(t *testing.T) {
			upstream := filepath.Join(testrepo.Root(), "..", "shared", "crds", name)
			files, err := filepath.Glob(filepath.Join(upstream, "*.yaml"))
			if err != nil || len(files) == 0 {
				t.Skipf("no upstream copy of the CRDs at ../shared/crds/%s beside the repository: testdata/crds/%s is not compared", name, name)
			}
			have, err := filepath.Glob(filepath.Join(ours, "*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if len(have) != len(files) {
				t.Errorf("testdata/crds/%s has %d files, the upstream copy %d", name, len(have), len(files))
			}
			for _, f := range files {
				want, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(ours, filepath.Base(f)))
				if err != nil {
					t.Errorf("testdata/crds/%s: %v", name, err)
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("testdata/crds/%s/%s differs from the upstream copy", name, filepath.Base(f))
				}
			}
		})
	}
}

// TestOpenStackObjectsAdmittedByCAPOCRDs creates every expanded OpenStack
// object, server-side with dry run, on a real API server with the
// provider's CRDs: their OpenAPI schemas (types, enums, formats, min/max
// properties, required fields) and CEL rules judge them, as they will on
// the management cluster. Broken objects are refused, so the check is
// known to bite.
func TestOpenStackObjectsAdmittedByCAPOCRDs(t *testing.T) {
	envtestutil.RequireAssets(t)
	objs := openStackObjects(t)
	env := envtestutil.Start(t, envtestutil.CAPOCRDs(t, nil))
	c, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	namespaces := map[string]bool{}
	create := func(o *unstructured.Unstructured) error {
		if ns := o.GetNamespace(); ns != "" && !namespaces[ns] {
			if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				return err
			}
			namespaces[ns] = true
		}
		return c.Create(ctx, o.DeepCopy(), client.DryRunAll)
	}
	kinds := map[string]int{}
	for _, s := range objs {
		kinds[s.obj.GetKind()]++
		if err := create(s.obj); err != nil {
			t.Errorf("%s: %s %s refused: %v", s.from, s.obj.GetKind(), s.obj.GetName(), err)
		}
	}
	t.Logf("admitted: %v", kinds)

	first := func(kind string) *unstructured.Unstructured {
		for _, s := range objs {
			if s.obj.GetKind() == kind {
				return s.obj.DeepCopy()
			}
		}
		t.Fatalf("no %s expanded", kind)
		return nil
	}
	broken := []struct {
		name, kind, want string
		edit             func(o *unstructured.Unstructured)
	}{
		{"OpenAPI type", "OpenStackCluster", "spec.apiServerPort", func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, "6443", "spec", "apiServerPort")
		}},
		{"unknown field pruned, enum refused", "OpenStackCluster", "direction", func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"name": "x", "direction": "sideways"}}, "spec", "managedSecurityGroups", "allNodesSecurityGroupRules")
		}},
		{"maxProperties: server group by id and by filter", "OpenStackMachineTemplate", "serverGroup", func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedMap(o.Object, map[string]any{"id": "8f6a3c1e-3c8b-4b0e-9a52-7a7d7c1d2e3f", "filter": map[string]any{"name": "g"}}, "spec", "template", "spec", "serverGroup")
		}},
		{"CEL rule", "OpenStackMachineTemplate", "name is required when from is 'Name'", func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedMap(o.Object, map[string]any{"sizeGiB": int64(10), "availabilityZone": map[string]any{"from": "Name"}}, "spec", "template", "spec", "rootVolume")
		}},
	}
	for _, b := range broken {
		o := first(b.kind)
		b.edit(o)
		err := create(o)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: %s admitted or refused for another reason (want %q): %v", b.name, b.kind, b.want, err)
		}
	}
}
