package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"sync"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/logging"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"
	"github.com/sirupsen/logrus"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/pemcert"
	"github.com/capiform/capiform/tools/load"
)

// These operations run on an operator's machine with the site's age
// identity; none runs on untrusted input in CI. Their errors say what and
// where, never a value: SOPS's own error texts are not passed on, since
// some quote a value or the hash of one.

// RuleMAC: a file whose MAC does not match its content, or whose data key
// does not open with the given identity.
const RuleMAC = "secrets.mac"

// RuleContent: a credentials Secret whose keys are missing or disagree.
const RuleContent = "secrets.content"

var quiet sync.Once

// silence turns SOPS's loggers off: some log a value (an unencrypted
// comment, a recipient) and a library must not print.
func silence() {
	quiet.Do(func() {
		for _, l := range logging.Loggers {
			l.SetOutput(io.Discard)
			l.SetLevel(logrus.PanicLevel)
		}
	})
}

// Identities are age private keys.
type Identities []age.Identity

// ParseIdentities reads age identities (an age-keygen file: one
// AGE-SECRET-KEY-1... a line, comments allowed). Its error never quotes
// the input.
func ParseIdentities(r io.Reader) (Identities, error) {
	ids, err := age.ParseIdentities(r)
	if err != nil {
		return nil, errors.New("not an age identity file (one AGE-SECRET-KEY-1... line per key, as age-keygen writes)")
	}
	return ids, nil
}

// Secret is a Secret to encrypt: its name, namespace and values.
type Secret struct {
	Name, Namespace string
	Data            map[string][]byte
}

// plain writes the Secret as YAML with keys sorted at every level. The
// order matters: kustomize-controller computes the MAC over the resource
// as kustomize gives it, as JSON with sorted keys, and SOPS's MAC depends
// on the order of the values.
func (s Secret) plain() ([]byte, error) {
	data := map[string]string{}
	for k, v := range s.Data {
		data[k] = base64.StdEncoding.EncodeToString(v)
	}
	return sigsyaml.Marshal(map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": s.Name, "namespace": s.Namespace},
		"type":       "Opaque",
		"data":       data,
	})
}

func store() *sopsyaml.Store { return sopsyaml.NewStore(&config.YAMLStoreConfig{}) }

// Encrypt encrypts a Secret for the age recipients, with a new data key.
func Encrypt(s Secret, recipients []string) ([]byte, error) {
	silence()
	plain, err := s.plain()
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", s.Name, err)
	}
	branches, err := store().LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("secret %s: cannot be read as YAML", s.Name)
	}
	tree := &sops.Tree{Branches: branches, Metadata: sops.Metadata{
		EncryptedRegex: EncryptedRegex,
		Version:        version.Version,
	}}
	return seal(tree, recipients, s.Name)
}

// seal encrypts a plain tree with a new data key for the recipients.
func seal(tree *sops.Tree, recipients []string, name string) ([]byte, error) {
	group, err := ageGroup(recipients)
	if err != nil {
		return nil, err
	}
	tree.Metadata.KeyGroups = []sops.KeyGroup{group}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := lockDataKey(tree, key); err != nil {
		return nil, err
	}
	if err := common.EncryptTree(common.EncryptTreeOpts{Tree: tree, Cipher: aes.NewCipher(), DataKey: key}); err != nil {
		return nil, fmt.Errorf("secret %s: encryption failed", name)
	}
	out, err := store().EmitEncryptedFile(*tree)
	if err != nil {
		return nil, fmt.Errorf("secret %s: cannot write the encrypted file", name)
	}
	return out, nil
}

func ageGroup(recipients []string) (sops.KeyGroup, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no age recipients: set spec.secrets.ageRecipients in the site's site.yaml")
	}
	rs := slices.Sorted(slices.Values(recipients))
	var group sops.KeyGroup
	for _, r := range rs {
		k, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("%q is not an age public key", r)
		}
		group = append(group, k)
	}
	return group, nil
}

// lockDataKey encrypts the data key for every key of the tree's groups.
func lockDataKey(tree *sops.Tree, key []byte) error {
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			if err := k.Encrypt(key); err != nil {
				return fmt.Errorf("encrypting the data key for %s failed", k.ToString())
			}
		}
	}
	tree.Metadata.DataKey = key
	return nil
}

// open loads an encrypted file and recovers its data key with the
// identities.
func open(file string, data []byte, ids Identities) (*sops.Tree, error) {
	silence()
	tree, err := store().LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: SOPS cannot read it", file)
	}
	parsed := sopsage.ParsedIdentities(ids)
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok {
				continue
			}
			parsed.ApplyToMasterKey(ak)
			if key, err := ak.Decrypt(); err == nil {
				tree.Metadata.DataKey = key
				return &tree, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: none of the given age identities opens it (is it the site's key?)", file)
}

// decrypt opens a file and decrypts its values, checking the MAC.
func decrypt(file string, data []byte, ids Identities) (*sops.Tree, error) {
	tree, err := open(file, data, ids)
	if err != nil {
		return nil, err
	}
	if _, err := common.DecryptTree(common.DecryptTreeOpts{Tree: tree, Cipher: aes.NewCipher()}); err != nil {
		return nil, fmt.Errorf("%s: the MAC does not match the content: the file was changed after it was encrypted; write it again with `capiform secrets rotate` from a trusted copy", file)
	}
	return tree, nil
}

// values returns the data of a decrypted Secret tree.
func values(file string, tree *sops.Tree) (Secret, error) {
	plain, err := store().EmitPlainFile(tree.Branches)
	if err != nil {
		return Secret{}, fmt.Errorf("%s: cannot write the decrypted tree", file)
	}
	var s struct {
		Metadata   struct{ Name, Namespace string }
		Data       map[string]string
		StringData map[string]string `json:"stringData"`
	}
	if err := sigsyaml.Unmarshal(plain, &s); err != nil {
		return Secret{}, fmt.Errorf("%s: the decrypted file is not a Secret", file)
	}
	out := Secret{Name: s.Metadata.Name, Namespace: s.Metadata.Namespace, Data: map[string][]byte{}}
	for k, v := range s.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return Secret{}, fmt.Errorf("%s: data.%s is not base64", file, k)
		}
		out.Data[k] = b
	}
	for k, v := range s.StringData {
		out.Data[k] = []byte(v)
	}
	return out, nil
}

// Files are files to write, by path relative to the repository root.
type Files map[string][]byte

// Paths returns the paths in order.
func (f Files) Paths() []string { return slices.Sorted(maps.Keys(f)) }

// CreateOptions of Create.
type CreateOptions struct {
	// FS is the repository (to see which files exist).
	FS fs.FS
	// Site is the loaded site.
	Site *load.Site
	// Clusters are the clusters to write for; empty is every cluster of
	// the site that has no such Secret yet.
	Clusters []string
	// Name is the Secret's name; empty is the site's cloud credentials
	// Secret (spec.cloud.credentialsSecret).
	Name string
	// CloudsYAML is clouds.yaml, for the cloud credentials Secret: its
	// keys are clouds.yaml and cloud.conf and cloud-conf-values.yaml,
	// derived from it.
	CloudsYAML []byte
	// CACert is the cloud's CA bundle (PEM certificates), for the cloud
	// credentials Secret's key cacert; nil, none.
	CACert []byte
	// Data are the keys of any other Secret (a registry's credentials,
	// the deploy key).
	Data map[string][]byte
	// Replace writes over existing files (rotate); otherwise an existing
	// file is an error.
	Replace bool
	// CopyFrom is a cluster whose Secret of this name is decrypted with
	// Identities and encrypted again for the new namespaces, instead of
	// CloudsYAML or Data: a new cluster gets the site's credentials
	// without the operator holding clouds.yaml.
	CopyFrom   string
	Identities Identities
}

// Create encrypts a Secret for the site's recipients, once per cluster
// namespace, and returns the files to write.
func Create(opts CreateOptions) (Files, error) {
	s := opts.Site
	if s.Spec.Secrets == nil {
		return nil, fmt.Errorf("site %s has no spec.secrets.ageRecipients: add the age public keys to %s first", s.Metadata.Name, s.File)
	}
	name := opts.Name
	data := opts.Data
	if opts.CopyFrom != "" {
		if name == "" {
			name = s.Spec.Cloud.CredentialsSecret
		}
		p := FilePath(s.Metadata.Name, opts.CopyFrom, name)
		b, err := fs.ReadFile(opts.FS, p)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot be read: copy from a cluster that has the Secret", p)
		}
		tree, err := decrypt(p, b, opts.Identities)
		if err != nil {
			return nil, err
		}
		v, err := values(p, tree)
		if err != nil {
			return nil, err
		}
		data = v.Data
	} else if name == "" || name == s.Spec.Cloud.CredentialsSecret {
		name = s.Spec.Cloud.CredentialsSecret
		if opts.CloudsYAML == nil {
			return nil, fmt.Errorf("the cloud credentials Secret %s is made from clouds.yaml: give it", name)
		}
		d, err := credentials(opts.CloudsYAML, s)
		if err != nil {
			return nil, err
		}
		switch {
		case s.Spec.Cloud.PrivateCA && opts.CACert == nil:
			return nil, fmt.Errorf("site %s says its cloud has a private CA (spec.cloud.privateCA in %s): give the CA bundle too (--cacert), every machine's bootstrap reads it from these credentials", s.Metadata.Name, s.File)
		case !s.Spec.Cloud.PrivateCA && opts.CACert != nil:
			return nil, fmt.Errorf("site %s does not say its cloud has a private CA: set `privateCA: true` under spec.cloud in %s first, so that the machines, the cloud controller and Cinder CSI trust the CA bundle too", s.Metadata.Name, s.File)
		}
		if opts.CACert != nil {
			if err := pemcert.Check(opts.CACert); err != nil {
				return nil, fmt.Errorf("the CA bundle for key %s is not PEM certificates (%v): give the cloud's CA certificates, nothing else", CACertKey, err)
			}
			d[CACertKey] = opts.CACert
		}
		data = d
	} else if len(data) == 0 {
		return nil, fmt.Errorf("secret %s: no values given", name)
	}
	clusters := opts.Clusters
	all := len(clusters) == 0
	if all {
		for _, c := range s.Clusters {
			clusters = append(clusters, c.Metadata.Name)
		}
	}
	out := Files{}
	for _, c := range clusters {
		if s.Cluster(c) == nil && c != SiteFolder {
			return nil, fmt.Errorf("no cluster %q in site %s (%s is the site's own folder)", c, s.Metadata.Name, SiteFolder)
		}
		p := FilePath(s.Metadata.Name, c, name)
		if _, err := fs.Stat(opts.FS, p); err == nil && !opts.Replace {
			if all {
				continue
			}
			return nil, fmt.Errorf("%s exists: use `capiform secrets rotate` to replace it", p)
		}
		b, err := Encrypt(Secret{Name: name, Namespace: namespaceOf(s, c), Data: data}, s.Spec.Secrets.AgeRecipients)
		if err != nil {
			return nil, err
		}
		out[p] = b
	}
	return out, nil
}

// RekeyOptions of UpdateKeys and Rotate.
type RekeyOptions struct {
	FS         fs.FS
	Site       *load.Site
	Identities Identities
	// Name limits the run to one Secret name; empty is every file.
	Name string
}

// existing lists the encrypted files of a site.
func existing(fsys fs.FS, site *load.Site, name string) ([]*File, error) {
	in, _, err := Inspect(fsys, site)
	if err != nil {
		return nil, err
	}
	var out []*File
	for _, c := range slices.Sorted(maps.Keys(in.Files)) {
		for _, f := range in.Files[c] {
			if name == "" || f.Name == name {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// UpdateKeys encrypts the data key of every file of the site for exactly
// the site's recipients (as `sops updatekeys`): the values, their
// ciphertext and the MAC stay as they are.
func UpdateKeys(opts RekeyOptions) (Files, error) {
	s := opts.Site
	if s.Spec.Secrets == nil {
		return nil, fmt.Errorf("site %s has no spec.secrets.ageRecipients", s.Metadata.Name)
	}
	files, err := existing(opts.FS, s, opts.Name)
	if err != nil {
		return nil, err
	}
	out := Files{}
	for _, f := range files {
		tree, err := open(f.Path, f.Content, opts.Identities)
		if err != nil {
			return nil, err
		}
		if slices.Equal(f.Recipients, slices.Sorted(slices.Values(s.Spec.Secrets.AgeRecipients))) {
			continue
		}
		group, err := ageGroup(s.Spec.Secrets.AgeRecipients)
		if err != nil {
			return nil, err
		}
		key := tree.Metadata.DataKey
		tree.Metadata.KeyGroups = []sops.KeyGroup{group}
		if err := lockDataKey(tree, key); err != nil {
			return nil, err
		}
		b, err := store().EmitEncryptedFile(*tree)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot write the encrypted file", f.Path)
		}
		out[f.Path] = b
	}
	return out, nil
}

// Rotate encrypts every file of the site again under a new data key, for
// the site's recipients, after checking its MAC; the keys of the cloud
// credentials derived from clouds.yaml are derived again. To replace a
// credential itself, use Create with Replace.
func Rotate(opts RekeyOptions) (Files, error) {
	s := opts.Site
	if s.Spec.Secrets == nil {
		return nil, fmt.Errorf("site %s has no spec.secrets.ageRecipients", s.Metadata.Name)
	}
	files, err := existing(opts.FS, s, opts.Name)
	if err != nil {
		return nil, err
	}
	out := Files{}
	for _, f := range files {
		tree, err := decrypt(f.Path, f.Content, opts.Identities)
		if err != nil {
			return nil, err
		}
		if f.Name == s.Spec.Cloud.CredentialsSecret {
			// Derived again, so that a Secret made before a derived key
			// existed, or before the site's cloud or region changed, is
			// brought up to date without its clouds.yaml at hand.
			if tree, err = rederive(f, tree, s); err != nil {
				return nil, err
			}
		}
		tree.Metadata.MessageAuthenticationCode = ""
		b, err := seal(tree, s.Spec.Secrets.AgeRecipients, f.Name)
		if err != nil {
			return nil, err
		}
		out[f.Path] = b
	}
	return out, nil
}

// CheckOptions of Check.
type CheckOptions struct {
	FS         fs.FS
	Site       *load.Site
	Identities Identities
}

// CheckResult is what Check found.
type CheckResult struct {
	// Checked are the files checked, in order.
	Checked []string
	// Problems are the key-less findings (Inspect) and those made with the
	// key: a MAC that does not match, a data key the identity does not
	// open, a credentials Secret whose cloud.conf is not derived from its
	// clouds.yaml.
	Problems diag.List
}

// Check verifies every encrypted file of a site with the age identity:
// what Inspect checks, then the MAC (so a value or clear metadata changed
// after encryption is found) and, for the cloud credentials, that clouds.yaml
// has the site's cloud and that cloud.conf is what it derives to.
func Check(opts CheckOptions) (*CheckResult, error) {
	s := opts.Site
	in, problems, err := Inspect(opts.FS, s)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Problems: problems}
	for _, c := range slices.Sorted(maps.Keys(in.Files)) {
		for _, f := range in.Files[c] {
			res.Checked = append(res.Checked, f.Path)
			tree, err := decrypt(f.Path, f.Content, opts.Identities)
			if err != nil {
				res.Problems.Add(diag.Pos{File: f.Path}, RuleMAC, "%s", trimPath(err.Error(), f.Path))
				continue
			}
			v, err := values(f.Path, tree)
			if err != nil {
				res.Problems.Add(diag.Pos{File: f.Path}, RuleContent, "%s", trimPath(err.Error(), f.Path))
				continue
			}
			if v.Name != f.Name || v.Namespace != f.Namespace {
				res.Problems.Add(diag.Pos{File: f.Path}, RuleMAC, "the decrypted metadata differs from the clear one")
			}
			if f.Name == s.Spec.Cloud.CredentialsSecret {
				checkCredentials(f, v, s, &res.Problems)
			}
		}
	}
	sort.Strings(res.Checked)
	return res, nil
}

func checkCredentials(f *File, v Secret, s *load.Site, l *diag.List) {
	clouds, ok := v.Data[CloudsYAMLKey]
	if !ok {
		l.Add(diag.Pos{File: f.Path}, RuleContent, "the cloud credentials have no key %s: write them again with `capiform secrets rotate %s --clouds <clouds.yaml>`", CloudsYAMLKey, s.Metadata.Name)
		return
	}
	want, err := credentials(clouds, s)
	if err != nil {
		l.Add(diag.Pos{File: f.Path}, RuleContent, "%v: write the credentials again with `capiform secrets rotate %s --clouds <clouds.yaml>`", err, s.Metadata.Name)
		return
	}
	for _, k := range []string{CloudConfKey, CloudConfValuesKey} {
		if !bytes.Equal(want[k], v.Data[k]) {
			l.Add(diag.Pos{File: f.Path}, RuleContent, "%s is not what %s derives to (for the site's cloud and region): derive it again with `capiform secrets rotate %s`", k, CloudsYAMLKey, s.Metadata.Name)
		}
	}
}

// credentials are the keys of the cloud credentials Secret: clouds.yaml
// and what is derived from it for the site's cloud and region.
func credentials(clouds []byte, s *load.Site) (map[string][]byte, error) {
	conf, err := CloudConf(clouds, s.Spec.Cloud.CloudName, s.Spec.Cloud.Region)
	if err != nil {
		return nil, err
	}
	vals, err := CloudConfValues(clouds, s.Spec.Cloud.CloudName, s.Spec.Cloud.Region)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{CloudsYAMLKey: clouds, CloudConfKey: conf, CloudConfValuesKey: vals}, nil
}

// rederive returns the decrypted tree of a cloud credentials Secret with
// its derived keys made again from its clouds.yaml, as a tree to seal.
func rederive(f *File, tree *sops.Tree, s *load.Site) (*sops.Tree, error) {
	v, err := values(f.Path, tree)
	if err != nil {
		return nil, err
	}
	clouds, ok := v.Data[CloudsYAMLKey]
	if !ok {
		return nil, fmt.Errorf("%s: the cloud credentials have no key %s: write them again with `capiform secrets rotate %s --clouds <clouds.yaml>`", f.Path, CloudsYAMLKey, s.Metadata.Name)
	}
	data, err := credentials(clouds, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	// The CA bundle is not derived: it stays as it was.
	if ca, ok := v.Data[CACertKey]; ok {
		data[CACertKey] = ca
	}
	plain, err := Secret{Name: v.Name, Namespace: v.Namespace, Data: data}.plain()
	if err != nil {
		return nil, err
	}
	branches, err := store().LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the Secret written again", f.Path)
	}
	tree.Branches = branches
	return tree, nil
}

func trimPath(msg, p string) string {
	if len(msg) > len(p)+2 && msg[:len(p)+2] == p+": " {
		return msg[len(p)+2:]
	}
	return msg
}
