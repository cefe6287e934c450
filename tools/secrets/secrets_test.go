package secrets

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"filippo.io/age"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

// canary is the plaintext of every credential in these tests: it must
// appear in no error and no finding.
const canary = "CANARY-7f3e9a-do-not-print"

const cloudsYAML = `clouds:
  openstack:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: app-cred-id
      application_credential_secret: ` + canary + `
    region_name: RegionOne
    interface: public
    identity_api_version: 3
    auth_type: v3applicationcredential
`

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testFleet is the edi site of testdata/fleet with the given age
// recipients (none: no spec.secrets).
func testFleet(t *testing.T, recipients ...string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, f := range []string{"site.yaml", "edi-mgmt.yaml", "teaching.yaml"} {
		b, err := os.ReadFile(path.Join("../../testdata/fleet/clusters/edi", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "site.yaml" && len(recipients) > 0 {
			b = bytes.Replace(b, []byte("\nspec:\n"), []byte("\nspec:\n  secrets:\n    ageRecipients: ["+strings.Join(recipients, ", ")+"]\n"), 1)
		}
		fsys["clusters/edi/"+f] = &fstest.MapFile{Data: b}
	}
	return fsys
}

func loadSite(t *testing.T, fsys fstest.MapFS) *load.Site {
	t.Helper()
	f, err := load.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return f.Site("edi")
}

func apply(fsys fstest.MapFS, files Files) {
	for p, b := range files {
		fsys[p] = &fstest.MapFile{Data: b}
	}
}

// noCanary fails when the canary shows in any of the texts.
func noCanary(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, canary) {
			t.Fatalf("%s shows the plaintext: %s", what, s)
		}
	}
}

func created(t *testing.T, ids ...*age.X25519Identity) (fstest.MapFS, *load.Site) {
	t.Helper()
	var rs []string
	for _, id := range ids {
		rs = append(rs, id.Recipient().String())
	}
	fsys := testFleet(t, rs...)
	site := loadSite(t, fsys)
	files, err := Create(CreateOptions{FS: fsys, Site: site, CloudsYAML: []byte(cloudsYAML)})
	if err != nil {
		t.Fatal(err)
	}
	if got := files.Paths(); strings.Join(got, " ") != "clusters/edi/secrets/edi-mgmt/edi-cloud-credentials.sops.yaml clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml" {
		t.Fatalf("created %v", got)
	}
	for p, b := range files {
		noCanary(t, p, string(b))
	}
	apply(fsys, files)
	return fsys, site
}

func TestCreateAndCheck(t *testing.T) {
	id := newIdentity(t)
	fsys, site := created(t, id)
	in, problems, err := Inspect(fsys, site)
	if err != nil || len(problems) > 0 {
		t.Fatalf("inspect: %v %v", err, problems)
	}
	f := in.ClusterFiles("teaching")[0]
	if f.Namespace != "teaching" || f.Name != "edi-cloud-credentials" || len(f.Values) != 3 {
		t.Fatalf("file %+v", f)
	}
	res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: Identities{id}})
	if err != nil || len(res.Problems) > 0 || len(res.Checked) != 2 {
		t.Fatalf("check: %v %v %v", err, res.Problems, res.Checked)
	}
	tree, err := decrypt(f.Path, f.Content, Identities{id})
	if err != nil {
		t.Fatal(err)
	}
	v, err := values(f.Path, tree)
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Data[CloudsYAMLKey]) != cloudsYAML {
		t.Errorf("clouds.yaml = %q", v.Data[CloudsYAMLKey])
	}
	want := "[Global]\nauth-url=\"https://keystone.example.org:5000/v3\"\napplication-credential-id=\"app-cred-id\"\napplication-credential-secret=\"" + canary + "\"\nregion=\"RegionOne\"\n"
	if string(v.Data[CloudConfKey]) != want {
		t.Errorf("cloud.conf =\n%s\nwant\n%s", v.Data[CloudConfKey], want)
	}
	wantValues := "cloudConfig:\n    global:\n        application-credential-id: app-cred-id\n        application-credential-secret: " + canary + "\n        auth-url: https://keystone.example.org:5000/v3\n        region: RegionOne\n"
	if string(v.Data[CloudConfValuesKey]) != wantValues {
		t.Errorf("%s =\n%s\nwant\n%s", CloudConfValuesKey, v.Data[CloudConfValuesKey], wantValues)
	}
	// A second create writes nothing: every cluster has its file.
	again, err := Create(CreateOptions{FS: fsys, Site: site, CloudsYAML: []byte(cloudsYAML)})
	if err != nil || len(again) != 0 {
		t.Fatalf("second create: %v %v", again.Paths(), err)
	}
	if _, err := Create(CreateOptions{FS: fsys, Site: site, Clusters: []string{"teaching"}, CloudsYAML: []byte(cloudsYAML)}); err == nil || !strings.Contains(err.Error(), "rotate") {
		t.Fatalf("create over an existing file: %v", err)
	}
}

func TestUpdateKeys(t *testing.T) {
	old, added := newIdentity(t), newIdentity(t)
	fsys, _ := created(t, old)
	before, _, _ := Inspect(fsys, loadSite(t, fsys))
	// The site now lists a second recipient: validate refuses the files
	// until updatekeys.
	b := fsys["clusters/edi/site.yaml"].Data
	fsys["clusters/edi/site.yaml"].Data = bytes.Replace(b, []byte(old.Recipient().String()), []byte(old.Recipient().String()+", "+added.Recipient().String()), 1)
	site := loadSite(t, fsys)
	_, problems, _ := Inspect(fsys, site)
	if len(problems) != 2 || problems[0].Rule != RuleRecipients || !strings.Contains(problems[0].Message, "missing "+added.Recipient().String()) {
		t.Fatalf("problems: %v", problems)
	}
	if _, err := UpdateKeys(RekeyOptions{FS: fsys, Site: site, Identities: Identities{added}}); err == nil {
		t.Fatal("the new key opened files it was not yet a recipient of")
	}
	files, err := UpdateKeys(RekeyOptions{FS: fsys, Site: site, Identities: Identities{old}})
	if err != nil || len(files) != 2 {
		t.Fatalf("updatekeys: %v %v", files.Paths(), err)
	}
	apply(fsys, files)
	after, problems, _ := Inspect(fsys, site)
	if len(problems) > 0 {
		t.Fatalf("after updatekeys: %v", problems)
	}
	// The values and their ciphertext are untouched; the new key opens
	// the files.
	for k, v := range before.ClusterFiles("teaching")[0].Values {
		if after.ClusterFiles("teaching")[0].Values[k] != v {
			t.Errorf("%s was re-encrypted", k)
		}
	}
	res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: Identities{added}})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("check with the new key: %v %v", err, res.Problems)
	}
}

func TestRotate(t *testing.T) {
	id := newIdentity(t)
	fsys, site := created(t, id)
	before, _, _ := Inspect(fsys, site)
	files, err := Rotate(RekeyOptions{FS: fsys, Site: site, Identities: Identities{id}})
	if err != nil || len(files) != 2 {
		t.Fatalf("rotate: %v %v", files.Paths(), err)
	}
	apply(fsys, files)
	after, problems, _ := Inspect(fsys, site)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for k, v := range before.ClusterFiles("teaching")[0].Values {
		if after.ClusterFiles("teaching")[0].Values[k] == v {
			t.Errorf("%s kept its ciphertext under a new data key", k)
		}
	}
	res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: Identities{id}})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("check: %v %v", err, res.Problems)
	}
	// A new credential replaces the old one.
	next := strings.Replace(cloudsYAML, "app-cred-id", "app-cred-2", 1)
	files, err = Create(CreateOptions{FS: fsys, Site: site, CloudsYAML: []byte(next), Replace: true})
	if err != nil || len(files) != 2 {
		t.Fatalf("rotate to a new credential: %v %v", files.Paths(), err)
	}
}

// TestTampering: what validate finds without the key, and what only the
// key finds (Check); no message quotes a value.
func TestTampering(t *testing.T) {
	id, other := newIdentity(t), newIdentity(t)
	const file = "clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml"
	for _, tc := range []struct {
		name      string
		edit      func(string) string
		ids       Identities
		inspect   string // rule Inspect reports, or ""
		check     string // rule Check reports, or ""
		inMessage string
	}{
		{
			name: "ciphertext changed in form",
			edit: func(s string) string {
				return replaceValue(s, "clouds.yaml:", "ENC[AES256_GCM,data:eHl6,iv:c2hvcnQ=,tag:eA==,type:str]")
			},
			ids: Identities{id}, inspect: RuleTampered, check: RuleTampered, inMessage: "broken iv",
		},
		{
			name: "value in clear",
			edit: func(s string) string { return replaceValue(s, "cloud.conf:", canary) },
			ids:  Identities{id}, inspect: RuleClear, check: RuleClear, inMessage: "is not a SOPS-encrypted value",
		},
		{
			name: "namespace moved",
			edit: func(s string) string { return strings.Replace(s, "namespace: teaching", "namespace: edi-mgmt", 1) },
			ids:  Identities{id}, inspect: RuleLayout, check: RuleMAC, inMessage: "not its cluster's",
		},
		{
			name: "values swapped between keys",
			edit: swapValues,
			ids:  Identities{id}, check: RuleMAC, inMessage: "MAC",
		},
		{
			name: "wrong identity",
			edit: func(s string) string { return s },
			ids:  Identities{other}, check: RuleMAC, inMessage: "none of the given age identities",
		},
		{
			name: "MAC removed",
			edit: func(s string) string { return replaceValue(s, "mac:", "") },
			ids:  Identities{id}, inspect: RuleTampered, check: RuleTampered, inMessage: "MAC",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, site := created(t, id)
			fsys[file].Data = []byte(tc.edit(string(fsys[file].Data)))
			_, problems, err := Inspect(fsys, site)
			if err != nil {
				t.Fatal(err)
			}
			if !hasRule(problems, tc.inspect) {
				t.Errorf("inspect: want %q, got %v", tc.inspect, problems)
			}
			res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: tc.ids})
			if err != nil {
				t.Fatal(err)
			}
			if !hasRule(res.Problems, tc.check) || !strings.Contains(res.Problems.Error(), tc.inMessage) {
				t.Errorf("check: want %q with %q, got %v", tc.check, tc.inMessage, res.Problems)
			}
			for _, d := range append(problems, res.Problems...) {
				if d.File != file && tc.name != "wrong identity" {
					t.Errorf("finding about another file: %v", d)
				}
			}
			noCanary(t, "a finding", problems.Error(), res.Problems.Error())
		})
	}
}

func hasRule(l diag.List, rule string) bool {
	if rule == "" {
		return len(l) == 0
	}
	for _, d := range l {
		if d.Rule == rule {
			return true
		}
	}
	return false
}

// replaceValue replaces the value of the first line that starts (after
// indentation) with key.
func replaceValue(s, key, v string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), key) {
			lines[i] = l[:strings.Index(l, key)+len(key)] + " " + v
			break
		}
	}
	return strings.Join(lines, "\n")
}

// swapValues swaps the ciphertexts of cloud.conf and clouds.yaml: each is
// still well-formed, but bound to the other key's path.
func swapValues(s string) string {
	val := func(key string) string {
		for _, l := range strings.Split(s, "\n") {
			if t := strings.TrimSpace(l); strings.HasPrefix(t, key) {
				return strings.TrimSpace(strings.TrimPrefix(t, key))
			}
		}
		return ""
	}
	a, b := val("cloud.conf:"), val("clouds.yaml:")
	s = strings.Replace(s, a, "@A@", 1)
	s = strings.Replace(s, b, a, 1)
	return strings.Replace(s, "@A@", b, 1)
}

func TestInspectLayout(t *testing.T) {
	id := newIdentity(t)
	for _, tc := range []struct {
		name  string
		edit  func(fstest.MapFS)
		noKey bool
		rule  string
		file  string
		msg   string
	}{
		{
			name: "missing credentials",
			edit: func(f fstest.MapFS) { delete(f, "clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml") },
			rule: RuleMissing, file: "clusters/edi/teaching.yaml", msg: "capiform secrets create edi --cluster teaching",
		},
		{
			name: "folder of no cluster",
			edit: func(f fstest.MapFS) {
				f["clusters/edi/secrets/gone/x.sops.yaml"] = f["clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml"]
			},
			rule: RuleLayout, file: "clusters/edi/secrets/gone", msg: `no cluster "gone"`,
		},
		{
			name: "file beside the cluster folders",
			edit: func(f fstest.MapFS) { f["clusters/edi/secrets/readme.md"] = &fstest.MapFile{Data: []byte("x")} },
			rule: RuleLayout, file: "clusters/edi/secrets/readme.md",
		},
		{
			name: "file named unlike its Secret",
			edit: func(f fstest.MapFS) {
				f["clusters/edi/secrets/teaching/other.sops.yaml"] = f["clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml"]
			},
			rule: RuleLayout, file: "clusters/edi/secrets/teaching/other.sops.yaml", msg: "name file and Secret alike",
		},
		{
			name:  "site without recipients",
			noKey: true,
			rule:  RuleRecipients, file: "clusters/edi/secrets", msg: "no spec.secrets.ageRecipients",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, site := created(t, id)
			if tc.edit != nil {
				tc.edit(fsys)
			}
			if tc.noKey {
				for _, f := range []string{"site.yaml", "edi-mgmt.yaml", "teaching.yaml"} {
					fsys["clusters/edi/"+f] = testFleet(t)["clusters/edi/"+f]
				}
				site = loadSite(t, fsys)
			}
			_, problems, err := Inspect(fsys, site)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range problems {
				if d.Rule == tc.rule && d.File == tc.file && strings.Contains(d.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s at %s (%q), got %v", tc.rule, tc.file, tc.msg, problems)
			}
		})
	}
}

func TestScanClear(t *testing.T) {
	encrypted := func(t *testing.T) []byte {
		id := newIdentity(t)
		b, err := Encrypt(Secret{Name: "s", Namespace: "n", Data: map[string][]byte{"k": []byte(canary)}}, []string{id.Recipient().String()})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		file string
		data string
		want string // file:line of the finding, or ""
	}{
		{"data in a platform", "platforms/x/manifests/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: " + canary + "\n", "platforms/x/manifests/secret.yaml:6:3"},
		{"stringData in a stream", "clusters/lon/extra/a.yml", "kind: ConfigMap\n---\napiVersion: v1\nkind: Secret\nstringData:\n  k: v\n", "clusters/lon/extra/a.yml:6:3"},
		{"empty Secret", "platforms/x/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", ""},
		{"another group's Secret", "platforms/x/s.yaml", "apiVersion: example.org/v1\nkind: Secret\ndata: {k: v}\n", ""},
		{"generated tree", "clusters/lon/generated/s.yaml", "apiVersion: v1\nkind: Secret\ndata: {k: v}\n", ""},
		{"encrypted", "clusters/lon/secrets/a/s.sops.yaml", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			if data == nil || len(data) == 0 {
				data = encrypted(t)
			}
			l, err := ScanClear(fstest.MapFS{tc.file: &fstest.MapFile{Data: data}})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(l) > 0 {
				got = l[0].Pos.String()
				if l[0].Rule != RuleClear {
					t.Errorf("rule %s", l[0].Rule)
				}
			}
			if got != tc.want || len(l) > 1 {
				t.Errorf("got %v, want at %q", l, tc.want)
			}
			noCanary(t, "a finding", l.Error())
		})
	}
}

func TestCloudConf(t *testing.T) {
	for _, tc := range []struct {
		name, clouds, cloud, region, want, err string
	}{
		{
			name:   "password and region override",
			clouds: "clouds:\n  lab:\n    auth: {auth_url: 'https://k/v3', username: u, password: 'a\"b\\c', project_name: p, user_domain_name: Default, project_domain_name: Default}\n    region_name: R1\n    verify: false\n",
			cloud:  "lab", region: "R2",
			want: "[Global]\nauth-url=\"https://k/v3\"\nusername=\"u\"\npassword=\"a\\\"b\\\\c\"\nuser-domain-name=\"Default\"\ntenant-name=\"p\"\ntenant-domain-name=\"Default\"\nregion=\"R2\"\ntls-insecure=true\n",
		},
		{name: "no such cloud", clouds: cloudsYAML, cloud: "other", err: `no cloud "other"`},
		{name: "no credential", clouds: "clouds:\n  openstack:\n    auth: {auth_url: u}\n", err: "neither an application credential nor a password"},
		{name: "not YAML", clouds: "clouds: [" + canary, err: "not a YAML map"},
		{name: "unknown auth key", clouds: "clouds:\n  openstack:\n    auth: {auth_url: u, password: " + canary + ", token: " + canary + "}\n", err: "auth.token has no place"},
		{name: "line break", clouds: "clouds:\n  openstack:\n    auth: {auth_url: u, password: \"a\\n" + canary + "\"}\n", err: "line break"},
		{name: "control character", clouds: "clouds:\n  openstack:\n    auth: {auth_url: u, password: \"a\\x01" + canary + "\"}\n", err: "control or non-printing character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CloudConf([]byte(tc.clouds), tc.cloud, tc.region)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				noCanary(t, "the error", err.Error())
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q %v\nwant %q", got, err, tc.want)
			}
		})
	}
}

// TestDerivedKeyMissing: a credentials Secret made before
// cloud-conf-values.yaml existed is reported without the key, by name,
// and rotate derives the key from the clouds.yaml it holds.
func TestDerivedKeyMissing(t *testing.T) {
	id := newIdentity(t)
	fsys, site := created(t, id)
	conf, err := CloudConf([]byte(cloudsYAML), "", site.Spec.Cloud.Region)
	if err != nil {
		t.Fatal(err)
	}
	old, err := Encrypt(Secret{Name: "edi-cloud-credentials", Namespace: "teaching", Data: map[string][]byte{
		CloudsYAMLKey: []byte(cloudsYAML), CloudConfKey: conf,
	}}, []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	p := FilePath("edi", "teaching", "edi-cloud-credentials")
	fsys[p] = &fstest.MapFile{Data: old}
	_, problems, err := Inspect(fsys, site)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Rule != RuleMissing || problems[0].Pos.File != p || !strings.Contains(problems[0].Message, CloudConfValuesKey) || !strings.Contains(problems[0].Message, "capiform secrets rotate edi") {
		t.Fatalf("inspect: %v", problems)
	}
	res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: Identities{id}})
	if err != nil || !slices.ContainsFunc(res.Problems, func(d diag.Diagnostic) bool {
		return d.Rule == RuleContent && strings.Contains(d.Message, CloudConfValuesKey)
	}) {
		t.Fatalf("check: %v %v", err, res.Problems)
	}
	files, err := Rotate(RekeyOptions{FS: fsys, Site: site, Identities: Identities{id}})
	if err != nil {
		t.Fatal(err)
	}
	apply(fsys, files)
	if _, problems, _ := Inspect(fsys, site); len(problems) > 0 {
		t.Fatalf("after rotate: %v", problems)
	}
	if res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: Identities{id}}); err != nil || len(res.Problems) > 0 {
		t.Fatalf("check after rotate: %v %v", err, res.Problems)
	}
	for p, b := range files {
		noCanary(t, p, string(b))
	}
}

// TestCopyFrom: a new cluster gets the site's credentials from another
// cluster's file, decrypted with the key, encrypted for its namespace.
func TestCopyFrom(t *testing.T) {
	id := newIdentity(t)
	fsys, site := created(t, id)
	const teaching = "clusters/edi/secrets/teaching/edi-cloud-credentials.sops.yaml"
	delete(fsys, teaching)
	if _, err := Create(CreateOptions{FS: fsys, Site: site, CopyFrom: "edi-mgmt", Identities: Identities{newIdentity(t)}}); err == nil || !strings.Contains(err.Error(), "none of the given age identities") {
		t.Fatalf("copy with another key: %v", err)
	}
	files, err := Create(CreateOptions{FS: fsys, Site: site, CopyFrom: "edi-mgmt", Identities: Identities{id}})
	if err != nil || len(files) != 1 || files[teaching] == nil {
		t.Fatalf("copy: %v %v", files.Paths(), err)
	}
	apply(fsys, files)
	res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: Identities{id}})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("check: %v %v", err, res.Problems)
	}
	in, _, _ := Inspect(fsys, site)
	if f := in.ClusterFiles("teaching")[0]; f.Namespace != "teaching" {
		t.Errorf("namespace %s", f.Namespace)
	}
}

// selfSignedCA is a CA certificate made for the test, PEM-encoded.
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloud test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestCACert: a cloud behind a private CA. The CA bundle becomes the
// credentials' key cacert (the OpenStack provider's), checked as PEM
// certificates without quoting it; check passes with it, and a rotation
// that derives the other keys again keeps it.
func TestCACert(t *testing.T) {
	id := newIdentity(t)
	fsys := testFleet(t, id.Recipient().String())
	site := loadSite(t, fsys)
	ca := selfSignedCA(t)

	// The bundle and the site's spec.cloud.privateCA go together.
	if _, err := Create(CreateOptions{FS: fsys, Site: site, CloudsYAML: []byte(cloudsYAML), CACert: ca}); err == nil || !strings.Contains(err.Error(), "set `privateCA: true` under spec.cloud in clusters/edi/site.yaml") {
		t.Fatalf("a CA bundle for a site without a private CA: %v", err)
	}
	site.Spec.Cloud.PrivateCA = true
	bad := []byte("-----BEGIN PRIVATE KEY-----\n" + canary + "\n-----END PRIVATE KEY-----\n")
	if _, err := Create(CreateOptions{FS: fsys, Site: site, CloudsYAML: []byte(cloudsYAML), CACert: bad}); err == nil || !strings.Contains(err.Error(), CACertKey) {
		t.Fatalf("a private key as the CA bundle: %v", err)
	} else {
		noCanary(t, "the error", err.Error())
	}
	if _, err := Create(CreateOptions{FS: fsys, Site: site, CloudsYAML: []byte(cloudsYAML)}); err == nil || !strings.Contains(err.Error(), "--cacert") {
		t.Fatalf("no CA bundle for a site with a private CA: %v", err)
	}
	files, err := Create(CreateOptions{FS: fsys, Site: site, CloudsYAML: []byte(cloudsYAML), CACert: ca})
	if err != nil {
		t.Fatal(err)
	}
	apply(fsys, files)
	// Credentials with a bundle on a site that no longer says its cloud
	// has a private CA: the machines, the cloud controller and Cinder CSI
	// would not trust it.
	site.Spec.Cloud.PrivateCA = false
	wantCloudCA(t, fsys, site, "a CA bundle without spec.cloud.privateCA", func(string) string {
		return "set `privateCA: true` under spec.cloud in clusters/edi/site.yaml"
	})
	site.Spec.Cloud.PrivateCA = true
	cacert := func() []byte {
		t.Helper()
		in, problems, err := Inspect(fsys, site)
		if err != nil || len(problems) > 0 {
			t.Fatalf("inspect: %v %v", err, problems)
		}
		f := in.ClusterFiles("teaching")[0]
		tree, err := decrypt(f.Path, f.Content, Identities{id})
		if err != nil {
			t.Fatal(err)
		}
		v, err := values(f.Path, tree)
		if err != nil {
			t.Fatal(err)
		}
		return v.Data[CACertKey]
	}
	if got := cacert(); !bytes.Equal(got, ca) {
		t.Fatalf("cacert = %q, want the CA bundle", got)
	}
	if res, err := Check(CheckOptions{FS: fsys, Site: site, Identities: Identities{id}}); err != nil || len(res.Problems) > 0 {
		t.Fatalf("check: %v %v", err, res.Problems)
	}
	rotated, err := Rotate(RekeyOptions{FS: fsys, Site: site, Identities: Identities{id}})
	if err != nil {
		t.Fatal(err)
	}
	apply(fsys, rotated)
	if got := cacert(); !bytes.Equal(got, ca) {
		t.Fatalf("after rotate, cacert = %q, want the CA bundle kept", got)
	}
}

// TestPrivateCAWithoutBundle: a site that says its cloud has a private CA
// needs the bundle in every cluster's credentials (each machine's
// bootstrap reads it); validate names the command that adds it.
func TestPrivateCAWithoutBundle(t *testing.T) {
	id := newIdentity(t)
	fsys, site := created(t, id)
	if _, problems, err := Inspect(fsys, site); err != nil || len(problems) > 0 {
		t.Fatalf("inspect: %v %v", err, problems)
	}
	site.Spec.Cloud.PrivateCA = true
	wantCloudCA(t, fsys, site, "privateCA without a bundle", func(cluster string) string {
		return "capiform secrets rotate edi --cluster " + cluster + " --clouds <clouds.yaml> --cacert <ca.pem>"
	})
}

// wantCloudCA holds Inspect to one secrets.cloud-ca problem per cluster,
// at the cluster's credentials file, saying what message(cluster) says.
func wantCloudCA(t *testing.T, fsys fstest.MapFS, site *load.Site, what string, message func(cluster string) string) {
	t.Helper()
	_, problems, err := Inspect(fsys, site)
	if err != nil || len(problems) != len(site.Clusters) {
		t.Fatalf("%s: %v %v", what, err, problems)
	}
	for i, c := range site.Clusters {
		if d := problems[i]; d.Rule != RuleCloudCA || d.Pos.File != FilePath("edi", c.Metadata.Name, site.Spec.Cloud.CredentialsSecret) ||
			!strings.Contains(d.Message, message(c.Metadata.Name)) {
			t.Errorf("%s: %v", what, d)
		}
	}
}
