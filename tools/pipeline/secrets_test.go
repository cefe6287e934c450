package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/secrets"
	"github.com/capiform/capiform/tools/source"
	"github.com/capiform/capiform/tools/verify"
)

// TestEncryptedSecretsDelivered: a site's encrypted Secrets are copied
// byte for byte into its generated tree with the cluster's namespace, a
// <cluster>-secrets Kustomization decrypts them with flux-system/sops-age,
// never prunes, and comes before the cluster; the tree builds with
// kustomize and verifies.
func TestEncryptedSecretsDelivered(t *testing.T) {
	dir := testrepo.New(t, true)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "clusters/edi/site.yaml")
	b, _ := os.ReadFile(site)
	os.WriteFile(site, []byte(strings.Replace(string(b), "\nspec:\n", "\nspec:\n  secrets:\n    ageRecipients: ["+id.Recipient().String()+"]\n", 1)), 0o644)
	fleet, err := load.LoadSites(source.Worktree(dir), []string{"edi"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := secrets.Create(secrets.CreateOptions{
		FS: source.Worktree(dir), Site: fleet.Site("edi"),
		CloudsYAML: []byte("clouds:\n  openstack:\n    auth: {auth_url: https://k/v3, application_credential_id: a, application_credential_secret: s}\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	written := map[string][]byte{}
	for p, c := range files {
		written[p] = c
	}
	testrepo.WriteFiles(t, dir, written)

	res := renderDir(t, dir)
	tree := res.Sites["edi"]
	const src = "clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml"
	got := tree["secrets/teaching/edi-cloud-credentials.sops.yaml"]
	if !render.IsGenerated(got) || !strings.HasSuffix(string(got), string(files[src])) {
		t.Fatalf("the encrypted file is not copied as it is under the header:\n%s", got)
	}
	if k := string(tree["secrets/teaching/kustomization.yaml"]); !strings.HasSuffix(k, "resources:\n  - namespace.yaml\n  - edi-cloud-credentials.sops.yaml\n") {
		t.Errorf("kustomization:\n%s", k)
	}
	var ks []kustomizev1.Kustomization
	for _, doc := range strings.Split(string(tree["kustomizations/teaching.yaml"]), "---\n")[1:] {
		var k kustomizev1.Kustomization
		if err := yaml.UnmarshalStrict([]byte(doc), &k); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	byName := map[string]kustomizev1.Kustomization{}
	for _, k := range ks {
		byName[k.Name] = k
	}
	sk, ok := byName["teaching-secrets"]
	if !ok {
		t.Fatalf("no teaching-secrets Kustomization among %d", len(ks))
	}
	if sk.Spec.Prune || sk.Spec.Decryption == nil || sk.Spec.Decryption.Provider != "sops" || sk.Spec.Decryption.SecretRef.Name != "sops-age" ||
		sk.Spec.Path != "./clusters/edi/generated/secrets/teaching" {
		t.Errorf("teaching-secrets: %+v", sk.Spec)
	}
	if deps := byName["teaching"].Spec.DependsOn; len(deps) != 1 || deps[0].Name != "teaching-secrets" {
		t.Errorf("teaching depends on %v, want teaching-secrets", deps)
	}
	built, err := render.BuildAll("edi", tree)
	if err != nil {
		t.Fatal(err)
	}
	objs := built["secrets/teaching"]
	if len(objs) != 2 || objs[0].GetKind() != "Namespace" || objs[1].GetKind() != "Secret" || objs[1].GetNamespace() != "teaching" {
		t.Fatalf("built %d object(s)", len(objs))
	}
	if _, ok := objs[1].Object["sops"]; !ok {
		t.Error("the built Secret lost its sops metadata")
	}
	if err := verify.Objects(objs); err != nil {
		t.Error(err)
	}
	// A site without secrets renders as before: no folder, no Kustomization.
	for p := range res.Sites["lon"] {
		if strings.HasPrefix(p, "secrets/") {
			t.Errorf("site lon has %s", p)
		}
	}
}
