package policy

import (
	"regexp"
	"testing"

	"github.com/capiform/capiform/tools/credentials"
)

// TestCredentialPatternsInStep: CUE's #NoCredentials judges keys and values
// with the expressions of the Go detector, which is authoritative, so that
// a site policy extending it and the detector agree.
func TestCredentialPatternsInStep(t *testing.T) {
	e, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	str := func(name string) string {
		s, err := e.base.LookupPath(cpath(name)).String()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return s
	}
	if got := str("#credentialKey"); got != credentials.KeyPattern {
		t.Errorf("#credentialKey = %q, credentials.KeyPattern = %q", got, credentials.KeyPattern)
	}
	if got := str("#referenceKey"); got != credentials.ReferencePattern {
		t.Errorf("#referenceKey = %q, credentials.ReferencePattern = %q", got, credentials.ReferencePattern)
	}
	cueValue := regexp.MustCompile(str("#credentialValue"))
	embedded := regexp.MustCompile(credentials.EmbeddedPattern)
	privateKey := regexp.MustCompile(credentials.PrivateKeyPattern)
	for _, v := range []string{
		"clouds:\n  a:\n    auth:\n      password: x\n",
		"application_credential_secret: x",
		"-----BEGIN RSA PRIVATE KEY-----\nMII",
		"-----BEGIN PGP PRIVATE KEY BLOCK-----\n",
		"-----BEGIN OPENSSH PRIVATE KEY-----",
		"-----begin private key-----",
		"-----BEGIN PUBLIC KEY-----",
		"-----BEGIN CERTIFICATE-----",
		"passwordless",
		"hello",
	} {
		if c, g := cueValue.MatchString(v), embedded.MatchString(v) || privateKey.MatchString(v); c != g {
			t.Errorf("%q: #credentialValue %v, detector %v", v, c, g)
		}
	}
}
