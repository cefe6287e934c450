package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/platform"
	"github.com/capiform/capiform/tools/source"
)

// TestPlatformSupportWarnsOrStops: a component that upstream has not yet
// tested on the cluster's minor, but that says newer minors rely on
// Kubernetes' compatibility (Cilium on 1.36), is a warning that does not
// stop the render; a release above a max that refuses (the retired
// ingress-nginx on 1.36) stops it, at the cluster's version, with the
// retired warning beside it.
func TestPlatformSupportWarnsOrStops(t *testing.T) {
	teaching := func(version, values, ingress string) []byte {
		return []byte(`apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: teaching}
spec:
  kubernetesVersion: ` + version + `
  controlPlane: {flavor: standard.small}
  apiServer: {allowedCIDRs: [10.20.0.0/16]}
  platforms:
    - {name: base, values: ` + values + `}
    - {name: ingress, values: ` + ingress + `}
`)
	}
	t.Run("warnings render", func(t *testing.T) {
		dir := testrepo.New(t, true)
		testrepo.WriteFiles(t, dir, map[string][]byte{"clusters/edi/teaching.yaml": teaching("v1.36.1", "{cni: {provider: cilium}}", "{}")})
		res, err := pipeline.Render(context.Background(), pipeline.Default(source.Worktree(dir)))
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		rules := map[string]string{}
		for _, w := range res.Warnings {
			if w.File == "clusters/edi/teaching.yaml" {
				rules[w.Rule] += w.Message + "\n"
			}
		}
		if !strings.Contains(rules[platform.RuleKubernetesSupport], "chart cilium 1.19.3) is supported upstream up to Kubernetes 1.35") {
			t.Errorf("no warning for Cilium on 1.36 in %v", res.Warnings)
		}
		if res.Sites["edi"] == nil {
			t.Errorf("the site was not rendered")
		}
	})
	t.Run("refusal stops", func(t *testing.T) {
		dir := testrepo.New(t, true)
		testrepo.WriteFiles(t, dir, map[string][]byte{
			"clusters/edi/teaching.yaml": teaching("v1.36.1", "{}", "{ingress: {controller: ingress-nginx}}"),
		})
		// ingress-nginx's last release is tested up to 1.35: refused on 1.36.
		_, err := pipeline.Render(context.Background(), pipeline.Default(source.Worktree(dir)))
		var list diag.List
		if !errors.As(err, &list) {
			t.Fatalf("err = %v, want diagnostics", err)
		}
		refused, retired := false, false
		for _, d := range list {
			if d.Rule == platform.RuleKubernetesSupport && d.Severity == diag.Error && d.File == "clusters/edi/teaching.yaml" && d.Line == 5 && strings.Contains(d.Message, "ingress-nginx") {
				refused = true
			}
			if d.Rule == platform.RuleRetired && d.Severity == diag.Warning && d.Line == 10 && strings.Contains(d.Message, "ingress-nginx") {
				retired = true
			}
		}
		if !refused || !retired {
			t.Errorf("want a refusal at clusters/edi/teaching.yaml:5 and a retired warning at line 10, got:\n%v", list)
		}
	})
}
