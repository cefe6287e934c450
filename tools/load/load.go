// Package load reads the Site and Cluster definitions of a repository
// strictly: malformed YAML, unknown and duplicate keys, values of the wrong
// type, names, labels and taints that Kubernetes would refuse (judged by
// k8s.io/apimachinery's own validation) and clusters that share a name are all
// reported at once, each with the file and line it is about. It also keeps
// the position of every field so that later stages can point at it.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	yaml2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/parallel"
	"github.com/capiform/capiform/tools/source"
)

// ClustersDir is the folder of site definitions at the repository root.
const ClustersDir = "clusters"

// GeneratedDir is the folder of a site that holds its rendered Flux tree;
// the loader skips it.
const GeneratedDir = "generated"

// SiteFile is the file name of a site's definition.
const SiteFile = "site.yaml"

// sitePolicyFile is a site's own policy (policy.SitePolicyFile, which the
// policy package reads; it imports this one).
const sitePolicyFile = "policy.cue"

// Fleet is every site of a repository, sorted by name.
type Fleet struct {
	Sites []*Site
}

// Site is a site's definition and its clusters, sorted by name.
type Site struct {
	v1alpha1.Site
	// File is the definition's path relative to the repository root.
	File string
	// Source is the file's content.
	Source []byte
	// Pos is the position of every field.
	Pos Positions
	// Clusters are the site's cluster definitions.
	Clusters []*Cluster
}

// Cluster is one cluster definition.
type Cluster struct {
	v1alpha1.Cluster
	// File is the definition's path relative to the repository root.
	File string
	// Source is the file's content.
	Source []byte
	// Pos is the position of every field.
	Pos Positions
}

// Site returns the site of the given name, or nil.
func (f *Fleet) Site(name string) *Site {
	for _, s := range f.Sites {
		if s.Metadata.Name == name {
			return s
		}
	}
	return nil
}

// Cluster returns the cluster of the given name, or nil.
func (s *Site) Cluster(name string) *Cluster {
	for _, c := range s.Clusters {
		if c.Metadata.Name == name {
			return c
		}
	}
	return nil
}

// Management returns the site's management cluster, or nil.
func (s *Site) Management() *Cluster { return s.Cluster(s.Spec.ManagementCluster) }

// Positions maps a field path such as "spec.nodeGroups[1].flavor" to where
// it is written.
type Positions struct {
	File  string
	Paths map[string]diag.Pos
}

// Of returns the position of a field path, or of its nearest written parent
// when the field itself is absent.
func (p Positions) Of(fieldPath string) diag.Pos {
	for q := fieldPath; ; {
		if pos, ok := p.Paths[q]; ok {
			return pos
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	if pos, ok := p.Paths[""]; ok {
		return pos
	}
	return diag.Pos{File: p.File, Line: 1, Col: 1}
}

// ErrNoRepository means there is no clusters/ folder: capiform was not run
// on a repository of this kind.
var ErrNoRepository = errors.New("no clusters/ folder here: run capiform from the repository's root, or pass -C DIR")

// Load reads every site under clusters/ of the repository fsys.
// The error, when not nil, is a diag.List of every problem found, unless
// the repository itself could not be read.
func Load(fsys fs.FS) (*Fleet, error) { return LoadSites(fsys, nil) }

// LoadSites is Load limited to the named sites (their folders under
// clusters/); nil names every site. Named sites that do not exist are left
// out without an error.
func LoadSites(fsys fs.FS, names []string) (*Fleet, error) {
	entries, err := fs.ReadDir(fsys, ClustersDir)
	if err != nil {
		if d, ok := source.Diagnostic(err); ok {
			return &Fleet{}, diag.List{d}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoRepository
		}
		return nil, fmt.Errorf("reading %s: %w", ClustersDir, err)
	}
	var (
		dirs    []string
		refused diag.List
	)
	for _, e := range entries {
		if names != nil && !slices.Contains(names, e.Name()) {
			continue
		}
		// A site folder that is a link or a submodule is reported, not
		// passed over: its definitions would go unchecked.
		if err := source.Refused(path.Join(ClustersDir, e.Name()), e); err != nil {
			d, _ := source.Diagnostic(err)
			refused = append(refused, d)
			continue
		}
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	// Sites load concurrently, each into its own slot, so that the result
	// does not depend on the order they finish in.
	type loaded struct {
		site *Site
		errs diag.List
		err  error
	}
	out := make([]loaded, len(dirs))
	parallel.For(context.Background(), len(dirs), 0, func(_, i int) {
		out[i].site, out[i].err = loadSite(fsys, path.Join(ClustersDir, dirs[i]), &out[i].errs)
	})
	var fleet Fleet
	errs := refused
	for _, l := range out {
		if l.err != nil {
			return nil, l.err
		}
		errs = append(errs, l.errs...)
		if l.site != nil {
			fleet.Sites = append(fleet.Sites, l.site)
		}
	}
	if len(fleet.Sites) == 0 && len(errs) == 0 && names == nil {
		errs.Add(diag.Pos{File: ClustersDir}, "load.no-sites", "no site found: add clusters/<site>/site.yaml")
	}
	sort.Slice(fleet.Sites, func(i, j int) bool { return fleet.Sites[i].Metadata.Name < fleet.Sites[j].Metadata.Name })
	return &fleet, errs.Err()
}

func loadSite(fsys fs.FS, dir string, errs *diag.List) (*Site, error) {
	siteName := path.Base(dir)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if d, ok := source.Diagnostic(err); ok {
			*errs = append(*errs, d)
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	site := &Site{File: path.Join(dir, SiteFile)}
	siteFound, siteRefused := false, false
	for _, e := range entries {
		name := e.Name()
		isYAML := strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
		if err := source.Refused(path.Join(dir, name), e); err != nil {
			// What capiform would read (a definition, the site policy,
			// the generated tree) or cannot see into (a submodule) is an
			// error; other links, such as an editor's lock files, are
			// never read and so harmless.
			if isYAML || name == sitePolicyFile || name == GeneratedDir || source.IsSubmodule(e.Type()) {
				d, _ := source.Diagnostic(err)
				*errs = append(*errs, d)
				siteRefused = siteRefused || name == SiteFile
			}
			continue
		}
		if e.IsDir() || !isYAML {
			continue
		}
		file := path.Join(dir, name)
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			if d, ok := source.Diagnostic(err); ok {
				*errs = append(*errs, d)
				continue
			}
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		if name == SiteFile {
			siteFound = true
			site.Source = data
			site.Pos = decodeFile(file, data, v1alpha1.KindSite, &site.Site, errs)
			continue
		}
		c := &Cluster{File: file, Source: data}
		c.Pos = decodeFile(file, data, v1alpha1.KindCluster, &c.Cluster, errs)
		if c.Pos.Paths != nil {
			site.Clusters = append(site.Clusters, c)
		}
	}
	if !siteFound {
		if len(site.Clusters) == 0 || siteRefused {
			return nil, nil // not a site folder
		}
		errs.Add(diag.Pos{File: site.File}, "load.missing-site", "site folder %s has clusters but no %s: add one", dir, SiteFile)
		return nil, nil
	}
	if site.Pos.Paths == nil {
		return nil, nil
	}
	if site.Metadata.Name != siteName {
		errs.Add(site.Pos.Of("metadata.name"), "load.site-name", "site name %q differs from its folder %q: rename one of them", site.Metadata.Name, siteName)
	}
	checkNames(site, errs)
	sort.SliceStable(site.Clusters, func(i, j int) bool {
		if site.Clusters[i].Metadata.Name != site.Clusters[j].Metadata.Name {
			return site.Clusters[i].Metadata.Name < site.Clusters[j].Metadata.Name
		}
		return site.Clusters[i].File < site.Clusters[j].File
	})
	return site, nil
}

// reservedNamespaces cannot be cluster names, since a cluster's name is its
// namespace on the management cluster.
var reservedNamespaces = map[string]bool{
	"default": true, "flux-system": true, "kube-system": true, "kube-public": true, "kube-node-lease": true,
	"capi-system": true, "capi-kubeadm-bootstrap-system": true, "capi-kubeadm-control-plane-system": true,
	"capo-system": true, "cert-manager": true,
}

func checkNames(site *Site, errs *diag.List) {
	checkDNSLabel(site.Pos, "metadata.name", site.Metadata.Name, "site", errs)
	checkSecretNames(site, errs)
	seen := map[string]*Cluster{}
	for _, c := range site.Clusters {
		name := c.Metadata.Name
		checkDNSLabel(c.Pos, "metadata.name", name, "cluster", errs)
		if reservedNamespaces[name] || strings.HasPrefix(name, "kube-") {
			errs.Add(c.Pos.Of("metadata.name"), "load.reserved-name", "cluster name %q is reserved (a cluster's name is its namespace on the management cluster): choose another", name)
		}
		if prev, ok := seen[name]; ok && name != "" {
			errs.Add(c.Pos.Of("metadata.name"), "load.duplicate-cluster", "cluster %q is already defined in %s:%d: cluster names are unique in a site", name, prev.File, prev.Pos.Of("metadata.name").Line)
		} else {
			seen[name] = c
		}
		checkNodeLabels(c, errs)
		groups := map[string]int{}
		for i, g := range c.Spec.NodeGroups {
			p := fmt.Sprintf("spec.nodeGroups[%d].name", i)
			checkDNSLabel(c.Pos, p, g.Name, "node group", errs)
			if j, ok := groups[g.Name]; ok && g.Name != "" {
				errs.Add(c.Pos.Of(p), "load.duplicate-node-group", "node group %q is already defined at line %d: node group names are unique in a cluster", g.Name, c.Pos.Of(fmt.Sprintf("spec.nodeGroups[%d].name", j)).Line)
			} else {
				groups[g.Name] = i
			}
		}
	}
}

// IsDNSLabel reports whether s is an RFC 1123 DNS label, as Kubernetes
// judges it (k8s.io/apimachinery's IsDNS1123Label).
func IsDNSLabel(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

// k8sMessage joins the reasons Kubernetes' validation gives.
func k8sMessage(msgs []string) string { return strings.Join(msgs, "; ") }

func checkDNSLabel(pos Positions, fieldPath, value, what string, errs *diag.List) {
	if value == "" {
		errs.Add(pos.Of(fieldPath), "load.required", "%s is required: set the %s name", fieldPath, what)
		return
	}
	var msgs []string
	if what == "cluster" {
		// A cluster's name is its namespace on the management cluster.
		msgs = apivalidation.ValidateNamespaceName(value, false)
	} else {
		msgs = validation.IsDNS1123Label(value)
	}
	if len(msgs) > 0 {
		errs.Add(pos.Of(fieldPath), "load.dns-label", "%s name %q is not a DNS label, as Kubernetes requires: %s", what, value, k8sMessage(msgs))
	}
}

// checkSecretNames checks the names of the Secrets a site refers to: each
// is the name of a Kubernetes Secret, a DNS subdomain.
func checkSecretNames(site *Site, errs *diag.List) {
	for _, f := range []struct{ path, value string }{
		{"spec.cloud.credentialsSecret", site.Spec.Cloud.CredentialsSecret},
		{"spec.git.secretName", site.Spec.Git.SecretName},
	} {
		if f.value == "" {
			continue // required fields are the schema's to report
		}
		if msgs := apivalidation.NameIsDNSSubdomain(f.value, false); len(msgs) > 0 {
			errs.Add(site.Pos.Of(f.path), "load.secret-name", "%s %q is not the name of a Kubernetes Secret: %s", f.path, f.value, k8sMessage(msgs))
		}
	}
}

// checkNodeLabels checks a node group's labels and taints with Kubernetes'
// own validation, as the API server would when the chart's objects reach
// it: label keys are qualified names, values label values; a taint's key is
// a qualified name and its value a label value.
func checkNodeLabels(c *Cluster, errs *diag.List) {
	for i, g := range c.Spec.NodeGroups {
		for _, k := range slices.Sorted(maps.Keys(g.Labels)) {
			p := fmt.Sprintf("spec.nodeGroups[%d].labels.%s", i, k)
			if fe := metav1validation.ValidateLabelName(k, field.NewPath("labels")); len(fe) > 0 {
				errs.Add(c.Pos.Of(p), "load.label", "node group %s: label key %q is refused by Kubernetes: %s", g.Name, k, fieldMessage(fe))
			}
			if msgs := validation.IsValidLabelValue(g.Labels[k]); len(msgs) > 0 {
				errs.Add(c.Pos.Of(p), "load.label", "node group %s: the value of label %q is refused by Kubernetes (%s): %s", g.Name, k, quoteShort(g.Labels[k]), k8sMessage(msgs))
			}
		}
		for j, t := range g.Taints {
			p := fmt.Sprintf("spec.nodeGroups[%d].taints[%d]", i, j)
			if msgs := validation.IsQualifiedName(t.Key); len(msgs) > 0 {
				errs.Add(c.Pos.Of(p+".key"), "load.taint", "node group %s: taint key %q is refused by Kubernetes: %s", g.Name, t.Key, k8sMessage(msgs))
			}
			if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
				errs.Add(c.Pos.Of(p+".value"), "load.taint", "node group %s: the value of taint %q is refused by Kubernetes (%s): %s", g.Name, t.Key, quoteShort(t.Value), k8sMessage(msgs))
			}
		}
	}
}

// fieldMessage is the reasons of Kubernetes' field errors, without the
// field path and value they repeat.
func fieldMessage(l field.ErrorList) string {
	msgs := make([]string, 0, len(l))
	for _, e := range l {
		msgs = append(msgs, e.Detail)
	}
	return k8sMessage(msgs)
}

// quoteShort quotes a value for a message, cut to a readable length.
func quoteShort(s string) string {
	const most = 80
	if len(s) <= most {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s... (%d characters)", strconv.Quote(s[:most]), len(s))
}

// decodeFile decodes one definition file into out, checking it strictly
// against out's type. It returns the positions of its fields, or empty
// Positions when the file could not be decoded.
func decodeFile(file string, data []byte, kind string, out any, errs *diag.List) Positions {
	pos := Positions{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			pos, msg := yamlErrPos(file, err), yamlErrMsg(err)
			// yaml.v3 says where a character it refuses is only as
			// "line 1" (its reader has no position): find it.
			if line, col, what, ok := BadChar(data); ok {
				pos, msg = diag.Pos{File: file, Line: line, Col: col}, what
			} else if line, col, what, ok := badIndent(data); ok {
				pos, msg = diag.Pos{File: file, Line: line, Col: col}, what
			}
			if msg == "mapping values are not allowed in this context" {
				msg += ": quote a value that holds \": \", or check the indentation of this line (a key lines up with the keys of its mapping)"
			}
			errs.Add(pos, "load.yaml", "malformed YAML: %s", msg)
			return Positions{}
		}
		docs = append(docs, &n)
	}
	if len(docs) != 1 {
		errs.Add(diag.Pos{File: file, Line: 1, Col: 1}, "load.documents", "found %d YAML documents: a definition file holds exactly one", len(docs))
		return Positions{}
	}
	root := docs[0]
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	w := walker{file: file, pos: map[string]diag.Pos{}, errs: errs}
	before := len(*errs)
	w.pos[""] = diag.Pos{File: file, Line: root.Line, Col: root.Column}
	if root.Kind != yaml.MappingNode {
		errs.Add(w.at(root), "load.type", "a definition is a mapping with apiVersion, kind, metadata and spec")
		return Positions{}
	}
	// apiVersion and kind first: a wrong kind makes every other error noise.
	var apiVersion, gotKind string
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "apiVersion":
			apiVersion = root.Content[i+1].Value
		case "kind":
			gotKind = root.Content[i+1].Value
		}
	}
	if apiVersion != v1alpha1.APIVersion {
		errs.Add(w.at(root), "load.api-version", "apiVersion is %q: capiform definitions use apiVersion: %s", apiVersion, v1alpha1.APIVersion)
		return Positions{}
	}
	if gotKind != kind {
		want := "site.yaml holds the Site"
		if kind == v1alpha1.KindCluster {
			want = "every file of a site but site.yaml holds one Cluster"
		}
		errs.Add(w.at(root), "load.kind", "kind is %q but %s", gotKind, want)
		return Positions{}
	}
	w.walk(root, reflect.TypeOf(out).Elem(), "")
	if len(*errs) > before {
		// The file is not used further, but its names are still checked so
		// that every problem is reported at once.
		w.checkNodeNames(root, kind)
		return Positions{}
	}
	var generic any
	if err := root.Decode(&generic); err != nil {
		errs.Add(w.at(root), "load.yaml", "cannot decode: %v", err)
		return Positions{}
	}
	js, err := json.Marshal(generic)
	if err != nil {
		errs.Add(w.at(root), "load.yaml", "cannot decode: %v", err)
		return Positions{}
	}
	jd := json.NewDecoder(bytes.NewReader(js))
	jd.DisallowUnknownFields()
	if err := jd.Decode(out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			errs.Add(pos.Of(te.Field), "load.type", "%s: cannot use a %s as %s", te.Field, te.Value, te.Type)
		} else {
			errs.Add(w.at(root), "load.type", "cannot decode: %v", err)
		}
		return Positions{}
	}
	pos.Paths = w.pos
	return pos
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlErrPos(file string, err error) diag.Pos {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		// yaml.v3 reports an unclosed flow collection at the line before
		// the one that opens it.
		if strings.Contains(err.Error(), "did not find expected ',' or") {
			n++
		}
		return diag.Pos{File: file, Line: n}
	}
	return diag.Pos{File: file, Line: 1}
}

// BadChar finds the first character YAML does not allow in a file (a
// control character but tab, line feed and carriage return, a byte that is
// not UTF-8, U+FFFE or U+FFFF, a byte order mark past the start) and says
// where it is (line and column from 1, the column in characters) and what
// to do.
func BadChar(data []byte) (line, col int, msg string, ok bool) {
	line, col = 1, 1
	for i, w := 0, 0; i < len(data); i += w {
		r, size := utf8.DecodeRune(data[i:])
		w = size
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, col, fmt.Sprintf("byte 0x%02x is not UTF-8: save the file as UTF-8", data[i]), true
		case r == '\n':
			line, col = line+1, 1
			continue
		case r == '\t' || r == '\r':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0 && r != 0x85):
			return line, col, fmt.Sprintf("control character %U is not allowed: remove it", r), true
		case r == 0xfffe || r == 0xffff || (r == 0xfeff && i > 0):
			return line, col, fmt.Sprintf("character %U is not allowed: remove it", r), true
		}
		col++
	}
	return 0, 0, "", false
}

// badIndent finds the line a badly indented list item or key breaks and
// says what to check. yaml.v3 reports such an error at the line of the list
// or mapping it was reading (its parent), which hides the culprit in a
// long file; yaml.v2, the same libyaml port, reports the line of the token
// that broke the structure, so the file is parsed again with it. Only the
// two block-structure errors are taken from it: both come from the parser,
// whose lines yaml.v2 counts from 0.
func badIndent(data []byte) (line, col int, msg string, ok bool) {
	var v any
	err := yaml2.Unmarshal(data, &v)
	if err == nil {
		return 0, 0, "", false
	}
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, 0, "", false
	}
	problem := yamlErrMsg(err)
	if problem != "did not find expected key" && problem != "did not find expected '-' indicator" {
		return 0, 0, "", false
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	line = n + 1
	if line < 1 || line > len(lines) {
		return 0, 0, "", false
	}
	col = indentOf(lines[line-1]) + 1
	above := ""
	for i := line - 2; i >= 0; i-- {
		if t := strings.TrimSpace(lines[i]); t != "" && !strings.HasPrefix(t, "#") {
			above = fmt.Sprintf(" (line %d starts in column %d, line %d in column %d)", line, col, i+1, indentOf(lines[i])+1)
			break
		}
	}
	return line, col, problem + ": check the indentation of this line" + above +
		": the items of a list start in the same column, the keys of a mapping too", true
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func yamlErrMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = yamlLine.ReplaceAllString(msg, "")
	return strings.TrimPrefix(msg, ": ")
}

type walker struct {
	file string
	pos  map[string]diag.Pos
	errs *diag.List
}

func (w *walker) at(n *yaml.Node) diag.Pos {
	return diag.Pos{File: w.file, Line: n.Line, Col: n.Column}
}

// fieldAt is where a field is reported: at its value when that is a
// scalar, else at its key.
func (w *walker) fieldAt(k, v *yaml.Node) diag.Pos {
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		return w.at(v)
	}
	return w.at(k)
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var (
	anyType         = reflect.TypeOf((*any)(nil)).Elem()
	intOrStringType = reflect.TypeOf(intstr.IntOrString{})
)

// walk checks node against type t, records the position of every field
// and reports unknown keys, duplicate keys and mismatched types.
func (w *walker) walk(n *yaml.Node, t reflect.Type, p string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == anyType {
		w.walkAny(n, p)
		return
	}
	if n.Tag == "!!null" {
		// An empty key is almost always a slip (a value left out or
		// indented wrongly); in free-form values above null is meaningful.
		w.errs.Add(w.at(n), "load.empty", "%s is empty: give it a value or remove the key", describe(p))
		return
	}
	if t == intOrStringType {
		// A number or a percentage of machines: intstr's own decoder takes
		// either; the schema judges the string's form.
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!str") {
			w.errs.Add(w.at(n), "load.type", "%s must be a whole number or a percentage such as \"25%%\"", describe(p))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.errs.Add(w.at(n), "load.type", "%s must be a mapping", describe(p))
			return
		}
		fields := jsonFields(t)
		w.entries(n, p, func(k, v *yaml.Node) {
			ft, ok := fields[k.Value]
			if !ok {
				w.errs.Add(w.at(k), "load.unknown-field", "unknown field %q%s", join(p, k.Value), suggest(k.Value, fields))
				return
			}
			w.pos[join(p, k.Value)] = w.fieldAt(k, v)
			w.walk(v, ft, join(p, k.Value))
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.errs.Add(w.at(n), "load.type", "%s must be a mapping", describe(p))
			return
		}
		w.entries(n, p, func(k, v *yaml.Node) {
			w.pos[join(p, k.Value)] = w.fieldAt(k, v)
			w.walk(v, t.Elem(), join(p, k.Value))
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errs.Add(w.at(n), "load.type", "%s must be a list", describe(p))
			return
		}
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", p, i)
			w.pos[ip] = w.at(item)
			w.walk(item, t.Elem(), ip)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(": quote it (%q)", n.Value)
			}
			w.errs.Add(w.at(n), "load.type", "%s must be a string%s", describe(p), hint)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			w.errs.Add(w.at(n), "load.type", "%s must be a whole number, not %q", describe(p), n.Value)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			w.errs.Add(w.at(n), "load.type", "%s must be true or false, not %q", describe(p), n.Value)
		}
	}
}

// checkNodeNames checks the names of a definition that failed to decode,
// straight from its YAML nodes.
func (w *walker) checkNodeNames(root *yaml.Node, kind string) {
	what := "cluster"
	if kind == v1alpha1.KindSite {
		what = "site"
	}
	pos := Positions{File: w.file, Paths: map[string]diag.Pos{}}
	if n := MapValue(MapValue(root, "metadata"), "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
		pos.Paths["metadata.name"] = w.at(n)
		checkDNSLabel(pos, "metadata.name", n.Value, what, w.errs)
	}
	if groups := MapValue(MapValue(root, "spec"), "nodeGroups"); groups != nil && groups.Kind == yaml.SequenceNode {
		for i, g := range groups.Content {
			if n := MapValue(g, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
				p := fmt.Sprintf("spec.nodeGroups[%d].name", i)
				pos.Paths[p] = w.at(n)
				checkDNSLabel(pos, p, n.Value, "node group", w.errs)
			}
		}
	}
}

// MapValue returns the value of key in a mapping node, or nil.
func MapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// entries calls f for each key and value of a mapping node, reporting and
// skipping a key that is set twice.
func (w *walker) entries(n *yaml.Node, p string, f func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if line, dup := seen[k.Value]; dup {
			w.errs.Add(w.at(k), "load.duplicate-key", "key %q is already set at line %d: remove one", join(p, k.Value), line)
			continue
		}
		seen[k.Value] = k.Line
		f(k, v)
	}
}

// walkAny records positions inside free-form values and rejects duplicate
// keys there too.
func (w *walker) walkAny(n *yaml.Node, p string) {
	switch n.Kind {
	case yaml.MappingNode:
		w.entries(n, p, func(k, v *yaml.Node) {
			w.pos[join(p, k.Value)] = w.fieldAt(k, v)
			w.walkAny(v, join(p, k.Value))
		})
	case yaml.SequenceNode:
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", p, i)
			w.pos[ip] = w.at(item)
			w.walkAny(item, ip)
		}
	}
}

func describe(p string) string {
	if p == "" {
		return "the definition"
	}
	return p
}

// fieldCache holds the JSON fields of each struct type walked so far.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	fieldCache.Store(t, out)
	return out
}

// suggest names the known field closest to an unknown one.
func suggest(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	if best := Closest(key, names); best != "" {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	return fmt.Sprintf(": known fields are %s", strings.Join(names, ", "))
}

// Closest returns the name of names nearest to a misspelt one (at most two
// edits away, a swap of two neighbouring letters counting as one, case
// ignored; the first of equals in the order given), or "" when none is
// near: the "did you mean" of every unknown name.
func Closest(name string, names []string) string {
	best, bestD := "", 3
	for _, k := range names {
		if d := distance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours, one edit each.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
