package diff

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestEncryptedSecretChanges: SOPS-encrypted Secrets are compared value
// by value on their ciphertext: a changed value is "credentials changed",
// a new MAC and date alone is no change, recipients (public keys) are
// shown, and no ciphertext ever is.
func TestEncryptedSecretChanges(t *testing.T) {
	t.Parallel()
	secret := func(values map[string]any, mac, recipient string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "creds", "namespace": "c1"},
			"data":     values,
			"sops": map[string]any{
				"mac": mac, "lastmodified": mac,
				"age": []any{map[string]any{"recipient": recipient, "enc": "-----BEGIN AGE ENCRYPTED FILE-----" + mac}},
			},
		}}
	}
	base := secret(map[string]any{"clouds.yaml": "ENC[a1]", "cloud.conf": "ENC[b1]"}, "m1", "age1x")
	for _, tc := range []struct {
		name    string
		cur     *unstructured.Unstructured
		changed string // CredentialsChanged joined, or "-" for no change
		field   string
	}{
		{"encrypted again, same values", secret(map[string]any{"clouds.yaml": "ENC[a1]", "cloud.conf": "ENC[b1]"}, "m2", "age1x"), "-", ""},
		{"one value", secret(map[string]any{"clouds.yaml": "ENC[a2]", "cloud.conf": "ENC[b1]"}, "m2", "age1x"), "data.clouds.yaml", "data.clouds.yaml"},
		{"a key added", secret(map[string]any{"clouds.yaml": "ENC[a1]", "cloud.conf": "ENC[b1]", "ca.crt": "ENC[c]"}, "m2", "age1x"), "data.ca.crt", "data.ca.crt"},
		{"recipients", secret(map[string]any{"clouds.yaml": "ENC[a1]", "cloud.conf": "ENC[b1]"}, "m2", "age1y"), "", "sops.age[].recipient"},
		{"decrypted into clear", func() *unstructured.Unstructured {
			o := secret(map[string]any{"clouds.yaml": "plain", "cloud.conf": "plain"}, "", "")
			delete(o.Object, "sops")
			return o
		}(), "data.cloud.conf, data.clouds.yaml", "data.clouds.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := compareObjects(newObjectSet([]*unstructured.Unstructured{base}), newObjectSet([]*unstructured.Unstructured{tc.cur}))
			if tc.changed == "-" {
				if len(out) != 0 {
					t.Fatalf("a re-encryption is a change: %+v", out)
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("%d changes", len(out))
			}
			c := out[0]
			if got := strings.Join(c.CredentialsChanged, ", "); got != tc.changed {
				t.Errorf("credentials changed %q, want %q", got, tc.changed)
			}
			var b strings.Builder
			writeObject(&b, "", c)
			text := b.String()
			if !strings.Contains(text, tc.field) || (tc.changed != "" && !strings.Contains(text, "credentials changed: "+tc.changed)) {
				t.Errorf("output:\n%s", text)
			}
			if strings.Contains(text, "ENC[") || strings.Contains(text, "plain") || strings.Contains(text, "BEGIN AGE") {
				t.Errorf("output shows a value:\n%s", text)
			}
		})
	}
}
