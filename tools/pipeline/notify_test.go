package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/source"
	"github.com/capiform/capiform/tools/verify"
)

// pipelineFleet copies tools/pipeline/testdata/fleet (site t1: git host,
// lockdown and encrypted tokens on) into a test repository.
func pipelineFleet(t *testing.T) string {
	t.Helper()
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join("testdata", "fleet"), dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func findBuilt(built map[string][]*unstructured.Unstructured, kind, ns, name string) (string, *unstructured.Unstructured) {
	for dir, objs := range built {
		for _, o := range objs {
			if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
				return dir, o
			}
		}
	}
	return "", nil
}

// TestReconcileOnMergeAndLockdown: a site with spec.flux.gitHost and
// spec.flux.tenancy renders a Receiver of its GitRepository and a commit
// status Provider and Alert, all in flux-system, their tokens delivered
// encrypted by flux-system-secrets; every object that acts on the
// management cluster for a cluster impersonates that cluster's
// ServiceAccount, which the tree makes in the object's namespace and binds
// in the cluster's namespace only; nothing refers across namespaces; and
// everything verifies against the upstream types.
func TestReconcileOnMergeAndLockdown(t *testing.T) {
	res := renderDir(t, pipelineFleet(t))
	built, err := render.BuildAll("t1", res.Sites["t1"])
	if err != nil {
		t.Fatal(err)
	}
	for dir, objs := range built {
		if err := verify.Objects(objs); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
	if refs := render.CrossNamespaceRefs(built); len(refs) > 0 {
		t.Errorf("cross-namespace references:\n%s", strings.Join(refs, "\n"))
	}
	if missing := render.MissingServiceAccounts(built); len(missing) > 0 {
		t.Errorf("without a service account:\n%s", strings.Join(missing, "\n"))
	}

	_, recv := findBuilt(built, "Receiver", "flux-system", render.ReceiverName)
	if recv == nil {
		t.Fatal("no Receiver")
	}
	if typ, _, _ := unstructured.NestedString(recv.Object, "spec", "type"); typ != "github" {
		t.Errorf("Receiver type %q", typ)
	}
	if s, _, _ := unstructured.NestedString(recv.Object, "spec", "secretRef", "name"); s != "webhook-token" {
		t.Errorf("Receiver secret %q", s)
	}
	rs, _, _ := unstructured.NestedSlice(recv.Object, "spec", "resources")
	if len(rs) != 1 || rs[0].(map[string]any)["kind"] != "GitRepository" || rs[0].(map[string]any)["name"] != "flux-system" {
		t.Errorf("Receiver resources %v, want the site's GitRepository", rs)
	}
	_, alert := findBuilt(built, "Alert", "flux-system", render.StatusAlertName)
	_, prov := findBuilt(built, "Provider", "flux-system", render.StatusProviderName)
	if alert == nil || prov == nil {
		t.Fatal("no commit status Alert or Provider")
	}
	if sev, _, _ := unstructured.NestedString(alert.Object, "spec", "eventSeverity"); sev != "info" {
		t.Errorf("Alert severity %q: readiness would not reach the commit", sev)
	}
	if a, _, _ := unstructured.NestedString(prov.Object, "spec", "address"); a != "https://github.com/example/fleet" {
		t.Errorf("Provider address %q", a)
	}
	// The tokens: encrypted, in flux-system, delivered by a Kustomization
	// that decrypts.
	for _, name := range []string{"webhook-token", "commit-status-token"} {
		dir, sec := findBuilt(built, "Secret", "flux-system", name)
		if sec == nil {
			t.Errorf("no Secret flux-system/%s", name)
			continue
		}
		if _, ok := sec.Object["sops"]; !ok || dir != "secrets/flux-system" {
			t.Errorf("Secret %s in %s is not the encrypted file", name, dir)
		}
	}
	_, sk := findBuilt(built, "Kustomization", "flux-system", render.SiteSecretsName)
	if sk == nil {
		t.Fatal("no flux-system-secrets Kustomization")
	}
	if p, _, _ := unstructured.NestedString(sk.Object, "spec", "decryption", "secretRef", "name"); p != "sops-age" {
		t.Errorf("flux-system-secrets decrypts with %q", p)
	}

	// The lockdown: each object's account exists in its namespace and is
	// bound in the cluster's namespace.
	for _, cluster := range []string{"lagging", "t1-mgmt"} {
		sa := cluster + "-reconciler"
		for _, o := range []struct{ kind, name string }{
			{"Kustomization", cluster}, {"Kustomization", cluster + "-secrets"}, {"Kustomization", cluster + "-addons"}, {"HelmRelease", cluster},
		} {
			_, obj := findBuilt(built, o.kind, "flux-system", o.name)
			if obj == nil {
				t.Errorf("no %s %s", o.kind, o.name)
				continue
			}
			if got, _, _ := unstructured.NestedString(obj.Object, "spec", "serviceAccountName"); got != sa {
				t.Errorf("%s %s runs as %q, want %s", o.kind, o.name, got, sa)
			}
		}
		if dir, acct := findBuilt(built, "ServiceAccount", "flux-system", sa); acct == nil || dir != "" {
			t.Errorf("ServiceAccount flux-system/%s not applied by the root (in %q)", sa, dir)
		}
		// The account outlives the cluster's Kustomizations: their
		// finalizers delete as it, and skip the deletion without it.
		for _, o := range built[""] {
			if o.GetLabels()[render.ClusterLabel] == cluster && o.GetKind() != "Kustomization" && o.GetAnnotations()[render.PruneAnnotation] != "disabled" {
				t.Errorf("%s %s/%s of the lockdown can be pruned", o.GetKind(), o.GetNamespace(), o.GetName())
			}
		}
		_, rb := findBuilt(built, "RoleBinding", cluster, render.ClusterRoleName)
		if rb == nil {
			t.Errorf("no RoleBinding in namespace %s", cluster)
		} else if subj, _, _ := unstructured.NestedSlice(rb.Object, "subjects"); len(subj) != 1 || subj[0].(map[string]any)["name"] != sa {
			t.Errorf("RoleBinding %s/%s binds %v", cluster, rb.GetName(), subj)
		}
		if _, hr := findBuilt(built, "HelmRelease", "flux-system", cluster); hr != nil {
			if cn, _, _ := unstructured.NestedBool(hr.Object, "spec", "install", "createNamespace"); cn {
				t.Errorf("HelmRelease %s creates its namespace: its account may not", cluster)
			}
		}
	}
	_, root := findBuilt(built, "Kustomization", "flux-system", "flux-system")
	if sa, _, _ := unstructured.NestedString(root.Object, "spec", "serviceAccountName"); sa != render.FluxControllerAccount {
		t.Errorf("the root runs as %q, want %s", sa, render.FluxControllerAccount)
	}

	// The check sees an object that lost its account, and a reference to
	// another namespace.
	_, ck := findBuilt(built, "Kustomization", "flux-system", "lagging")
	unstructured.RemoveNestedField(ck.Object, "spec", "serviceAccountName")
	if got := render.MissingServiceAccounts(built); len(got) != 1 || !strings.Contains(got[0], "Kustomization flux-system/lagging") {
		t.Errorf("MissingServiceAccounts = %v, want the lagging Kustomization", got)
	}
	_, hr := findBuilt(built, "HelmRelease", "flux-system", "lagging")
	unstructured.SetNestedField(hr.Object, "lagging", "spec", "chart", "spec", "sourceRef", "namespace")
	if got := render.CrossNamespaceRefs(built); len(got) != 1 || !strings.Contains(got[0], "spec.chart.spec.sourceRef -> lagging/flux-system") {
		t.Errorf("CrossNamespaceRefs = %v", got)
	}
}

// TestGitHostBadInput: a git host whose tokens are missing, not encrypted
// or in clear is refused with the site file's line (or the file's) and
// what to do.
func TestGitHostBadInput(t *testing.T) {
	const site = "clusters/t1/site.yaml"
	const webhook = "clusters/t1/secrets/flux-system/webhook-token.sops.yaml"
	cases := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   []string
	}{
		{
			name: "webhook token missing",
			change: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, webhook))
			},
			want: []string{site + ":", "secrets.missing", "webhook-token", "capiform secrets create t1 --cluster flux-system --name webhook-token"},
		},
		{
			name: "status token missing",
			change: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "clusters/t1/secrets/flux-system/commit-status-token.sops.yaml"))
			},
			want: []string{site + ":", "secrets.missing", "commit-status-token"},
		},
		{
			name: "receiver token in clear",
			change: func(t *testing.T, dir string) {
				testrepo.WriteFiles(t, dir, map[string][]byte{webhook: []byte(
					"apiVersion: v1\nkind: Secret\nmetadata: {name: webhook-token, namespace: flux-system}\nstringData:\n  token: CANARY-WEBHOOK\n")})
			},
			want: []string{webhook + ":5:", "secrets.clear", "in clear"},
		},
		{
			name: "git host without age recipients",
			change: func(t *testing.T, dir string) {
				p := filepath.Join(dir, site)
				b, _ := os.ReadFile(p)
				lines := strings.Split(string(b), "\n")
				var out []string
				for i := 0; i < len(lines); i++ {
					if strings.HasPrefix(lines[i], "  secrets:") {
						i++ // and its ageRecipients line
						continue
					}
					out = append(out, lines[i])
				}
				os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644)
			},
			want: []string{site + ":", "secrets.missing", "spec.secrets.ageRecipients"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := pipelineFleet(t)
			tc.change(t, dir)
			_, err := pipeline.Render(context.Background(), pipeline.Default(source.Worktree(dir)))
			var list diag.List
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want diagnostics", err)
			}
			got := list.Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "CANARY") {
				t.Errorf("a token value reached the diagnostics:\n%s", got)
			}
		})
	}
}
