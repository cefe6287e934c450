// Package kustomize builds kustomizations of an untrusted repository
// revision: it refuses, before any build, everything that would make
// kustomize start a program, open a connection or read outside the
// revision, and then builds with krusty on an in-memory file system with
// plugins off.
//
// kustomize has no switch for its remote loader: a resource, base,
// component or generator that looks like a git URL is cloned by running
// git (so `file:///x?ref=--upload-pack=<command>` runs the command), and a
// file field that is an http(s) URL is fetched, whatever file system the
// build reads. The check is the only gate in front of that loader, which
// is why Build always runs it first and why it refuses a superset of what
// kustomize treats as remote.
package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"

	"github.com/capiform/capiform/tools/diag"
)

// Rules of the check.
const (
	// RuleRemote is a reference kustomize would clone with git or fetch
	// over http.
	RuleRemote = "kustomize.remote"
	// RuleHelmCharts is a Helm chart kustomize would inflate by running
	// helm.
	RuleHelmCharts = "kustomize.helm-charts"
	// RulePlugin is a generator, transformer or validator that is not one
	// of kustomize's builtins: an exec or KRM-function plugin.
	RulePlugin = "kustomize.plugin"
	// RuleOutsideRoot is a path that is absolute or climbs out of the
	// folder the build may read.
	RuleOutsideRoot = "kustomize.outside-root"
	// RuleYAML is YAML whose meaning could differ between this check and
	// kustomize's own decoder (anchors, aliases, merge keys, tags, keys that
	// differ only in case), or that does not parse.
	RuleYAML = "kustomize.yaml"
	// RuleLimit is a tree of kustomizations too deep or too large to check.
	RuleLimit = "kustomize.limit"
	// RuleSymlink is a symbolic link or other irregular file under the
	// build's root: never followed.
	RuleSymlink = "kustomize.symlink"
)

// Bounds of the check: however the kustomizations refer to each other, it
// reads at most MaxFiles files and follows at most MaxDepth references
// deep.
const (
	MaxDepth = 32
	MaxFiles = 2000
)

// Options says what to check or build.
type Options struct {
	// Root is the folder (a slash path of the file system, "." for all of
	// it) that the build may read: every file of it is copied into the
	// in-memory file system, and no reference may leave it.
	Root string
	// Dir is the folder to build: Root or a folder under it.
	Dir string
	// Generated, when not nil, is the kustomization Dir is built with when
	// it has no kustomization file of its own, as kustomize-controller
	// generates one. It is checked like any other.
	Generated []byte
}

// builtinKinds are the plugin kinds kustomize links in (apiVersion
// builtin), less the Helm chart inflator that runs helm.
var builtinKinds = func() map[string]bool {
	out := map[string]bool{}
	for _, k := range krusty.GetBuiltinPluginNames() {
		out[k] = true
	}
	delete(out, helmInflator)
	return out
}()

const helmInflator = "HelmChartInflationGenerator"

// fields of a kustomization, by lower-cased name: kustomize decodes its
// JSON form with encoding/json, which matches field names ignoring case.
type field int

const (
	fieldOther field = iota
	fieldResources
	fieldComponents
	fieldPlugins
	fieldFiles
	fieldOpenAPI
	fieldPatches
	fieldPatchesStrategicMerge
	fieldGenerator
	fieldReplacements
	fieldHelm
)

var fields = map[string]field{
	"resources":                   fieldResources,
	"bases":                       fieldResources,
	"components":                  fieldComponents,
	"generators":                  fieldPlugins,
	"transformers":                fieldPlugins,
	"validators":                  fieldPlugins,
	"crds":                        fieldFiles,
	"configurations":              fieldFiles,
	"openapi":                     fieldOpenAPI,
	"patches":                     fieldPatches,
	"patchesjson6902":             fieldPatches,
	"patchesstrategicmerge":       fieldPatchesStrategicMerge,
	"configmapgenerator":          fieldGenerator,
	"secretgenerator":             fieldGenerator,
	"replacements":                fieldReplacements,
	"helmcharts":                  fieldHelm,
	"helmchartinflationgenerator": fieldHelm,
	"helmglobals":                 fieldHelm,
}

// tree is the regular files and folders under the root, as the build
// will see them.
type tree struct {
	files map[string][]byte
	dirs  map[string]bool
}

// checker walks the kustomizations reachable from one folder.
type checker struct {
	t       *tree
	root    string
	errs    diag.List
	visited map[string]bool
	read    int
	limited bool
}

// check returns every problem of the kustomizations reachable from dir.
func (t *tree) check(root, dir string) diag.List {
	c := &checker{t: t, root: root, visited: map[string]bool{}}
	if !c.within(dir) {
		c.errs.Add(diag.Pos{File: dir}, RuleOutsideRoot, "folder %s to build is outside %s", dir, root)
		return c.errs
	}
	c.dir(dir, false, 0, diag.Pos{File: dir})
	return c.errs
}

// within reports whether the clean slash path p is the root or under it.
func (c *checker) within(p string) bool {
	if c.root == "." {
		return p != ".." && !strings.HasPrefix(p, "../") && !path.IsAbs(p)
	}
	return p == c.root || strings.HasPrefix(p, c.root+"/")
}

// count counts a file read; false once past MaxFiles.
func (c *checker) count(at diag.Pos) bool {
	c.read++
	if c.read <= MaxFiles {
		return true
	}
	if !c.limited {
		c.limited = true
		c.errs.Add(at, RuleLimit, "the kustomizations reachable from here hold more than %d files: split the build", MaxFiles)
	}
	return false
}

// dir checks the kustomization of a folder. In a folder referenced as a
// generator, transformer or validator (configs), its resources are plugin
// configurations.
func (c *checker) dir(dir string, configs bool, depth int, from diag.Pos) {
	if depth > MaxDepth {
		c.errs.Add(from, RuleLimit, "kustomizations refer to each other more than %d deep: flatten them", MaxDepth)
		return
	}
	key := fmt.Sprintf("%t %s", configs, dir)
	if c.visited[key] {
		return // a cycle or a diamond: kustomize reports cycles itself
	}
	c.visited[key] = true
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		file := path.Join(dir, name)
		data, ok := c.t.files[file]
		if !ok || !c.count(from) {
			continue
		}
		docs := c.parse(file, data)
		for _, doc := range docs {
			c.kustomization(file, dir, doc, configs, depth)
		}
	}
}

// parse decodes every document of a file and refuses the YAML forms that
// kustomize's decoder could read differently.
func (c *checker) parse(file string, data []byte) []*yaml.Node {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				c.errs.Add(yamlErrPos(file, err), RuleYAML, "%s does not parse: %s", file, yamlErrMsg(err))
			}
			return docs
		}
		if !c.plain(file, &doc) {
			continue
		}
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
			docs = append(docs, doc.Content[0])
		}
	}
}

// plain reports whether n holds no anchor, alias, merge key, explicit tag,
// key that is not ASCII, or two keys of one mapping that differ only in
// case, adding a problem for each.
func (c *checker) plain(file string, n *yaml.Node) bool {
	ok := true
	bad := func(n *yaml.Node, format string, args ...any) {
		c.errs.Add(pos(file, n), RuleYAML, format+": kustomize would read it differently, write it out plainly", args...)
		ok = false
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch {
		case n.Kind == yaml.AliasNode:
			bad(n, "alias *%s", n.Value)
			return
		case n.Anchor != "":
			bad(n, "anchor &%s", n.Anchor)
		case n.Style&yaml.TaggedStyle != 0:
			bad(n, "tag %s", n.Tag)
		}
		if n.Kind == yaml.MappingNode {
			seen := map[string]bool{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				switch low := strings.ToLower(k.Value); {
				case !ascii(k.Value):
					// kustomize decodes with encoding/json, which matches
					// field names by Unicode case folding: "reſources"
					// (a long s) is its resources, unseen by a check that
					// compares ASCII. No kustomize field needs more.
					bad(k, "key %q is not plain ASCII (kustomize matches keys by Unicode case folding, so it could read it as another field)", k.Value)
				case k.Kind == yaml.ScalarNode && k.Tag == "!!merge":
					bad(k, "merge key <<")
				case seen[low]:
					bad(k, "key %q appears twice (keys are matched ignoring case)", k.Value)
				default:
					seen[low] = true
				}
			}
		}
		for _, child := range n.Content {
			walk(child)
		}
	}
	walk(n)
	return ok
}

// ascii reports whether s holds only ASCII characters.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// kustomization checks one kustomization document of folder dir.
func (c *checker) kustomization(file, dir string, doc *yaml.Node, configs bool, depth int) {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch fields[strings.ToLower(k.Value)] {
		case fieldResources:
			for _, item := range scalars(v) {
				if p, ok := c.ref(file, dir, item); ok {
					if configs {
						c.configFile(p, depth, pos(file, item))
					}
					if c.t.dirs[p] {
						c.dir(p, configs, depth+1, pos(file, item))
					}
				}
			}
		case fieldComponents:
			for _, item := range scalars(v) {
				if p, ok := c.ref(file, dir, item); ok && c.t.dirs[p] {
					c.dir(p, configs, depth+1, pos(file, item))
				}
			}
		case fieldPlugins:
			for _, item := range scalars(v) {
				c.plugin(file, dir, item, depth)
			}
		case fieldFiles:
			for _, item := range scalars(v) {
				c.ref(file, dir, item)
			}
		case fieldOpenAPI, fieldPatches, fieldReplacements:
			for _, m := range mappings(v) {
				c.pathFields(file, dir, m)
			}
		case fieldPatchesStrategicMerge:
			// An entry is a file, or an inline patch: kustomize tries to
			// load it as a file first.
			for _, item := range scalars(v) {
				switch {
				case !inline(item.Value):
					c.ref(file, dir, item)
				case kustomizeRemote(item.Value):
					c.errs.Add(pos(file, item), RuleRemote, "%q is a remote reference: kustomize would download it; refer to a file of this repository", item.Value)
				}
			}
		case fieldGenerator:
			for _, m := range mappings(v) {
				c.pathFields(file, dir, m)
			}
		case fieldHelm:
			c.errs.Add(pos(file, k), RuleHelmCharts, "%s: kustomize would run helm and download the chart: make the chart a platform component, or commit its rendered manifests", k.Value)
		}
	}
}

// mappings returns n if it is a mapping, or the mappings of sequence n.
func mappings(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.MappingNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	if n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			if item.Kind == yaml.MappingNode {
				out = append(out, item)
			}
		}
	}
	return out
}

// scalars returns n if it is a scalar, or the scalars of sequence n.
func scalars(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.ScalarNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	if n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			if item.Kind == yaml.ScalarNode {
				out = append(out, item)
			}
		}
	}
	return out
}

// pathFields checks the file fields of a patch, replacement, openapi,
// ConfigMap or Secret generator, or builtin plugin configuration: path,
// paths, files (each [key=]path), envs, env and replacements[].path.
func (c *checker) pathFields(file, dir string, m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch strings.ToLower(k.Value) {
		case "path", "paths", "envs", "env":
			for _, item := range scalars(v) {
				c.ref(file, dir, item)
			}
		case "files":
			for _, item := range scalars(v) {
				// A file source is [key=]path.
				src := *item
				if _, p, ok := strings.Cut(item.Value, "="); ok {
					src.Value = p
				}
				c.ref(file, dir, &src)
			}
		case "replacements":
			for _, r := range mappings(v) {
				c.pathFields(file, dir, r)
			}
		}
	}
}

// plugin checks one entry of generators, transformers or validators:
// inline configurations, a file of them, or a folder whose kustomization's
// resources are configurations.
func (c *checker) plugin(file, dir string, item *yaml.Node, depth int) {
	if inline(item.Value) {
		// kustomize reads an entry that parses as objects as inline
		// configurations, and anything else as a path: refuse an entry
		// its remote loader could take for a URL either way.
		if kustomizeRemote(item.Value) {
			c.errs.Add(pos(file, item), RuleRemote, "%q is a remote reference: kustomize would clone or download it; refer to a folder of this repository", item.Value)
			return
		}
		if !c.count(pos(file, item)) {
			return
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(item.Value), &n); err != nil || !c.plain(file, &n) {
			c.errs.Add(pos(file, item), RuleYAML, "inline plugin configuration does not parse plainly: write it to a file")
			return
		}
		if len(n.Content) == 1 {
			c.config(file, dir, n.Content[0], pos(file, item), pos(file, item))
		}
		return
	}
	p, ok := c.ref(file, dir, item)
	if !ok {
		return
	}
	c.configFile(p, depth, pos(file, item))
	if c.t.dirs[p] {
		c.dir(p, true, depth+1, pos(file, item))
	}
}

// configFile checks the plugin configurations in a file, if p is one.
func (c *checker) configFile(p string, depth int, from diag.Pos) {
	data, ok := c.t.files[p]
	if !ok || depth > MaxDepth || !c.count(from) {
		return
	}
	for _, doc := range c.parse(p, data) {
		c.config(p, path.Dir(p), doc, pos(p, doc), from)
	}
}

// config checks one plugin configuration: a builtin kind of apiVersion
// builtin (the only ones kustomize links in), no KRM function annotation,
// and file fields that stay local. from is where it is listed.
func (c *checker) config(file, dir string, n *yaml.Node, at, from diag.Pos) {
	listed := ""
	if from.File != file {
		listed = " (listed at " + from.String() + ")"
	}
	if n.Kind != yaml.MappingNode {
		c.errs.Add(at, RulePlugin, "a plugin configuration is an object with apiVersion builtin and a builtin kind%s", listed)
		return
	}
	apiVersion, kind := lookup(n, "apiVersion"), lookup(n, "kind")
	switch {
	case kind != nil && kind.Value == helmInflator:
		c.errs.Add(pos(file, kind), RuleHelmCharts, "%s%s: kustomize would run helm and download the chart: make the chart a platform component, or commit its rendered manifests", helmInflator, listed)
	case apiVersion == nil || kind == nil || apiVersion.Value != konfig.BuiltinPluginApiVersion || !builtinKinds[kind.Value]:
		name := "(no kind)"
		if kind != nil {
			name = kind.Value
		}
		c.errs.Add(at, RulePlugin, "plugin %s%s is not one of kustomize's builtins (apiVersion %s, kind one of %s): exec and KRM function plugins are not run", name, listed, konfig.BuiltinPluginApiVersion, strings.Join(sortedKinds(), ", "))
	}
	if md := lookup(n, "metadata"); md != nil {
		if ann := lookup(md, "annotations"); ann != nil && ann.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(ann.Content); i += 2 {
				k := ann.Content[i]
				low := strings.ToLower(k.Value)
				if strings.Contains(low, "config.kubernetes.io/function") || strings.Contains(low, "config.k8s.io/function") {
					c.errs.Add(pos(file, k), RulePlugin, "annotation %s makes a KRM function plugin (a container, exec or starlark program)%s: functions are not run", k.Value, listed)
				}
			}
		}
	}
	c.pathFields(file, dir, n)
}

// lookup returns the value of key in mapping n, matching case as
// encoding/json does (ignoring it).
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if strings.EqualFold(n.Content[i].Value, key) {
			return n.Content[i+1]
		}
	}
	return nil
}

func sortedKinds() []string {
	out := make([]string, 0, len(builtinKinds))
	for k := range builtinKinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ref checks a reference to a local file or folder: not remote, not
// absolute, not out of the root. It returns the referenced path, clean and
// relative to the file system, when it is fine.
func (c *checker) ref(file, dir string, item *yaml.Node) (string, bool) {
	v := item.Value
	if v == "" {
		return "", false // kustomize refuses an empty path itself
	}
	at := pos(file, item)
	if remote(v) {
		c.errs.Add(at, RuleRemote, "%q is a remote reference: kustomize would clone or download it; refer to a file or folder of this repository", v)
		return "", false
	}
	if path.IsAbs(v) || strings.HasPrefix(v, `\`) {
		c.errs.Add(at, RuleOutsideRoot, "%q is an absolute path: refer to a path relative to %s", v, file)
		return "", false
	}
	p := path.Join(dir, v)
	if !c.within(p) {
		c.errs.Add(at, RuleOutsideRoot, "%q leaves %s: the build reads only that folder", v, c.root)
		return "", false
	}
	return p, true
}

// kustomizeScheme is how kustomize's git loader recognises a repository
// URL at the start of a reference: a scheme, an SCP-style user@, or
// github.com (see its repospec.go), after an optional git:: prefix.
var kustomizeScheme = regexp.MustCompile(`(?i)^(git::)?(ssh://|https?://|file://|[a-z][a-z0-9-]*@|github\.com[/:])`)

// kustomizeRemote reports whether kustomize's loader could take s for a
// remote repository or URL.
func kustomizeRemote(s string) bool {
	return kustomizeScheme.MatchString(s)
}

// remote reports whether a path reference could be remote. It is a
// superset of kustomize's forms: any scheme or colon (scp-style
// host:path), a query (?ref=), the // that separates a repository from
// its folder, a user@ in the first segment, and the github.com shorthand.
func remote(s string) bool {
	if kustomizeRemote(s) || strings.ContainsAny(s, ":?") || strings.Contains(s, "//") {
		return true
	}
	first, _, _ := strings.Cut(s, "/")
	return strings.Contains(first, "@") || strings.EqualFold(first, "github.com")
}

// inline reports whether a generators, transformers, validators or
// patchesStrategicMerge entry is inline YAML rather than a path: more than
// one line, or a mapping or sequence.
func inline(s string) bool {
	if strings.ContainsAny(s, "\n\r") {
		return true
	}
	t := strings.TrimSpace(s)
	return strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") || strings.Contains(t, ": ")
}

func pos(file string, n *yaml.Node) diag.Pos {
	return diag.Pos{File: file, Line: n.Line, Col: n.Column}
}

// yamlLine finds "line N" in a yaml.v3 error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlErrPos(file string, err error) diag.Pos {
	p := diag.Pos{File: file}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscanf(m[1], "%d", &p.Line)
	}
	return p
}

func yamlErrMsg(err error) string {
	return yamlLine.ReplaceAllString(err.Error(), "")
}
