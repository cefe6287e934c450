package diff

import (
	"strings"
	"testing"
)

// TestScenarioSecretMetadataRedacted: a Secret's annotations and labels
// (kubectl's last-applied-configuration holds its data) are redacted like
// its data, in every output format, whatever the Secret's apiVersion.
func TestScenarioSecretMetadataRedacted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		apiVersion string
	}{
		{"core Secret", "v1"},
		{"Secret of another group", "example.com/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRepo(t)
			secret := `apiVersion: ` + tt.apiVersion + `
kind: Secret
metadata:
  name: {{ .Values.clusterName }}-meta
  namespace: {{ .Release.Namespace }}
  labels:
    token: lbl-VALUE
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"stringData":{"password":"ann-VALUE"}}'
    note: note-VALUE
type: Opaque
`
			r.write("charts/openstack-cluster/templates/meta-secret.yaml", strings.ReplaceAll(secret, "VALUE", "old-s3cr3t"))
			bumpChart(r)
			r.commit("add secret")
			r.write("charts/openstack-cluster/templates/meta-secret.yaml", strings.ReplaceAll(strings.Replace(secret, "    note: note-VALUE\n", "", 1), "VALUE", "new-s3cr3t")+"stringData:\n  extra: added-s3cr3t\n")
			bumpChart(r)
			r.commit("rotate secret")
			rep := r.mustDiff()
			formats := map[string]func(*strings.Builder) error{
				"text":     func(b *strings.Builder) error { return rep.Text(b, true) },
				"markdown": func(b *strings.Builder) error { return rep.Markdown(b, 0) },
				"json":     func(b *strings.Builder) error { return rep.JSON(b) },
			}
			for name, write := range formats {
				var out strings.Builder
				if err := write(&out); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(out.String(), "s3cr3t") {
					t.Errorf("%s: a secret value leaked:\n%s", name, out.String())
				}
				if !strings.Contains(out.String(), "last-applied-configuration") {
					t.Errorf("%s: want the changed annotation named:\n%s", name, out.String())
				}
			}
		})
	}
}
