package bootstrap

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// TestSecretValues: a Secret's key set at a target path, or merged whole
// under the release's values, as Flux's valuesFrom does.
func TestSecretValues(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{
		"cloud.conf": []byte("[Global]\n"),
		// A password with --set's syntax in it: a comma, a backslash.
		"odd.conf":               []byte("[Global]\npassword=\"p,a\\ss\"\n"),
		"cloud-conf-values.yaml": []byte("cloudConfig:\n  global: {auth-url: https://k}\n  loadBalancer: {lb-provider: amphora}\n"),
		"bad":                    []byte("[not: a map"),
	}}
	c := fake.NewClientBuilder().WithObjects(secret).Build()
	own := map[string]any{"cloudConfig": map[string]any{"loadBalancer": map[string]any{"lb-provider": "ovn"}}}
	for _, tc := range []struct {
		name string
		vf   SecretValue
		want map[string]any
		err  string
	}{
		{
			name: "target path",
			vf:   SecretValue{SecretName: "creds", Key: "cloud.conf", TargetPath: `secret.data.cloud\.conf`},
			want: map[string]any{"cloudConfig": map[string]any{"loadBalancer": map[string]any{"lb-provider": "ovn"}}, "secret": map[string]any{"data": map[string]any{"cloud.conf": "[Global]\n"}}},
		},
		{
			name: "a values document under the release's values",
			vf:   SecretValue{SecretName: "creds", Key: "cloud-conf-values.yaml"},
			want: map[string]any{"cloudConfig": map[string]any{"global": map[string]any{"auth-url": "https://k"}, "loadBalancer": map[string]any{"lb-provider": "ovn"}}},
		},
		{
			name: "literal target path keeps every character",
			vf:   SecretValue{SecretName: "creds", Key: "odd.conf", TargetPath: `secret.data.cloud\.conf`, Literal: true},
			want: map[string]any{"cloudConfig": map[string]any{"loadBalancer": map[string]any{"lb-provider": "ovn"}}, "secret": map[string]any{"data": map[string]any{"cloud.conf": "[Global]\npassword=\"p,a\\ss\"\n"}}},
		},
		{
			// What helm-controller does with a targetPath that is not
			// literal: --set's syntax, where a comma starts another value.
			name: "a target path that is not literal parses the file as --set",
			vf:   SecretValue{SecretName: "creds", Key: "odd.conf", TargetPath: `secret.data.cloud\.conf`},
			err:  "values from Secret ns/creds key odd.conf: failed to merge value (the content is not shown)",
		},
		{name: "not a document", vf: SecretValue{SecretName: "creds", Key: "bad"}, err: "values from Secret ns/creds key bad: failed to read values data (the content is not shown)"},
		{name: "no such key", vf: SecretValue{SecretName: "creds", Key: "nope"}, err: "key nope: key not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withSecretValues(context.Background(), c, "ns", AddonRelease{Values: own, ValuesFrom: []SecretValue{tc.vf}})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				for _, v := range secret.Data {
					if strings.Contains(err.Error(), strings.TrimSpace(string(v))) || strings.Contains(err.Error(), "ss\"") {
						t.Errorf("the error shows the Secret's content: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got.Values); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
		})
	}
}
