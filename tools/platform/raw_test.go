package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apivalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/api/v1alpha1"

	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// rawChart stands in for Bedag's raw chart 2.0.2, which the catalogue's
// nic-cluster-policy and manila-storage components install: its
// templates/resources.yaml renders each string of .Values.templates with
// tpl against the chart's root context, a document each. (Its resources
// list and common labels are not used by the catalogue.) Helm's own engine
// renders it here, so the catalogue's template strings are checked as Helm
// will run them.
var rawChart = fstest.MapFS{
	"Chart.yaml": {Data: []byte("apiVersion: v2\nname: raw\nversion: 2.0.2\n")},
	"templates/resources.yaml": {Data: []byte(`{{- range $.Values.templates }}
---{{- (tpl . $) | nindent 0 }}
{{- end }}
`)},
}

// resolveShared resolves one cluster of this package's fleet.
func resolveShared(t *testing.T, cluster string) map[string]Addon {
	t.Helper()
	fsys := testrepo.FleetFSOf(sharedFleetDir)
	cat, err := LoadCatalogue(fsys)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := load.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range fleet.Sites {
		if c := s.Cluster(cluster); c != nil {
			rel, d := resolve.Cluster(s, c)
			if len(d) > 0 {
				t.Fatal(d)
			}
			addons, err := cat.Resolve(s, c, rel)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]Addon{}
			for _, a := range addons {
				out[a.Component] = a
			}
			return out
		}
	}
	t.Fatalf("no cluster %s in %s", cluster, sharedFleetDir)
	return nil
}

func renderRaw(t *testing.T, a Addon) []*unstructured.Unstructured {
	t.Helper()
	objs, err := expand.Expand(context.Background(), expand.Options{
		Chart: rawChart, ReleaseName: a.Identity.ReleaseName, Namespace: a.Identity.TargetNamespace,
		Values: a.Values, KubeVersion: "v1.35.4",
	})
	if err != nil {
		t.Fatalf("%s: %v", a.Component, err)
	}
	return objs
}

// TestNicClusterPolicyFromValues renders the network platform's
// NicClusterPolicy for the fabric cluster: the one object the operator
// acts on, its spec the defaults merged with the cluster's values.
func TestNicClusterPolicyFromValues(t *testing.T) {
	t.Parallel()
	objs := renderRaw(t, resolveShared(t, "fabric")["nic-cluster-policy"])
	if len(objs) != 1 {
		t.Fatalf("rendered %d objects, want the NicClusterPolicy alone", len(objs))
	}
	o := objs[0]
	if o.GetAPIVersion() != "mellanox.com/v1alpha1" || o.GetKind() != "NicClusterPolicy" || o.GetName() != "nic-cluster-policy" {
		t.Fatalf("rendered %s %s %s, want mellanox.com/v1alpha1 NicClusterPolicy nic-cluster-policy", o.GetAPIVersion(), o.GetKind(), o.GetName())
	}
	for _, f := range []string{"rdmaSharedDevicePlugin", "secondaryNetwork", "nvIpam", "sriovDevicePlugin"} {
		if _, ok, _ := unstructured.NestedMap(o.Object, "spec", f); !ok {
			t.Errorf("spec.%s is missing", f)
		}
	}
	if v, _, _ := unstructured.NestedString(o.Object, "spec", "rdmaSharedDevicePlugin", "version"); v != "network-operator-v26.4.1" {
		t.Errorf("rdmaSharedDevicePlugin.version = %q, want the chart's release network-operator-v26.4.1", v)
	}
}

// TestManilaStorageFromValues renders the storage platform's storage
// classes and credentials Secret for the shares cluster, with a cloud.conf
// as the site's Secret gives it through valuesFrom.
func TestManilaStorageFromValues(t *testing.T) {
	t.Parallel()
	a := resolveShared(t, "shares")["manila-storage"]
	a.Values = copyMap(a.Values)
	a.Values["cloudConf"] = `[Global]
auth-url = https://keystone.example.org:5000/v3
region = "RegionOne"
application-credential-id = placeholder-id
application-credential-secret = placeholder
; a comment = not a key
[LoadBalancer]
floating-network-id = 0b6d1f3e-2c4a-4e8b-9f17-6a5d3c2b1e09
`
	objs := renderRaw(t, a)
	classes := map[string]storagev1.StorageClass{}
	var secret map[string]any
	for _, o := range objs {
		switch o.GetKind() {
		case "Secret":
			secret, _, _ = unstructured.NestedMap(o.Object, "stringData")
			if o.GetName() != "manila-csi-credentials" || o.GetNamespace() != "kube-system" {
				t.Errorf("Secret %s/%s, want kube-system/manila-csi-credentials", o.GetNamespace(), o.GetName())
			}
		case "StorageClass":
			var sc storagev1.StorageClass
			js, _ := json.Marshal(o.Object)
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sc); err != nil {
				t.Fatalf("StorageClass %s: %v", o.GetName(), err)
			}
			classes[sc.Name] = sc
		default:
			t.Errorf("unexpected %s %s", o.GetKind(), o.GetName())
		}
	}
	wantSecret := map[string]any{
		"os-authURL": "https://keystone.example.org:5000/v3", "os-region": "RegionOne",
		"os-applicationCredentialID": "placeholder-id", "os-applicationCredentialSecret": "placeholder",
		// Site hpc has a private CA: the machine's copy, as csi-manila's
		// plugins mount it.
		"os-certAuthorityPath": "/etc/cacert/openstack-cloud.crt",
	}
	if len(secret) != len(wantSecret) {
		t.Errorf("Secret stringData has %d keys %v, want %d: only [Global]'s credentials and the CA", len(secret), secret, len(wantSecret))
	}
	for k, v := range wantSecret {
		if secret[k] != v {
			t.Errorf("Secret stringData[%s] = %v, want %v", k, secret[k], v)
		}
	}
	for _, tc := range []struct {
		name, provisioner, reclaim string
		isDefault                  bool
		param                      [2]string
	}{
		{"manila-cephfs", "cephfs.manila.csi.openstack.org", "Delete", true, [2]string{"cephfs-mounter", "kernel"}},
		{"manila-nfs", "nfs.manila.csi.openstack.org", "Retain", false, [2]string{"shareNetworkID", "7c1e9a52-3f0b-4d6e-8a2c-5b9d0e4f1a36"}},
	} {
		sc, ok := classes[tc.name]
		if !ok {
			t.Errorf("no StorageClass %s", tc.name)
			continue
		}
		if sc.Provisioner != tc.provisioner || string(*sc.ReclaimPolicy) != tc.reclaim || (sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true") != tc.isDefault {
			t.Errorf("%s: provisioner %s, reclaimPolicy %s, annotations %v; want %s, %s, default %v", tc.name, sc.Provisioner, *sc.ReclaimPolicy, sc.Annotations, tc.provisioner, tc.reclaim, tc.isDefault)
		}
		if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
			t.Errorf("%s: allowVolumeExpansion %v, want true", tc.name, sc.AllowVolumeExpansion)
		}
		if sc.Parameters[tc.param[0]] != tc.param[1] || sc.Parameters["type"] == "" {
			t.Errorf("%s: parameters %v, want %s=%s and the share type", tc.name, sc.Parameters, tc.param[0], tc.param[1])
		}
		for _, use := range []string{"provisioner", "controller-expand", "node-stage", "node-publish"} {
			if sc.Parameters["csi.storage.k8s.io/"+use+"-secret-name"] != "manila-csi-credentials" || sc.Parameters["csi.storage.k8s.io/"+use+"-secret-namespace"] != "kube-system" {
				t.Errorf("%s: the %s secret is not kube-system/manila-csi-credentials: %v", tc.name, use, sc.Parameters)
			}
		}
	}
	if len(classes) != 2 {
		t.Errorf("rendered %d storage classes, want the cluster's 2", len(classes))
	}
}

// TestNicClusterPolicyMatchesCRD checks the NicClusterPolicy the network
// platform renders, with its defaults alone and with the fabric cluster's
// values, against the operator's own CRD of release v26.4.1
// (testdata/crds/network-operator): no field the API server would prune,
// nothing its OpenAPI schema or CEL rules refuse.
func TestNicClusterPolicyMatchesCRD(t *testing.T) {
	t.Parallel()
	check := crdCheck(t, filepath.Join("network-operator", "mellanox.com_nicclusterpolicies.yaml"), "v1alpha1")

	cat, err := LoadCatalogue(os.DirFS(repoRoot))
	if err != nil {
		t.Fatal(err)
	}
	defaults := &load.Cluster{}
	defaults.Metadata.Name = "c"
	defaults.Spec.KubernetesVersion = "v1.35.4"
	defaults.Spec.Platforms = []v1alpha1.PlatformRef{{Name: "base"}, {Name: "network"}}
	addons, err := cat.Resolve(&load.Site{}, defaults, nil)
	if err != nil {
		t.Fatal(err)
	}
	var fromDefaults Addon
	for _, a := range addons {
		if a.Component == "nic-cluster-policy" {
			fromDefaults = a
		}
	}
	for name, a := range map[string]Addon{
		"defaults": fromDefaults,
		"fabric":   resolveShared(t, "fabric")["nic-cluster-policy"],
	} {
		t.Run(name, func(t *testing.T) {
			objs := renderRaw(t, a)
			if len(objs) != 1 {
				t.Fatalf("rendered %d objects, want one NicClusterPolicy", len(objs))
			}
			obj := objs[0].Object
			unstructured.RemoveNestedField(obj, "metadata", "namespace") // cluster-scoped; Helm sets none
			unstructured.RemoveNestedField(obj, "metadata", "labels")
			check(t, obj)
		})
	}
}

// crdCheck reads a CRD of testdata/crds and returns what the API server
// checks of an object of its version: no field it would prune (unknown),
// its OpenAPI schema, and its CEL rules.
func crdCheck(t *testing.T, file, version string) func(t *testing.T, obj map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := sigsyaml.UnmarshalStrict(data, &crd); err != nil {
		t.Fatal(err)
	}
	var v1 *apiextensionsv1.CustomResourceValidation
	for _, v := range crd.Spec.Versions {
		if v.Name == version {
			v1 = v.Schema
		}
	}
	if v1 == nil {
		t.Fatalf("%s has no %s schema", file, version)
	}
	var internal apiextensions.CustomResourceValidation
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v1, &internal, nil); err != nil {
		t.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	validator, _, err := apivalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	celValidator := cel.NewValidator(structural, true, celconfig.PerCallLimit)
	return func(t *testing.T, obj map[string]any) {
		t.Helper()
		if got := obj["apiVersion"]; got != crd.Spec.Group+"/"+version {
			t.Errorf("apiVersion %v, want %s/%s", got, crd.Spec.Group, version)
		}
		if got := obj["kind"]; got != crd.Spec.Names.Kind {
			t.Errorf("kind %v, want %s", got, crd.Spec.Names.Kind)
		}
		pruned := runtime.DeepCopyJSON(obj)
		if unknown := pruning.PruneWithOptions(pruned, structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(unknown) > 0 {
			t.Errorf("fields the API server would prune: %v", unknown)
		}
		for _, e := range apivalidation.ValidateCustomResource(nil, obj, validator) {
			t.Errorf("schema: %v", e)
		}
		errs, _ := celValidator.Validate(context.Background(), nil, structural, obj, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range errs {
			t.Errorf("CEL: %v", e)
		}
	}
}

// TestBlockMetadataMatchesCRDs holds the objects of the base platform's
// metadata policy (platforms/base/block-metadata, one folder per CNI
// variant) to the CRDs of the CNI releases the catalogue installs:
// Calico v3.32.1's native projectcalico.org/v3 Tier and
// GlobalNetworkPolicy, Cilium 1.19.3's CiliumClusterwideNetworkPolicy
// (testdata/crds/calico, testdata/crds/cilium).
func TestBlockMetadataMatchesCRDs(t *testing.T) {
	t.Parallel()
	crds := map[string]struct{ file, version string }{
		"Tier":                           {filepath.Join("calico", "projectcalico.org_tiers.yaml"), "v3"},
		"GlobalNetworkPolicy":            {filepath.Join("calico", "projectcalico.org_globalnetworkpolicies.yaml"), "v3"},
		"CiliumClusterwideNetworkPolicy": {filepath.Join("cilium", "ciliumclusterwidenetworkpolicies.yaml"), "v2"},
	}
	seen := map[string]bool{}
	for _, variant := range []string{"calico", "cilium"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "platforms", "base", "block-metadata", variant, "block-metadata.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var obj map[string]any
			if err := sigsyaml.Unmarshal(doc, &obj); err != nil {
				t.Fatalf("%s document %d: %v", variant, i, err)
			}
			kind, _ := obj["kind"].(string)
			crd, ok := crds[kind]
			if !ok {
				t.Fatalf("%s document %d: no CRD of kind %q in testdata/crds", variant, i, kind)
			}
			seen[kind] = true
			t.Run(variant+"/"+kind, func(t *testing.T) {
				crdCheck(t, crd.file, crd.version)(t, obj)
			})
		}
	}
	for kind := range crds {
		if !seen[kind] {
			t.Errorf("no %s in the metadata policy: remove its CRD from the test", kind)
		}
	}
}
