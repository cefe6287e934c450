package fluxenv

import (
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
)

// TestUnsupported: what the stand-in does not do is refused by name, and
// what it does is not.
func TestUnsupported(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec helmv2.HelmReleaseSpec
		want string
	}{
		{"kubeConfig secretRef, dependsOn and targetPath are done", helmv2.HelmReleaseSpec{
			KubeConfig: &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: "c-kubeconfig", Key: "value"}},
			DependsOn:  []meta.DependencyReference{{Name: "cni"}},
			ValuesFrom: []meta.ValuesReference{{Kind: "Secret", Name: "creds", TargetPath: "a.b"}},
		}, ""},
		{"kubeConfig of a cloud provider", helmv2.HelmReleaseSpec{
			KubeConfig: &meta.KubeConfigReference{ConfigMapRef: &meta.LocalObjectReference{Name: "gke"}},
		}, "spec.kubeConfig without secretRef"},
		{"readyExpr", helmv2.HelmReleaseSpec{DependsOn: []meta.DependencyReference{{Name: "cni", ReadyExpr: "true"}}}, "spec.dependsOn[].readyExpr"},
		{"impersonation", helmv2.HelmReleaseSpec{ServiceAccountName: "sa"}, "spec.serviceAccountName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := unsupported(&helmv2.HelmRelease{Spec: tc.spec})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want a refusal naming %s", err, tc.want)
			}
		})
	}
}
