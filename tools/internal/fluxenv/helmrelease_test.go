package fluxenv

import (
	"encoding/json"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
)

// TestReplacePathValue: a valuesFrom targetPath lands where
// helm-controller puts it, with Helm's --set typing.
func TestReplacePathValue(t *testing.T) {
	for _, tc := range []struct {
		name, path, value string
		before, want      string
	}{
		{"escaped dot is one key", `secret.data.cloud\.conf`, "[Global]\nauth-url=https://keystone.example.org/v3\n", `{"secret":{"create":true}}`,
			`{"secret":{"create":true,"data":{"cloud.conf":"[Global]\nauth-url=https://keystone.example.org/v3\n"}}}`},
		{"top-level key", "cloudConfigContents", "[Global]\nregion=RegionOne", `{}`, `{"cloudConfigContents":"[Global]\nregion=RegionOne"}`},
		{"unquoted is typed", "a.b", "true", `{}`, `{"a":{"b":true}}`},
		{"quoted stays a string", "a.b", `"true"`, `{}`, `{"a":{"b":"true"}}`},
		{"replaces what was there", "a", "2", `{"a":{"b":1}}`, `{"a":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]any{}
			if err := json.Unmarshal([]byte(tc.before), &values); err != nil {
				t.Fatal(err)
			}
			if err := replacePathValue(values, tc.path, tc.value); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(values)
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

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
