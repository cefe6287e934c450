package cli

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/go-git/go-git/v5"
)

// canary is the plaintext of the credentials in these tests: no output of
// any command and no generated file may contain it.
const canary = "CANARY-5b1d-cli-never-prints-this"

const canaryClouds = `clouds:
  openstack:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: CANARY-5b1d-cli-never-prints-this-id
      application_credential_secret: ` + canary + `
    region_name: RegionOne
`

// secretsRepo is the test fleet with spec.secrets on site edi for a new
// age key, as a git repository with one commit (before any secret); it
// returns the folder and the age key file.
func secretsRepo(t *testing.T) (dir, keyFile string, id *age.X25519Identity) {
	t.Helper()
	dir = gitRepo(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "clusters/edi/site.yaml")
	b, _ := os.ReadFile(site)
	b = []byte(strings.Replace(string(b), "\nspec:\n", "\nspec:\n  secrets:\n    ageRecipients: ["+id.Recipient().String()+"]\n", 1))
	if err := os.WriteFile(site, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, keyFile, id
}

// runIn runs capiform with args and standard input.
func runIn(t *testing.T, in io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, in, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestSecretsNeverPrinted: credentials created with a known canary, then
// every command a fleet runs (validate, render, render --check, diff,
// summary, secrets check, updatekeys, rotate, and their failures): the
// canary is in no stdout or stderr and in no file under generated/.
func TestSecretsNeverPrinted(t *testing.T) {
	dir, keyFile, _ := secretsRepo(t)
	clouds := filepath.Join(t.TempDir(), "clouds.yaml")
	os.WriteFile(clouds, []byte(canaryClouds), 0o600)
	var outputs []string
	step := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append([]string{"-C", dir}, args...)...)
		outputs = append(outputs, out, errOut)
		if code != wantCode {
			t.Fatalf("capiform %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out + errOut
	}
	// Before the credentials exist, validate says which are missing.
	if got := step(1, "validate"); !strings.Contains(got, "capiform secrets create edi --cluster teaching") {
		t.Errorf("validate without credentials:\n%s", got)
	}
	if got := step(0, "secrets", "create", "edi", "--clouds", clouds); !strings.Contains(got, "wrote clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml") {
		t.Errorf("create:\n%s", got)
	}
	// Reconcile on merge: the git host's two tokens, in flux-system,
	// made with the canary too.
	site := filepath.Join(dir, "clusters/edi/site.yaml")
	sb, _ := os.ReadFile(site)
	os.WriteFile(site, []byte(strings.Replace(string(sb), "\nspec:\n", "\nspec:\n  flux:\n    gitHost: {provider: gitlab, repository: https://gitlab.example.org/platform/fleet}\n    tenancy: {}\n", 1)), 0o644)
	if got := step(1, "validate"); !strings.Contains(got, "capiform secrets create edi --cluster flux-system --name webhook-token") {
		t.Errorf("validate without the git host tokens:\n%s", got)
	}
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte(canary+"-webhook"), 0o600)
	step(0, "secrets", "create", "edi", "--cluster", "flux-system", "--name", "webhook-token", "--from-file", "token="+token)
	os.WriteFile(token, []byte(canary+"-status"), 0o600)
	step(0, "secrets", "create", "edi", "--cluster", "flux-system", "--name", "commit-status-token", "--from-file", "token="+token)
	step(0, "render")
	step(0, "validate")
	step(0, "render", "--check")
	if got := step(0, "secrets", "check", "--age-key-file", keyFile); !strings.Contains(got, "checked clusters/edi/secrets/edi-mgmt/edi-cloud-credentials.sops.yaml") || !strings.Contains(got, "checked clusters/edi/secrets/flux-system/webhook-token.sops.yaml") {
		t.Errorf("check:\n%s", got)
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	commitAll(t, dir, repo)
	step(0, "summary")
	// A new credential: diff says the credentials changed, by ciphertext.
	code, out, errOut := runIn(t, strings.NewReader(strings.Replace(canaryClouds, "RegionOne", "RegionTwo", 1)), "-C", dir, "secrets", "rotate", "edi", "--cluster", "teaching", "--clouds", "-")
	outputs = append(outputs, out, errOut)
	if code != 0 {
		t.Fatalf("rotate --clouds -: exit %d\n%s", code, errOut)
	}
	step(0, "render")
	if got := step(1, "diff", "--base", "HEAD"); !strings.Contains(got, "credentials changed: data.cloud-conf-values.yaml, data.cloud.conf, data.clouds.yaml") {
		t.Errorf("diff after a rotation:\n%s", got)
	}
	// A new webhook token: a changed credential, never its value.
	os.WriteFile(token, []byte(canary+"-webhook-2"), 0o600)
	step(0, "secrets", "rotate", "edi", "--cluster", "flux-system", "--name", "webhook-token", "--from-file", "token="+token)
	step(0, "render")
	if got := step(1, "diff", "--base", "HEAD"); !strings.Contains(got, "webhook-token") {
		t.Errorf("diff after a new webhook token:\n%s", got)
	}
	step(1, "diff", "--base", "HEAD", "-o", "json")
	step(1, "diff", "--base", "HEAD", "-o", "markdown")
	// A cluster's credentials copied from another's, with the key.
	os.Remove(filepath.Join(dir, "clusters/edi/secrets/edi-mgmt/edi-cloud-credentials.sops.yaml"))
	step(1, "validate")
	step(0, "secrets", "create", "edi", "--copy-from", "teaching", "--age-key-file", keyFile)
	step(0, "secrets", "check", "--age-key-file", keyFile)
	step(0, "secrets", "rotate", "edi", "--age-key-file", keyFile)
	step(0, "secrets", "updatekeys", "edi", "--age-key-file", keyFile)
	// Failures: a wrong key, a tampered file, a Secret in clear.
	other, _ := age.GenerateX25519Identity()
	otherFile := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(otherFile, []byte(other.String()+"\n"), 0o600)
	step(1, "secrets", "check", "--age-key-file", otherFile)
	f := filepath.Join(dir, "clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml")
	b, _ := os.ReadFile(f)
	os.WriteFile(f, []byte(strings.Replace(string(b), "namespace: teaching", "namespace: edi-mgmt", 1)), 0o644)
	step(1, "secrets", "check", "--age-key-file", keyFile)
	step(1, "validate")
	os.WriteFile(f, b, 0o644)
	os.WriteFile(filepath.Join(dir, "platforms/leak.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: leak}\nstringData:\n  token: "+canary+"\n"), 0o644)
	if got := step(1, "validate"); !strings.Contains(got, "platforms/leak.yaml:5:3") || !strings.Contains(got, "secrets.clear") {
		t.Errorf("validate with a Secret in clear:\n%s", got)
	}
	step(1, "render", "--check")
	step(2, "diff", "--base", "HEAD")

	for _, o := range outputs {
		if strings.Contains(o, canary) || strings.Contains(o, "CANARY-5b1d") {
			t.Fatalf("an output holds the plaintext:\n%s", o)
		}
	}
	err = filepath.WalkDir(filepath.Join(dir, "clusters"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(p, string(filepath.Separator)+"generated"+string(filepath.Separator)) {
			return err
		}
		b, err := os.ReadFile(p)
		if strings.Contains(string(b), "CANARY-5b1d") {
			t.Errorf("%s holds the plaintext", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters/edi/generated/secrets/teaching/edi-cloud-credentials.sops.yaml")); err != nil {
		t.Errorf("the generated tree does not deliver the credentials: %v", err)
	}
}
