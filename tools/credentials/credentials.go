// Package credentials finds credentials written in clear in the values of
// capiform's inputs (definitions, the platform catalogue, chart values
// files). It combines a maintained rule set, gitleaks' default
// configuration used as a library, with capiform's structural rules: key
// names that hold a credential, the env-list shape {name: DB_PASSWORD,
// value: ...}, URLs with a password, private key blocks and docker config
// auth. It never prints, and a finding never carries the value it found.
package credentials

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Rule IDs of capiform's structural rules. The maintained rules are
// reported as GitleaksPrefix + gitleaks' own rule ID.
const (
	// RuleKeyName: a non-empty scalar under a key that names a credential
	// (password, token, secret, apiKey, private_key, auth, credentials...).
	RuleKeyName = "capiform.key-name"
	// RuleEnvValue: the value of an env-list item whose name names a
	// credential, {name: DB_PASSWORD, value: ...}.
	RuleEnvValue = "capiform.env-value"
	// RuleURLPassword: a URL with a password in its userinfo.
	RuleURLPassword = "capiform.url-password"
	// RulePrivateKey: a PEM or PGP private key block.
	RulePrivateKey = "capiform.private-key"
	// RuleEmbedded: credentials inside a string value, like clouds.yaml
	// content with a password or an application credential secret.
	RuleEmbedded = "capiform.embedded-credential"
	// RuleDockerAuth: a docker config auth (base64 user:password), as
	// auths.<registry>.auth or inside a .dockerconfigjson string.
	RuleDockerAuth = "capiform.docker-auth"
	// GitleaksPrefix is put before the ID of a gitleaks rule.
	GitleaksPrefix = "gitleaks."
)

// KeyPattern matches the keys whose value is a credential. CUE's
// #credentialKey in policies/rules.cue is the same expression (a test
// holds them together), so that a site policy extending #NoCredentials
// judges keys as the detector does.
const KeyPattern = `(?i)(pass[-_.]?word|pass[-_.]?wd|secret|token|private[-_.]?key|api[-_.]?key|access[-_.]?key|secret[-_.]?key|clouds\.yaml|credentials?|^auth)$`

// ReferencePattern matches the keys that only name a Secret (or a file)
// holding a credential; their values are fine. CUE's #referenceKey is the
// same expression.
const ReferencePattern = `(?i)(secretname|secretref|existingsecret|credentialssecret|secretkeyref|fromsecretkey|secret[-_]name|tokenfile|passwordfile)$`

// EmbeddedPattern matches a string value that holds clouds.yaml-like
// content with a credential.
const EmbeddedPattern = `(?i)(application_credential_secret|password\s*:)`

// PrivateKeyPattern matches a PEM or PGP private key block.
const PrivateKeyPattern = `(?i)-----BEGIN [A-Z0-9 ]{0,64}PRIVATE KEY( BLOCK)?-----`

var (
	embeddedRe  = regexp.MustCompile(EmbeddedPattern)
	keyRe       = regexp.MustCompile(KeyPattern)
	referenceRe = regexp.MustCompile(ReferencePattern)
	// A scheme, a user, a colon and a non-empty password before an @.
	urlPasswordRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s/@:]*:[^\s/@]+@`)
	privateKeyRe  = regexp.MustCompile(PrivateKeyPattern)
)

// Finding is one credential found in clear.
type Finding struct {
	// File is the file the value is in, as given to Scan.
	File string
	// Path is the key path of the value, like spec.env[0].value.
	Path string
	// Rule is the ID of the detector rule that found it: one of the Rule
	// constants, or GitleaksPrefix + a gitleaks rule ID.
	Rule string
	// Line and Col are where the value is in File (from ScanYAML); 0 when
	// unknown.
	Line, Col int
}

// Value is one scalar of a document: its key path, the key it is under
// (for a list item, its list's key; for the value of an env-list item, the
// item's name) and the value itself (a string, number or bool).
type Value struct {
	Path string
	Key  string
	// Env marks the value of an env-list item {name: Key, value: ...}.
	Env   bool
	Value any
}

// IsCredentialKey reports whether a key names a credential (and is not a
// reference to a Secret that holds one).
func IsCredentialKey(key string) bool {
	return keyRe.MatchString(key) && !referenceRe.MatchString(key)
}

// Scanner judges values. It remembers what it found for each distinct key
// and value, so that a value repeated across a fleet is judged once. It is
// safe for concurrent use.
type Scanner struct {
	mu   sync.Mutex
	memo map[memoKey][]string
}

type memoKey struct {
	key   string
	env   bool
	value string
}

// NewScanner returns a Scanner with an empty memory.
func NewScanner() *Scanner { return &Scanner{memo: map[memoKey][]string{}} }

// Scan judges one value of file; path is its key path, whose last field
// is the key it is under.
func Scan(file, path string, value any) []Finding {
	return NewScanner().Scan(file, Value{Path: path, Key: lastKey(path), Value: value})
}

// Scan judges one value of file and returns a finding per rule that
// matches it, sorted by rule.
func (s *Scanner) Scan(file string, v Value) []Finding {
	text, ok := scalarText(v.Value)
	if !ok {
		return nil
	}
	k := memoKey{key: v.Key, env: v.Env, value: text}
	s.mu.Lock()
	rules, seen := s.memo[k]
	s.mu.Unlock()
	if !seen {
		rules = judge(v.Key, v.Env, v.Value, text)
		s.mu.Lock()
		s.memo[k] = rules
		s.mu.Unlock()
	}
	// The docker config rule also looks at the path, which the memo does
	// not hold: auths.<registry>.auth.
	if v.Key == "auth" && !v.Env && text != "" && strings.Contains(v.Path, "auths.") && !slices.Contains(rules, RuleDockerAuth) {
		rules = append(slices.Clone(rules), RuleDockerAuth)
		slices.Sort(rules)
	}
	out := make([]Finding, 0, len(rules))
	for _, r := range rules {
		out = append(out, Finding{File: file, Path: v.Path, Rule: r})
	}
	return out
}

// judge applies every rule to one key and value.
func judge(key string, env bool, raw any, text string) []string {
	rules := structural(key, env, raw, text, 0)
	if _, isString := raw.(string); isString {
		for _, id := range gitleaksRules(key, text) {
			rules = append(rules, GitleaksPrefix+id)
		}
	}
	slices.Sort(rules)
	return slices.Compact(rules)
}

// maxEmbedded bounds how deep documents inside string values (a
// clouds.yaml or a config file held in a value) are opened, and
// maxEmbeddedSize how large such a document may be to be opened at all.
const (
	maxEmbedded     = 2
	maxEmbeddedSize = 64 << 10
)

// structural applies capiform's rules to one key and value; depth counts
// the documents inside string values it is in.
func structural(key string, env bool, raw any, text string, depth int) []string {
	var rules []string
	if text == "" {
		return nil
	}
	if IsCredentialKey(key) {
		switch raw.(type) {
		case string, int, int64, uint64, float64, json.Number:
			if env {
				rules = append(rules, RuleEnvValue)
			} else {
				rules = append(rules, RuleKeyName)
			}
		}
	}
	if _, isString := raw.(string); !isString {
		return rules
	}
	if urlPasswordRe.MatchString(text) {
		rules = append(rules, RuleURLPassword)
	}
	if embeddedRe.MatchString(text) {
		rules = append(rules, RuleEmbedded)
	}
	if privateKeyRe.MatchString(text) {
		rules = append(rules, RulePrivateKey)
	}
	if dockerConfigAuth(text) {
		rules = append(rules, RuleDockerAuth)
	}
	if embeddedDocument(text, depth) || flagValue(text) || encoded(text, depth) {
		rules = append(rules, RuleEmbedded)
	}
	return rules
}

// flagRe matches a credential given on a command line or in an env file
// inside a string: --password=x, -db-token=x, PASSWORD=x.
var flagRe = regexp.MustCompile(`(?i)(?:^|[\s"',;])-{0,2}([a-z0-9_.-]*(?:pass[-_.]?word|pass[-_.]?wd|secret|token|api[-_.]?key))([a-z0-9_.-]*)=([^\s"',;]+)`)

// flagValue reports whether text sets a credential as name=value, unless
// the name only names a file or a Secret holding it (--token-file=...),
// or the value is a reference filled in elsewhere ($VAR, {{ ... }}).
func flagValue(text string) bool {
	for _, m := range flagRe.FindAllStringSubmatch(text, 8) {
		name := strings.Trim(m[1]+m[2], "-_.")
		if referenceRe.MatchString(strings.NewReplacer("-", "", "_", "", ".", "").Replace(name)) ||
			strings.HasSuffix(strings.ToLower(name), "file") || strings.HasSuffix(strings.ToLower(name), "path") {
			continue
		}
		if v := m[3]; len(v) >= 4 && !strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "{") {
			return true
		}
	}
	return false
}

// base64Re is a string that could be base64 of something worth opening.
var base64Re = regexp.MustCompile(`^[A-Za-z0-9+/]{24,}={0,2}$`)

// encoded reports whether text is base64 of text that holds a credential
// by the structural rules (a clouds.yaml or a config file, encoded as a
// Secret's data would be).
func encoded(text string, depth int) bool {
	if depth >= maxEmbedded || len(text) > maxEmbeddedSize {
		return false
	}
	t := strings.Join(strings.Fields(text), "")
	if len(t)%4 != 0 || !base64Re.MatchString(t) {
		return false
	}
	data, err := base64.StdEncoding.DecodeString(t)
	if err != nil || !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false // binary: a hash, a key's bytes
		}
	}
	return len(structural("", false, string(data), string(data), depth+1)) > 0
}

// embeddedDocument reports whether a string value is itself a YAML or JSON
// document (clouds.yaml, a config file) with a credential in it by the
// structural rules, such as clouds.yaml's auth.token.
func embeddedDocument(text string, depth int) bool {
	if depth >= maxEmbedded || len(text) > maxEmbeddedSize || !strings.Contains(text, ":") {
		return false
	}
	t := strings.TrimSpace(text)
	if !strings.Contains(t, "\n") && !strings.HasPrefix(t, "{") {
		return false
	}
	var doc yaml.Node
	if yaml.Unmarshal([]byte(text), &doc) != nil {
		return false
	}
	for _, v := range Values(&doc) {
		t, ok := scalarText(v.Value.Value)
		if ok && len(structural(v.Key, v.Env, v.Value.Value, t, depth+1)) > 0 {
			return true
		}
	}
	return false
}

// dockerConfigAuth reports whether text is a docker config JSON with a
// credential for a registry.
func dockerConfigAuth(text string) bool {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "{") || !strings.Contains(t, "auths") {
		return false
	}
	var cfg struct {
		Auths map[string]map[string]any `json:"auths"`
	}
	if json.Unmarshal([]byte(t), &cfg) != nil {
		return false
	}
	for _, reg := range cfg.Auths {
		for k, v := range reg {
			if s, ok := v.(string); ok && s != "" && (k == "auth" || k == "password" || k == "identitytoken") {
				return true
			}
		}
	}
	return false
}

// scalarText is the text of a scalar value; ok is false for anything else
// (maps, lists, null).
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// lastKey is the last field of a key path: "a.b[2]" -> "b".
func lastKey(path string) string {
	p := path
	for strings.HasSuffix(p, "]") {
		i := strings.LastIndexByte(p, '[')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}
