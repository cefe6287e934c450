package policy

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/policies"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/pemcert"
)

// exampleCA is a self-signed test CA (its key was thrown away).
const exampleCA = `-----BEGIN CERTIFICATE-----
MIIB7zCCAZWgAwIBAgIUU9ntsccn7V1G5cgxORbt3U+UZxowCgYIKoZIzj0EAwIw
RTEZMBcGA1UECgwQY2FwaWZvcm0gZXhhbXBsZTEoMCYGA1UEAwwfY2FwaWZvcm0g
ZXhhbXBsZSBDQSAodGVzdCBvbmx5KTAeFw0yNjExMzAwNzE0MzlaFw0zNjExMjcw
NzE0MzlaMEUxGTAXBgNVBAoMEGNhcGlmb3JtIGV4YW1wbGUxKDAmBgNVBAMMH2Nh
cGlmb3JtIGV4YW1wbGUgQ0EgKHRlc3Qgb25seSkwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATnbzy/utDk4J786ooTCQqA388zi6/eT6tGAh/ypo/9OEnyzgnOJdlt
38KCBhrtsWqtFO9f4Bw5H9X17XKbaCl2o2MwYTAdBgNVHQ4EFgQUggDuJJAL06Pt
x2ocmm1J0Ba4uA4wHwYDVR0jBBgwFoAUggDuJJAL06Ptx2ocmm1J0Ba4uA4wDwYD
VR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSAAwRQIh
APA8q6nhfRdY52z+BKQlRQpECMCy5Ddhb4Zr0B9sE6WZAiBRneOXBVoBAUejS+mJ
mmYEb7Qo2JTlKSNbLmTeO6X83A==
-----END CERTIFICATE-----
`

func TestParseCertificates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pem, err string
	}{
		{"one certificate", exampleCA, ""},
		{"a bundle of two", exampleCA + "\n" + exampleCA, ""},
		{"not PEM", "corp root", "no PEM block"},
		{"PEM form, not a certificate", "-----BEGIN CERTIFICATE-----\nMIIB7zCCAZWgAwIBAgIU\n-----END CERTIFICATE-----\n", "block 1:"},
		{"a private key", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", "block 1 is a PRIVATE KEY"},
		{"text after", exampleCA + "trailing words\n", "text after the last block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pemcert.Check([]byte(tc.pem))
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("pemcert.Check = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestTrustedCAParsed: a CA that has the form of PEM (which CUE checks)
// but is no certificate is refused by the Go layer, at its line.
func TestTrustedCAParsed(t *testing.T) {
	t.Parallel()
	for _, goChecks := range []bool{false, true} {
		d := validateWork(t, `  nodes:
    trustedCAs:
      - name: broken
        pem: |
          -----BEGIN CERTIFICATE-----
          MIIB7zCCAZWgAwIBAgIU
          -----END CERTIFICATE-----
`, goChecks)
		found := strings.Contains(d.Error(), "clusters/dev/work.yaml:13:") && strings.Contains(d.Error(), "policy.trusted-ca")
		if found != goChecks {
			t.Errorf("go checks %v: policy.trusted-ca at work.yaml:13 reported = %v:\n%v", goChecks, found, d)
		}
	}
}

// validateWork validates the corpus's valid fleet with a cluster work of
// site dev whose spec ends with the given lines (from line 10 on).
func validateWork(t *testing.T, specTail string, goChecks bool) diag.List {
	t.Helper()
	fsys := corpusFleet(t)
	fsys["clusters/dev/work.yaml"] = &fstest.MapFile{Data: []byte(`apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata:
  name: work
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: small, replicas: 1}
  apiServer: {allowedCIDRs: [10.0.0.0/8]}
  platforms: [{name: base}]
` + specTail)}
	fleet, err := load.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Validate(context.Background(), fleet, Options{Head: fsys, GoChecks: goChecks})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// corpusFleet is the corpus's valid fleet.
func corpusFleet(t *testing.T) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	root := filepath.Join(corpusDir, "fleet")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKubeletConfigDecodes: a kubelet setting whose configPatch the
// kubelet's own KubeletConfiguration type (k8s.io/kubelet) does not take,
// a misspelt field or a value of the wrong type, is refused by the Go
// checks at the configPatch's line; one it takes passes.
func TestKubeletConfigDecodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, patch, says string
	}{
		{"fields of the type", "{serializeImagePulls: false, containerLogMaxSize: 50Mi, shutdownGracePeriod: 30s}", ""},
		{"misspelt field", "{serializeImagePull: false}", `unknown field "serializeImagePull"`},
		{"wrong type", "{podsPerCore: many}", "podsPerCore"},
		{"wrong shape", "{shutdownGracePeriod: {seconds: 30}}", "shutdownGracePeriod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := validateWork(t, `  nodeGroups:
    - name: md-0
      flavor: large
      replicas: 1
      kubelet:
        configPatch: `+tc.patch+"\n", true)
			found := strings.Contains(d.Error(), "clusters/dev/work.yaml:15:") && strings.Contains(d.Error(), "policy.kubelet-config")
			if found != (tc.says != "") || !strings.Contains(d.Error(), tc.says) {
				t.Errorf("want policy.kubelet-config at work.yaml:15 saying %q = %v; got:\n%v", tc.says, tc.says != "", d)
			}
		})
	}
}

// TestCloudCANameKept holds policy's kept trusted CA name (nodes.cue, and
// the corpus case cloud-ca) to the one resolve gives the cloud's CA.
func TestCloudCANameKept(t *testing.T) {
	t.Parallel()
	src, err := fs.ReadFile(policies.FS, "nodes.cue")
	if err != nil {
		t.Fatal(err)
	}
	if want := `if c.name == "` + resolve.CloudCAName + `" {`; !strings.Contains(string(src), want) {
		t.Errorf("policies/nodes.cue does not keep the cloud CA's name %s (%s)", resolve.CloudCAName, want)
	}
}
