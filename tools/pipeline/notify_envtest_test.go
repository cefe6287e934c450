package pipeline_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/capiform/capiform/tools/envtestutil"
	"github.com/capiform/capiform/tools/render"
)

// moduleCRDs reads the CRDs under config/crd/bases of a Go module version
// (from the module cache, fetched through the Go module proxy if needed).
func moduleCRDs(t *testing.T, module string) []*apiextensionsv1.CustomResourceDefinition {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		t.Skipf("the CRDs of %s are not at hand (go mod download: %v)", module, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Skipf("go mod download %s: no folder", module)
	}
	files, _ := filepath.Glob(filepath.Join(m.Dir, "config", "crd", "bases", "*.yaml"))
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		crds = append(crds, envtestutil.ReadCRDs(t, f, nil)...)
	}
	return crds
}

// TestGeneratedTreeAcceptedByFluxCRDs: every object of the generated tree
// of the test fleet's site t1 (its Receiver, commit status Provider and
// Alert, the lockdown's accounts and RBAC, every Kustomization and
// HelmRelease), server-side applied as a dry run to a real API server
// with the real CRDs of source-, kustomize-, helm- and
// notification-controller: their OpenAPI schemas and CEL rules accept
// them. Encrypted Secrets go without their values and SOPS metadata, as
// kustomize-controller applies them once decrypted.
func TestGeneratedTreeAcceptedByFluxCRDs(t *testing.T) {
	envtestutil.RequireAssets(t)
	crds := envtestutil.FluxCRDs(t, nil)
	crds = append(crds, moduleCRDs(t, "github.com/fluxcd/source-controller@v1.9.6")...)
	crds = append(crds, moduleCRDs(t, "github.com/fluxcd/kustomize-controller@v1.9.6")...)
	env := envtestutil.Start(t, crds)
	c, err := ctrlclient.New(env.Config, ctrlclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	res := renderDir(t, pipelineFleet(t))
	built, err := render.BuildAll("t1", res.Sites["t1"])
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	namespaces := map[string]bool{"flux-system": true}
	for _, dir := range sortedKeys(built) {
		for _, o := range built[dir] {
			if o.GetKind() == "Namespace" {
				namespaces[o.GetName()] = true
				continue
			}
			if o.GetNamespace() != "" {
				namespaces[o.GetNamespace()] = true
			}
			objs = append(objs, o)
		}
	}
	// The namespaces are made for real: a dry run into a namespace that
	// does not exist is refused before the schema is looked at.
	for ns := range namespaces {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	kinds := map[string]int{}
	for _, o := range objs {
		// A copy through JSON: kustomize's maps hold Go integers that
		// DeepCopy refuses.
		raw, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		o = &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		if _, enc := o.Object["sops"]; enc {
			delete(o.Object, "sops")
			delete(o.Object, "data")
			delete(o.Object, "stringData")
		}
		err = c.Patch(ctx, o, ctrlclient.Apply, ctrlclient.FieldOwner("capiform-test"), ctrlclient.DryRunAll, ctrlclient.ForceOwnership)
		if err != nil {
			t.Errorf("%s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		kinds[o.GetKind()]++
	}
	for _, k := range []string{"Receiver", "Provider", "Alert", "Kustomization", "HelmRelease", "ServiceAccount", "RoleBinding", "Secret"} {
		if kinds[k] == 0 {
			t.Errorf("no %s was applied: the test fleet no longer covers it", k)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
