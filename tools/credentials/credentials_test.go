package credentials

import (
	"slices"
	"strings"
	"testing"
)

const pgpBlock = `-----BEGIN PGP PRIVATE KEY BLOCK-----

lQOYBF1abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789
=abcd
-----END PGP PRIVATE KEY BLOCK-----`

// TestScanYAML holds every shape of credential the detector must find
// (each passed validate before it) and the look-alikes it must not.
func TestScanYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// want are rules that must be found at path (at least these);
		// nil means nothing may be found anywhere.
		path string
		want []string
	}{
		{"clouds.yaml content with a token", "clouds.yaml: |\n  clouds:\n    openstack:\n      auth:\n        token: gAAAAABnXyZ7\n", "clouds.yaml", []string{RuleEmbedded, RuleKeyName}},
		{"clouds.yaml under an innocent key", "config: |\n  clouds:\n    openstack:\n      auth:\n        token: gAAAAABnXyZ7\n", "config", []string{RuleEmbedded}},
		{"env list as a string", "extra: |\n  - name: DB_PASSWORD\n    value: x\n", "extra", []string{RuleEmbedded}},
		{"clouds.yaml token", "clouds:\n  openstack:\n    auth:\n      token: gAAAAABnXyZ7abcdefghijklmnop\n", "clouds.openstack.auth.token", []string{RuleKeyName}},
		{"password", "grafana:\n  admin:\n    password: hunter2\n", "grafana.admin.password", []string{RuleKeyName}},
		{"numeric password", "db:\n  password: 12345678\n", "db.password", []string{RuleKeyName}},
		{"apiKey in a list", "users:\n  - {name: bob, apiKey: k-123}\n", "users[0].apiKey", []string{RuleKeyName}},
		{"private_key", "ssh:\n  private_key: abc\n", "ssh.private_key", []string{RuleKeyName}},
		{"credentials", "s3:\n  credentials: AKIAxyz\n", "s3.credentials", []string{RuleKeyName}},
		{"env DB_PASSWORD", "env:\n  - name: DB_PASSWORD\n    value: s3cr3t-value\n", "env[0].value", []string{RuleEnvValue}},
		{"env API_TOKEN flow", "env: [{name: API_TOKEN, value: abc}]\n", "env[0].value", []string{RuleEnvValue}},
		{"env secret key", "extraEnv:\n  - {name: AWS_SECRET_ACCESS_KEY, value: wJalrXUtnFEMI}\n", "extraEnv[0].value", []string{RuleEnvValue}},
		{"URL with user:pass", "database:\n  url: https://admin:Xk9mQ2vL8pR4nT@db.example.com/x\n", "database.url", []string{RuleURLPassword}},
		{"postgres URL", "dsn: postgres://app:pw@db:5432/app\n", "dsn", []string{RuleURLPassword}},
		{"PGP private key block", "gpg:\n  key: |\n" + indent(pgpBlock, "    "), "gpg.key", []string{RulePrivateKey}},
		{"PEM private key", "tls:\n  cert: \"-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----\"\n", "tls.cert", []string{RulePrivateKey}},
		{"OpenSSH private key", "git:\n  identity: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Bl\"\n", "git.identity", []string{RulePrivateKey}},
		{"docker config auth", "auths:\n  registry.example.com:\n    auth: YWRtaW46WGs5bVEydkw4cFI0blQ=\n", "auths.registry.example.com.auth", []string{RuleDockerAuth, RuleKeyName}},
		{"dockerconfigjson string", "data:\n  .dockerconfigjson: '{\"auths\":{\"r.example.com\":{\"auth\":\"YWRtaW46cGFzcw==\"}}}'\n", "data..dockerconfigjson", []string{RuleDockerAuth}},
		{"GitHub token under an innocent key", "note: ghp_0123456789abcdefghijABCDEFGHIJ012345\n", "note", []string{GitleaksPrefix + "github-pat"}},
		{"AWS key under an innocent key", "id: AKIAIOSFODNN7EXAMPLQ\n", "id", []string{GitleaksPrefix + "aws-access-token"}},
		{"base64 of a clouds.yaml", "data:\n  clouds.conf: Y2xvdWRzOgogIG9wZW5zdGFjazoKICAgIGF1dGg6CiAgICAgIHBhc3N3b3JkOiBTdXAzclMzY3JldFBhc3N3MHJkCg==\n", "data.clouds.conf", []string{RuleEmbedded}},
		{"key with a dash", "f:\n  pass-word: Sup3rS3cretPassw0rd\n", "f.pass-word", []string{RuleKeyName}},
		{"key with a dot", "f:\n  api.key: k-0123456789\n", "f.api.key", []string{RuleKeyName}},
		{"command-line flag", "args: \"--password=Sup3rS3cretPassw0rd --verbose\"\n", "args", []string{RuleEmbedded}},
		{"env file line", "extra: \"LOG=1\\nDB_TOKEN=abcd1234\"\n", "extra", []string{RuleEmbedded}},
		{"alias to a credential", "base: &pw hunter2\nadmin:\n  password: *pw\n", "admin.password", []string{RuleKeyName}},

		{"secret name reference", "openstack:\n  secretName: cloud-creds\n  existingSecret: grafana-admin\n  credentialsSecret: openstack\n", "", nil},
		{"passwordSecretRef", "admin:\n  passwordSecretRef:\n    name: admin-password\n    key: password\n", "", nil},
		{"env from a Secret", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef: {name: db, key: password}\n", "", nil},
		{"env not a credential", "env:\n  - {name: LOG_LEVEL, value: debug}\n", "", nil},
		{"image tag and digest", "image:\n  repository: ghcr.io/acme/app\n  tag: v1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", "", nil},
		{"chart version with a hash", "chart:\n  version: 1.2.3+sha.abcdef0123456789abcdef01\n  digest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n", "", nil},
		{"empty and null password", "a:\n  password: \"\"\nb:\n  password:\n", "", nil},
		{"boolean token flag", "automountServiceAccountToken: false\n", "", nil},
		{"base64 of a harmless config", "data:\n  config: bG9nOgogIGxldmVsOiBkZWJ1ZwogIGZvcm1hdDoganNvbgo=\n", "", nil},
		{"flags naming files and variables", "args: \"--token-file=/var/run/token --password=$DB_PASSWORD --secret={{ .x }} --api-key-path=/k\"\n", "", nil},
		{"a config file without credentials", "config: |\n  log:\n    level: debug\n  tokenFile: /var/run/token\n", "", nil},
		{"auth mapping", "auth:\n  type: oidc\noauth: enabled\n", "", nil},
		{"URL without a password", "repo: https://git@example.com/org/repo.git\nssh: git@github.com:org/repo.git\n", "", nil},
		{"key of a Secret", "jupyterhub:\n  apiTokenFromSecretName: hub\n  apiTokenFromSecretKey: hub.services.apiToken\n", "", nil},
		{"kubeconfig secret ref", "kubeConfig:\n  secretRef: {name: work-kubeconfig, key: value}\n", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewScanner().ScanYAML("f.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("want nothing, got %v", got)
				}
				return
			}
			var rules []string
			for _, f := range got {
				if f.Path == tt.path {
					rules = append(rules, f.Rule)
					if f.Line == 0 || f.Col == 0 || f.File != "f.yaml" {
						t.Errorf("finding without a place: %+v", f)
					}
				}
			}
			for _, w := range tt.want {
				if !slices.Contains(rules, w) {
					t.Errorf("at %s want rule %s, got %v (all: %v)", tt.path, w, rules, got)
				}
			}
		})
	}
}

// TestScanPosition: a finding is at its value, line and column.
func TestScanPosition(t *testing.T) {
	got, err := NewScanner().ScanYAML("f.yaml", []byte("a: 1\nenv:\n  - name: DB_PASSWORD\n    value: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Line != 4 || got[0].Col != 12 || got[0].Path != "env[0].value" {
		t.Fatalf("got %+v, want one finding at 4:12 env[0].value", got)
	}
}

// TestScan is the single-value API: the key is the path's last field.
func TestScan(t *testing.T) {
	if got := Scan("f", "spec.values.admin.password[0]", "hunter2"); len(got) != 1 || got[0].Rule != RuleKeyName {
		t.Fatalf("got %v", got)
	}
	if got := Scan("f", "spec.values.admin.passwordSecretRef", "admin"); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

// TestGitleaksLoads: the maintained rule set builds from gitleaks' default
// configuration.
func TestGitleaksLoads(t *testing.T) {
	d, err := gitleaks()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Config.Rules); n < 100 {
		t.Fatalf("only %d gitleaks rules", n)
	}
}

func indent(s, by string) string {
	return by + strings.ReplaceAll(s, "\n", "\n"+by) + "\n"
}
