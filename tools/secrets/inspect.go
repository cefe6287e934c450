package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"filippo.io/age/armor"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"gopkg.in/yaml.v3"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
	"github.com/capiform/capiform/tools/source"
)

// Rules of the checks.
const (
	// RuleClear: a Secret with values in clear.
	RuleClear = "secrets.clear"
	// RuleRecipients: an encrypted file whose age recipients are not
	// exactly the site's.
	RuleRecipients = "secrets.recipients"
	// RuleTampered: an encrypted file that SOPS or kustomize-controller
	// would refuse, as far as can be seen without the key.
	RuleTampered = "secrets.tampered"
	// RuleLayout: a file or folder in the wrong place or of the wrong kind.
	RuleLayout = "secrets.layout"
	// RuleMissing: a cluster without its cloud credentials.
	RuleMissing = "secrets.missing"
	// RuleCloudCA: cloud credentials with a CA bundle on a site without
	// spec.cloud.privateCA, or the other way round.
	RuleCloudCA = "secrets.cloud-ca"
)

// encRe is SOPS's format of an encrypted value (its aes package holds
// the same expression; a test holds them together).
var encRe = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$`)

// encTypes are the value types SOPS writes.
var encTypes = map[string]bool{"str": true, "int": true, "float": true, "bool": true, "bytes": true, "comment": true}

// checkENC reports what is wrong with an encrypted value without
// decrypting it; "" when it has SOPS's form.
func checkENC(v string) string {
	m := encRe.FindStringSubmatch(v)
	if m == nil {
		return "is not a SOPS-encrypted value"
	}
	if _, err := base64.StdEncoding.DecodeString(m[1]); err != nil {
		return "has ciphertext that is not base64"
	}
	if iv, err := base64.StdEncoding.DecodeString(m[2]); err != nil || len(iv) != 32 {
		return "has a broken iv"
	}
	if tag, err := base64.StdEncoding.DecodeString(m[3]); err != nil || len(tag) != 16 {
		return "has a broken authentication tag"
	}
	if !encTypes[m[4]] {
		return "has an unknown value type"
	}
	return ""
}

// ClearRoots are the folders ScanClear reads by default.
var ClearRoots = []string{load.ClustersDir, "platforms"}

// ScanClear finds Secret manifests with values in clear in every YAML file
// under the roots (ClearRoots when none), the generated trees aside: render
// writes no Secret in clear, and render --check refuses any file it did not
// write. A file carrying SOPS metadata is left to Inspect.
func ScanClear(fsys fs.FS, roots ...string) (diag.List, error) {
	if len(roots) == 0 {
		roots = ClearRoots
	}
	var errs diag.List
	for _, root := range roots {
		err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipDir
				}
				if dg, ok := source.Diagnostic(err); ok {
					errs = append(errs, dg)
					return nil
				}
				return err
			}
			if source.Refused(p, d) != nil {
				// Links and submodules are refused by the loaders that
				// would read them.
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if d.Name() == load.GeneratedDir && path.Dir(path.Dir(p)) == load.ClustersDir {
					return fs.SkipDir
				}
				return nil
			}
			if !isYAML(d.Name()) {
				return nil
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				if dg, ok := source.Diagnostic(err); ok {
					errs = append(errs, dg)
					return nil
				}
				return err
			}
			if !bytes.Contains(data, []byte("Secret")) {
				return nil
			}
			errs = append(errs, clearSecrets(p, data)...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// clearSecrets reports each document of a YAML stream that is a Secret
// with values and no SOPS metadata. A file that does not parse is left to
// the loader that reads it.
func clearSecrets(file string, data []byte) diag.List {
	var errs diag.List
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return errs
		}
		if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[0]
		kind, api := scalar(load.MapValue(m, "kind")), scalar(load.MapValue(m, "apiVersion"))
		if kind != "Secret" || (api != "v1" && api != "") || load.MapValue(m, "sops") != nil {
			continue
		}
		for _, field := range []string{"data", "stringData"} {
			v := load.MapValue(m, field)
			if v == nil || v.Kind != yaml.MappingNode || len(v.Content) == 0 {
				continue
			}
			errs.Add(diag.Pos{File: file, Line: v.Line, Col: v.Column}, RuleClear,
				"Secret %q has its %s in clear: a Secret lives in git only encrypted; remove it from the repository, rotate what it held, and keep it with `capiform secrets create` (clusters/<site>/secrets/)",
				scalar(load.MapValue(load.MapValue(m, "metadata"), "name")), field)
			break
		}
	}
}

// Inspect reads the encrypted Secrets of a site and checks, without a key,
// what can be checked: the layout, that each file is a Secret in its
// cluster's namespace that SOPS can read, encrypted for exactly the site's
// age recipients, with every value and the MAC in SOPS's encrypted form
// and each recipient's data key an age file with one X25519 stanza; and
// that every cluster has its cloud credentials. Whether a value or the
// clear metadata was changed after encryption, and whether each data key
// really opens for its listed recipient, is only known with the key: the
// MAC and the age stanzas are checked by Check, and by kustomize-controller.
func Inspect(fsys fs.FS, site *load.Site) (*Site, diag.List, error) {
	name := site.Metadata.Name
	dir := SiteDir(name)
	out := &Site{Files: map[string][]*File{}}
	var errs diag.List
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if d, ok := source.Diagnostic(err); ok {
			return out, diag.List{d}, nil
		}
		return nil, nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var recipients []string
	if site.Spec.Secrets != nil {
		recipients = slices.Sorted(slices.Values(site.Spec.Secrets.AgeRecipients))
		for i, r := range site.Spec.Secrets.AgeRecipients {
			if _, err := sopsage.MasterKeyFromRecipient(r); err != nil {
				errs.Add(site.Pos.Of(fmt.Sprintf("spec.secrets.ageRecipients[%d]", i)), RuleRecipients,
					"%q is not an age public key: give the age1... line that `age-keygen -y` prints", r)
			}
		}
	}
	if len(entries) > 0 && site.Spec.Secrets == nil {
		errs.Add(diag.Pos{File: dir}, RuleRecipients,
			"site %s has encrypted Secrets but no spec.secrets.ageRecipients in %s: add the age recipients the files are encrypted for", name, site.File)
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		if err := source.Refused(p, e); err != nil {
			d, _ := source.Diagnostic(err)
			errs = append(errs, d)
			continue
		}
		if !e.IsDir() {
			errs.Add(diag.Pos{File: p}, RuleLayout,
				"%s holds one folder per cluster: move this file into %s/<cluster>/", dir, dir)
			continue
		}
		cluster := e.Name()
		if site.Cluster(cluster) == nil && cluster != SiteFolder {
			errs.Add(diag.Pos{File: p}, RuleLayout,
				"no cluster %q in site %s: remove the folder, or name it after a cluster (or %s, for the site's own Secrets)", cluster, name, SiteFolder)
			continue
		}
		files, err := fs.ReadDir(fsys, p)
		if err != nil {
			if d, ok := source.Diagnostic(err); ok {
				errs = append(errs, d)
				continue
			}
			return nil, nil, fmt.Errorf("reading %s: %w", p, err)
		}
		for _, fe := range files {
			fp := path.Join(p, fe.Name())
			if err := source.Refused(fp, fe); err != nil {
				d, _ := source.Diagnostic(err)
				errs = append(errs, d)
				continue
			}
			if fe.IsDir() || !strings.HasSuffix(fe.Name(), Ext) {
				errs.Add(diag.Pos{File: fp}, RuleLayout,
					"a cluster's secrets folder holds only SOPS-encrypted Secrets named <name>%s: move or remove this", Ext)
				continue
			}
			data, err := fs.ReadFile(fsys, fp)
			if err != nil {
				if d, ok := source.Diagnostic(err); ok {
					errs = append(errs, d)
					continue
				}
				return nil, nil, fmt.Errorf("reading %s: %w", fp, err)
			}
			f, ferrs := inspectFile(fp, data, cluster, namespaceOf(site, cluster), recipients, site.Spec.Secrets != nil)
			errs = append(errs, ferrs...)
			if f != nil {
				out.Files[cluster] = append(out.Files[cluster], f)
				if f.Name == site.Spec.Cloud.CredentialsSecret {
					errs = append(errs, checkCredentialKeys(f, site)...)
				}
			}
		}
	}
	if site.Spec.Secrets != nil {
		for _, c := range site.Clusters {
			cn := c.Metadata.Name
			if !slices.ContainsFunc(out.Files[cn], func(f *File) bool { return f.Name == site.Spec.Cloud.CredentialsSecret }) &&
				!hasFile(errs, FilePath(name, cn, site.Spec.Cloud.CredentialsSecret)) {
				errs.Add(diag.Pos{File: c.File}, RuleMissing,
					"cluster %s has no cloud credentials %s: run `capiform secrets create %s --cluster %s --clouds <clouds.yaml>` and commit it",
					cn, FilePath(name, cn, site.Spec.Cloud.CredentialsSecret), name, cn)
			}
		}
	}
	errs = append(errs, checkGitHost(site, out)...)
	for _, fs := range out.Files {
		sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
	}
	return out, errs, nil
}

// checkCredentialKeys reports the keys a cloud credentials Secret lacks:
// their names are in clear, so this needs no key. A Secret made before
// cloud-conf-values.yaml existed gets it from `secrets rotate`, which
// derives it from the clouds.yaml it holds. The CA bundle (key cacert) is
// there exactly when the site says its cloud has a private CA: every
// machine's bootstrap reads it then, and without spec.cloud.privateCA the
// cloud controller and Cinder CSI would not trust it.
func checkCredentialKeys(f *File, s *load.Site) diag.List {
	var errs diag.List
	site := s.Metadata.Name
	has := func(k string) bool {
		_, d := f.Values["data."+k]
		_, s := f.Values["stringData."+k]
		return d || s
	}
	if !has(CloudsYAMLKey) {
		errs.Add(diag.Pos{File: f.Path}, RuleMissing,
			"the cloud credentials have no key %s: write them again with `capiform secrets rotate %s --cluster %s --clouds <clouds.yaml>`", CloudsYAMLKey, site, f.Cluster)
		return errs
	}
	switch {
	case s.Spec.Cloud.PrivateCA && !has(CACertKey):
		errs.Add(diag.Pos{File: f.Path}, RuleCloudCA,
			"the site sets spec.cloud.privateCA (%s) but the cloud credentials have no key %s, which every machine's bootstrap reads: add the CA bundle with `capiform secrets rotate %s --cluster %s --clouds <clouds.yaml> --cacert <ca.pem>`", s.File, CACertKey, site, f.Cluster)
	case !s.Spec.Cloud.PrivateCA && has(CACertKey):
		errs.Add(diag.Pos{File: f.Path}, RuleCloudCA,
			"the cloud credentials have a CA bundle (key %s) but the site does not set spec.cloud.privateCA: set `privateCA: true` under spec.cloud in %s, so that the machines, the cloud controller and Cinder CSI trust the cloud as the OpenStack provider does", CACertKey, s.File)
	}
	for _, k := range []struct{ key, reader string }{
		{CloudConfKey, "Cinder CSI reads"},
		{CloudConfValuesKey, "the cloud controller's chart reads"},
	} {
		if !has(k.key) {
			errs.Add(diag.Pos{File: f.Path}, RuleMissing,
				"the cloud credentials have no key %s, which %s: derive it from their clouds.yaml with `capiform secrets rotate %s --age-key-file <key>`", k.key, k.reader, site)
		}
	}
	return errs
}

// SiteFolder is the folder of a site's own Secrets, those of flux-system
// (the git host tokens of spec.flux.gitHost); its files are in namespace
// flux-system, as a cluster's are in the cluster's namespace.
const SiteFolder = resolve.FluxNamespace

// checkGitHost reports the git host tokens that spec.flux.gitHost needs and
// the site does not have encrypted: a token reaches flux-system only that
// way, never in clear.
func checkGitHost(site *load.Site, in *Site) diag.List {
	var errs diag.List
	if site.Spec.Flux == nil || site.Spec.Flux.GitHost == nil {
		return nil
	}
	g := site.Spec.Flux.GitHost
	at := site.Pos.Of("spec.flux.gitHost")
	if site.Spec.Secrets == nil {
		errs.Add(at, RuleMissing,
			"spec.flux.gitHost needs its webhook and commit status tokens encrypted in the repository: add spec.secrets.ageRecipients, then create them with `capiform secrets create %s --cluster %s`", site.Metadata.Name, SiteFolder)
		return errs
	}
	need := []string{or(g.WebhookSecret, v1alpha1.DefaultWebhookSecret)}
	if or(g.Report, v1alpha1.ReportAll) != v1alpha1.ReportNone {
		need = append(need, or(g.StatusSecret, v1alpha1.DefaultStatusSecret))
	}
	for _, n := range need {
		if !slices.ContainsFunc(in.Files[SiteFolder], func(f *File) bool { return f.Name == n }) {
			errs.Add(at, RuleMissing,
				"spec.flux.gitHost needs the Secret %s (key token) at %s: run `capiform secrets create %s --cluster %s --name %s --from-file token=<file>` and commit it (docs/reconcile-on-merge.md)",
				n, FilePath(site.Metadata.Name, SiteFolder, n), site.Metadata.Name, SiteFolder, n)
		}
	}
	return errs
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func hasFile(l diag.List, file string) bool {
	return slices.ContainsFunc(l, func(d diag.Diagnostic) bool { return d.File == file })
}

// inspectFile checks one encrypted file; it returns the file when it can
// be delivered (its problems aside, which stop the render anyway).
func inspectFile(file string, data []byte, cluster, namespace string, recipients []string, managed bool) (*File, diag.List) {
	var errs diag.List
	at := func(n *yaml.Node) diag.Pos {
		if n == nil {
			return diag.Pos{File: file}
		}
		return diag.Pos{File: file, Line: n.Line, Col: n.Column}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		errs.Add(at(nil), RuleTampered, "not a YAML document (%s): write it again with `capiform secrets create`", yamlReason(err))
		return nil, errs
	}
	var extra yaml.Node
	if dec.Decode(&extra) != io.EOF {
		errs.Add(at(&extra), RuleLayout, "one Secret a file: split the stream into files")
		return nil, errs
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		errs.Add(at(&doc), RuleLayout, "not a Kubernetes Secret: a cluster's secrets folder holds only encrypted Secrets")
		return nil, errs
	}
	m := doc.Content[0]
	if scalar(load.MapValue(m, "kind")) != "Secret" || scalar(load.MapValue(m, "apiVersion")) != "v1" {
		errs.Add(at(m), RuleLayout, "not a Kubernetes Secret (apiVersion v1, kind Secret): a cluster's secrets folder holds only encrypted Secrets")
		return nil, errs
	}
	sopsNode := load.MapValue(m, "sops")
	if sopsNode == nil {
		// In clear: ScanClear reports it (with its values' line).
		if load.MapValue(m, "data") == nil && load.MapValue(m, "stringData") == nil {
			errs.Add(at(m), RuleClear, "Secret without SOPS metadata: encrypt it with `capiform secrets create`")
		}
		return nil, errs
	}
	md := load.MapValue(m, "metadata")
	f := &File{Path: file, Cluster: cluster, Content: data, Values: map[string]string{},
		Name: scalar(load.MapValue(md, "name")), Namespace: scalar(load.MapValue(md, "namespace"))}
	if f.Name == "" || path.Base(file) != f.Name+Ext {
		errs.Add(at(md), RuleLayout, "the file of Secret %q is named %s%s: name file and Secret alike", f.Name, f.Name, Ext)
	}
	if ns := namespace; f.Namespace != ns {
		n := load.MapValue(md, "namespace")
		if n == nil {
			n = md
		}
		errs.Add(at(n), RuleLayout,
			"Secret %q is in namespace %q, not its cluster's %q: write it again with `capiform secrets create` (the namespace cannot be changed without the key: the MAC covers it)", f.Name, f.Namespace, ns)
	}
	// Values: under data and stringData, every one encrypted; elsewhere
	// none (the encrypted_regex leaves metadata clear).
	for _, field := range []string{"data", "stringData"} {
		v := load.MapValue(m, field)
		if v == nil {
			continue
		}
		if v.Kind != yaml.MappingNode {
			errs.Add(at(v), RuleTampered, "%s is not a map of encrypted values: write the file again with `capiform secrets create`", field)
			continue
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, val := v.Content[i], v.Content[i+1]
			if val.Kind != yaml.ScalarNode {
				errs.Add(at(val), RuleTampered, "%s.%s is not an encrypted value: write the file again with `capiform secrets create`", field, k.Value)
				continue
			}
			if why := checkENC(val.Value); why != "" {
				rule := RuleTampered
				if !strings.HasPrefix(val.Value, "ENC[") {
					rule = RuleClear
				}
				errs.Add(at(val), rule, "%s.%s %s (never shown): a value edited by hand is refused by kustomize-controller; rotate the credential if it was in clear, and write it again with `capiform secrets rotate`", field, k.Value, why)
				continue
			}
			f.Values[field+"."+k.Value] = val.Value
		}
	}
	errs = append(errs, checkMetadata(file, data, sopsNode, at, recipients, managed, f)...)
	return f, errs
}

// checkMetadata checks the SOPS metadata: read by SOPS's own store (what
// kustomize-controller reads), with positions from the YAML.
func checkMetadata(file string, data []byte, sopsNode *yaml.Node, at func(*yaml.Node) diag.Pos, recipients []string, managed bool, f *File) diag.List {
	var errs diag.List
	tree, err := sopsyaml.NewStore(&config.YAMLStoreConfig{}).LoadEncryptedFile(data)
	if err != nil {
		// SOPS's own words name a field, never a value of data.
		errs.Add(at(sopsNode), RuleTampered, "SOPS cannot read the file's metadata (%s): write it again with `capiform secrets create`", sopsReason(err))
		return errs
	}
	md := tree.Metadata
	if md.EncryptedRegex != EncryptedRegex || md.MACOnlyEncrypted {
		errs.Add(at(sopsNode), RuleTampered,
			"encrypted with other settings than capiform's (encrypted_regex %q, MAC over every value): write it again with `capiform secrets create`", EncryptedRegex)
	}
	if why := checkENC(md.MessageAuthenticationCode); why != "" {
		errs.Add(at(load.MapValue(sopsNode, "mac")), RuleTampered, "the MAC %s: kustomize-controller refuses the file; write it again with `capiform secrets rotate`", why)
	}
	var got []string
	other := 0
	for _, g := range md.KeyGroups {
		for _, k := range g {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok {
				other++
				continue
			}
			got = append(got, ak.Recipient)
			if why := checkAgeStanza(ak.EncryptedKey); why != "" {
				errs.Add(at(recipientNode(sopsNode, ak.Recipient)), RuleTampered,
					"the data key of recipient %s %s: write the file again with `capiform secrets updatekeys`", ak.Recipient, why)
			}
		}
	}
	sort.Strings(got)
	f.Recipients = got
	if len(md.KeyGroups) > 1 || other > 0 {
		errs.Add(at(sopsNode), RuleRecipients,
			"encrypted for keys other than age recipients, or in several key groups: capiform files are encrypted for the site's age recipients only; run `capiform secrets updatekeys`")
	}
	if managed && !slices.Equal(got, recipients) {
		var missing, extra []string
		for _, r := range recipients {
			if !slices.Contains(got, r) {
				missing = append(missing, r)
			}
		}
		for _, r := range got {
			if !slices.Contains(recipients, r) {
				extra = append(extra, r)
			}
		}
		msg := "encrypted for other age recipients than the site's spec.secrets.ageRecipients"
		if len(missing) > 0 {
			msg += "; missing " + strings.Join(missing, ", ")
		}
		if len(extra) > 0 {
			msg += "; not the site's " + strings.Join(extra, ", ")
		}
		errs.Add(at(load.MapValue(sopsNode, "age")), RuleRecipients, "%s: run `capiform secrets updatekeys %s` with the site's age key", msg, siteOf(file))
	}
	return errs
}

// checkAgeStanza reports what is wrong with an armored age file holding a
// data key, read without the identity: its header must have one X25519
// recipient stanza (one file per recipient).
func checkAgeStanza(enc string) string {
	b, err := io.ReadAll(armor.NewReader(strings.NewReader(enc)))
	if err != nil {
		return "is not an armored age file"
	}
	const intro = "age-encryption.org/v1\n"
	if !bytes.HasPrefix(b, []byte(intro)) {
		return "is not an age file"
	}
	header, _, ok := bytes.Cut(b, []byte("\n--- "))
	if !ok {
		return "has no age header"
	}
	stanzas := 0
	for _, l := range strings.Split(string(header), "\n") {
		if strings.HasPrefix(l, "-> ") {
			stanzas++
			if !strings.HasPrefix(l, "-> X25519 ") {
				return "is encrypted for another kind of age recipient"
			}
		}
	}
	if stanzas != 1 {
		return "is not encrypted for exactly one recipient"
	}
	return ""
}

func recipientNode(sopsNode *yaml.Node, r string) *yaml.Node {
	ages := load.MapValue(sopsNode, "age")
	if ages != nil && ages.Kind == yaml.SequenceNode {
		for _, a := range ages.Content {
			if n := load.MapValue(a, "recipient"); n != nil && n.Value == r {
				return n
			}
		}
	}
	return sopsNode
}

func siteOf(file string) string {
	parts := strings.Split(file, "/")
	if len(parts) > 1 {
		return parts[1]
	}
	return ""
}

// sopsReason is an error of SOPS's store made safe to show: only its first
// line, and never when it quotes the input.
func sopsReason(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if strings.ContainsAny(s, "`'\"") {
		return "malformed metadata"
	}
	return s
}

// yamlReason is a YAML error without the text it quotes.
func yamlReason(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return "unexpected types"
	}
	s := err.Error()
	if strings.ContainsAny(s, "`'\"") {
		return "malformed YAML"
	}
	return s
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// namespaceOf is the namespace of a cluster's Secrets: the cluster's
// namespace on the management cluster, an adopted one included; a folder
// of no cluster of the site takes the cluster's name (the folder is
// reported apart).
func namespaceOf(site *load.Site, cluster string) string {
	if c := site.Cluster(cluster); c != nil {
		return resolve.Namespace(c)
	}
	return resolve.ClusterNamespace(cluster)
}
