package platform

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	reposource "github.com/capiform/capiform/tools/source"
)

// MaxComponentName bounds a component's name: it is the Helm release name
// in the workload cluster, which Helm limits to 53 characters.
const MaxComponentName = 53

// Catalogue is every platform of a repository.
type Catalogue struct {
	// Platforms are sorted by name.
	Platforms []*LoadedPlatform

	byName     map[string]*LoadedPlatform
	components map[string]componentRef
	cni        string
}

// LoadedPlatform is a platform definition with where it was read from.
type LoadedPlatform struct {
	Platform
	// File is the definition's path relative to the repository root.
	File string
	// Pos is the position of every field.
	Pos load.Positions
}

type componentRef struct {
	platform *LoadedPlatform
	index    int
}

func (r componentRef) component() *Component { return &r.platform.Spec.Components[r.index] }

func (r componentRef) pos(field string) diag.Pos {
	p := fmt.Sprintf("spec.components[%d]", r.index)
	if field != "" {
		p += "." + field
	}
	return r.platform.Pos.Of(p)
}

// Platform returns the platform of the given name, or nil.
func (c *Catalogue) Platform(name string) *LoadedPlatform { return c.byName[name] }

// CNI returns the name of the catalogue's network plugin component.
func (c *Catalogue) CNI() string { return c.cni }

// exactVersion is x.y.z with an optional leading v: Flux treats anything
// else as a range or fails, and a range lets a chart change without a
// change in git.
var exactVersion = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// LoadCatalogue reads platforms/*/platform.yaml of the repository fsys.
// The error, when not nil, is a diag.List of every problem found, each with
// its file and line, unless the repository itself could not be read. A
// repository without platforms/ has an empty catalogue.
func LoadCatalogue(fsys fs.FS) (*Catalogue, error) {
	c := &Catalogue{byName: map[string]*LoadedPlatform{}, components: map[string]componentRef{}}
	entries, err := fs.ReadDir(fsys, Dir)
	if err != nil {
		if d, ok := reposource.Diagnostic(err); ok {
			return nil, diag.List{d}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return c, nil
		}
		return nil, fmt.Errorf("reading %s: %w", Dir, err)
	}
	var errs diag.List
	for _, e := range entries {
		// A platform folder that is a link or a submodule is reported, not
		// passed over (clusters that choose it would be told it does not
		// exist) nor followed.
		if err := reposource.Refused(path.Join(Dir, e.Name()), e); err != nil {
			d, _ := reposource.Diagnostic(err)
			errs = append(errs, d)
			continue
		}
		if !e.IsDir() {
			continue
		}
		file := path.Join(Dir, e.Name(), File)
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			if d, ok := reposource.Diagnostic(err); ok {
				errs = append(errs, d)
				continue
			}
			if errors.Is(err, fs.ErrNotExist) {
				errs.Add(diag.Pos{File: file}, "platform.missing", "folder %s has no %s: add one or remove the folder", path.Join(Dir, e.Name()), File)
				continue
			}
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		p := decodePlatform(file, data, &errs)
		if p == nil {
			continue
		}
		if p.Metadata.Name != e.Name() {
			errs.Add(p.Pos.Of("metadata.name"), "platform.name", "platform name %q differs from its folder %q: rename one of them", p.Metadata.Name, e.Name())
		}
		if !load.IsDNSLabel(p.Metadata.Name) {
			errs.Add(p.Pos.Of("metadata.name"), "platform.name", "platform name %q is not a DNS label", p.Metadata.Name)
		}
		c.Platforms = append(c.Platforms, p)
		c.byName[p.Metadata.Name] = p
	}
	sort.Slice(c.Platforms, func(i, j int) bool { return c.Platforms[i].Metadata.Name < c.Platforms[j].Metadata.Name })
	c.check(&errs)
	c.checkManifests(fsys, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// check validates the catalogue as a whole: names, charts, facts, the one
// CNI, dependencies and their cycles, source names.
func (c *Catalogue) check(errs *diag.List) {
	var cnis []componentRef
	for _, p := range c.Platforms {
		if len(p.Spec.Components) == 0 {
			errs.Add(p.Pos.Of("spec.components"), "platform.components", "platform %s has no components: add one", p.Metadata.Name)
		}
		for i := range p.Spec.Components {
			ref := componentRef{p, i}
			comp := ref.component()
			switch {
			case comp.Name == "":
				errs.Add(ref.pos("name"), "platform.required", "a component needs a name")
			case !load.IsDNSLabel(comp.Name) || len(comp.Name) > MaxComponentName:
				errs.Add(ref.pos("name"), "platform.component-name", "component name %q must be a DNS label of at most %d characters (it is the Helm release name)", comp.Name, MaxComponentName)
			}
			if prev, ok := c.components[comp.Name]; ok && comp.Name != "" {
				errs.Add(ref.pos("name"), "platform.duplicate-component", "component %q is already defined in %s:%d: component names are unique in the catalogue (each is a HelmRelease in the cluster's namespace)", comp.Name, prev.platform.File, prev.pos("name").Line)
			} else {
				c.components[comp.Name] = ref
			}
			if comp.CNI {
				cnis = append(cnis, ref)
			}
			c.checkComponent(ref, errs)
		}
	}
	switch {
	case len(cnis) == 0 && len(c.Platforms) > 0:
		errs.Add(diag.Pos{File: Dir}, "platform.cni", "no component is marked cni: true: the catalogue needs exactly one network plugin")
	case len(cnis) > 1:
		for _, r := range cnis[1:] {
			errs.Add(r.pos("cni"), "platform.cni", "component %s is a second cni (the first is %s in %s): the catalogue has exactly one, with variants to choose from", r.component().Name, cnis[0].component().Name, cnis[0].platform.File)
		}
	}
	if len(cnis) > 0 {
		c.cni = cnis[0].component().Name
		if d := cnis[0].component().DependsOn; len(d) > 0 {
			errs.Add(cnis[0].pos("dependsOn"), "platform.cni", "the cni depends on nothing: nothing runs before the network")
		}
	}
	for _, name := range c.componentNames() {
		ref := c.components[name]
		for j, d := range ref.component().DependsOn {
			switch {
			case d == name:
				errs.Add(ref.pos(fmt.Sprintf("dependsOn[%d]", j)), "platform.depends-on", "component %s depends on itself", name)
			case c.components[d].platform == nil:
				errs.Add(ref.pos(fmt.Sprintf("dependsOn[%d]", j)), "platform.depends-on", "component %s depends on %q, which no platform has: use one of %s", name, d, strings.Join(c.componentNames(), ", "))
			case !ref.component().Manifests && c.components[d].component().Manifests:
				errs.Add(ref.pos(fmt.Sprintf("dependsOn[%d]", j)), "platform.depends-on-manifests", "chart component %s depends on %s, a component of plain manifests: manifests are applied after every chart of the cluster is ready, so a chart cannot wait for them; package %s as a chart or drop the dependency", name, d, d)
			}
		}
	}
	for _, name := range c.componentNames() {
		c.checkFollowsVariant(c.components[name], errs)
	}
	c.checkCycles(errs)
	c.checkSources(errs)
}

// checkFollowsVariant checks a component's followsVariant: a manifests
// component following another component that has variants.
func (c *Catalogue) checkFollowsVariant(ref componentRef, errs *diag.List) {
	comp := ref.component()
	f := comp.FollowsVariant
	if f == "" {
		return
	}
	at := ref.pos("followsVariant")
	followed, ok := c.components[f]
	switch {
	case !comp.Manifests:
		errs.Add(at, "platform.follows-variant", "component %s is a chart and follows the variant of %s: only a component of plain manifests follows a variant (a chart has variants of its own)", comp.Name, f)
	case f == comp.Name:
		errs.Add(at, "platform.follows-variant", "component %s follows its own variant: name the component with variants whose choice picks its folder", comp.Name)
	case !ok:
		errs.Add(at, "platform.follows-variant", "component %s follows the variant of %q, which no platform has: use one of %s", comp.Name, f, strings.Join(c.componentNames(), ", "))
	case len(followed.component().Variants) == 0:
		errs.Add(at, "platform.follows-variant", "component %s follows the variant of %s, which has no variants: name a component with variants (like the cni)", comp.Name, f)
	}
}

func (c *Catalogue) componentNames() []string {
	out := make([]string, 0, len(c.components))
	for k := range c.components {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *Catalogue) checkComponent(ref componentRef, errs *diag.List) {
	comp := ref.component()
	if comp.Manifests {
		checkManifestsComponent(ref, errs)
		return
	}
	hasRelease := comp.Chart != nil || comp.Namespace != "" || comp.Values != nil || comp.Facts != nil || comp.CloudCredentials != nil || comp.Kubernetes != nil || comp.Retired != "" || comp.Provides != nil
	switch {
	case comp.Select == "" && len(comp.Variants) == 0:
		c.checkRelease(ref, "", &comp.Release, errs)
	case hasRelease:
		errs.Add(ref.pos("variants"), "platform.variants", "component %s has both a chart and variants: put the chart in the variants", comp.Name)
	case comp.Select == "":
		errs.Add(ref.pos("variants"), "platform.variants", "component %s has variants but no select: name the override value that chooses one, like select: provider", comp.Name)
	case len(comp.Variants) == 0:
		errs.Add(ref.pos("select"), "platform.variants", "component %s selects by %q but has no variants", comp.Name, comp.Select)
	default:
		seen := map[string]bool{}
		for i := range comp.Variants {
			v := &comp.Variants[i]
			at := fmt.Sprintf("variants[%d]", i)
			if v.Name == "" || seen[v.Name] {
				errs.Add(ref.pos(at+".name"), "platform.variants", "variant %d of %s needs a name of its own", i, comp.Name)
			}
			seen[v.Name] = true
			c.checkRelease(ref, at+".", &v.Release, errs)
		}
		if !seen[comp.Default] {
			errs.Add(ref.pos("default"), "platform.variants", "default %q of %s is not one of its variants %s", comp.Default, comp.Name, strings.Join(variantNames(comp), ", "))
		}
	}
}

func variantNames(comp *Component) []string {
	var out []string
	for _, v := range comp.Variants {
		out = append(out, v.Name)
	}
	return out
}

func (c *Catalogue) checkRelease(ref componentRef, prefix string, r *Release, errs *diag.List) {
	name := ref.component().Name
	if r.Chart == nil {
		errs.Add(ref.pos(prefix+"chart"), "platform.chart", "component %s needs a chart: {repository, name, version}", name)
	} else {
		ch := r.Chart
		if u, err := url.Parse(ch.Repository); err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "oci") || u.Host == "" {
			errs.Add(ref.pos(prefix+"chart.repository"), "platform.chart", "repository %q of %s is not an https:// Helm repository or an oci:// registry path", ch.Repository, name)
		}
		if ch.Name == "" {
			errs.Add(ref.pos(prefix+"chart.name"), "platform.chart", "component %s needs the chart's name", name)
		}
		if !exactVersion.MatchString(ch.Version) {
			errs.Add(ref.pos(prefix+"chart.version"), "platform.version", "chart version %q of %s is not exact: write one version x.y.z (no ranges, no wildcards), so that a chart changes only with a change in git", ch.Version, name)
		}
	}
	if !load.IsDNSLabel(r.Namespace) {
		errs.Add(ref.pos(prefix+"namespace"), "platform.namespace", "component %s needs a namespace of the workload cluster (a DNS label) to install into", name)
	}
	paths := make([]string, 0, len(r.Facts))
	for p := range r.Facts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		at := ref.pos(prefix + "facts." + p)
		if _, err := parsePath(p); err != nil {
			errs.Add(at, "platform.facts", "%v", err)
		}
		if _, ok := factValues[r.Facts[p]]; !ok {
			errs.Add(at, "platform.facts", "unknown fact %q: use one of %s", r.Facts[p], strings.Join(FactNames(), ", "))
		}
	}
	if cc := r.CloudCredentials; cc != nil && cc.TargetPath == "" && cc.Key == "" {
		errs.Add(ref.pos(prefix+"cloudCredentials"), "platform.cloud-credentials", "cloudCredentials of %s needs the targetPath where the chart expects cloud.conf, or the key of a values document (cloud-conf-values.yaml)", name)
	}
	checkSupport(ref, prefix, r, errs)
	checkProvides(ref, prefix, r, errs)
}

// dependencies returns a component's direct dependencies, the CNI
// included, sorted.
func (c *Catalogue) dependencies(name string) []string {
	ref, ok := c.components[name]
	if !ok {
		return nil
	}
	set := map[string]bool{}
	comp := ref.component()
	for _, d := range append(slices.Clone(comp.DependsOn), comp.FollowsVariant) {
		if _, ok := c.components[d]; ok && d != name {
			set[d] = true
		}
	}
	if c.cni != "" && name != c.cni {
		set[c.cni] = true
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func (c *Catalogue) checkCycles(errs *diag.List) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range c.dependencies(n) {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), d)
				key := strings.Join(sortedCopy(stack[i:]), ",")
				if !reported[key] {
					reported[key] = true
					ref := c.components[n]
					errs.Add(ref.pos("dependsOn"), "platform.cycle", "components depend on each other in a cycle: %s: remove one dependsOn", strings.Join(cycle, " -> "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range c.componentNames() {
		if color[n] == white {
			visit(n)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// checkSources makes sure that two repositories never get the same source
// name.
func (c *Catalogue) checkSources(errs *diag.List) {
	seen := map[string]string{}
	for _, name := range c.componentNames() {
		ref := c.components[name]
		comp := ref.component()
		releases := []*Release{&comp.Release}
		for i := range comp.Variants {
			releases = append(releases, &comp.Variants[i].Release)
		}
		for _, r := range releases {
			if r.Chart == nil {
				continue
			}
			s := sourceFor(r.Chart)
			key := s.kind + "/" + s.name
			id := s.url + ":" + s.tag
			if prev, ok := seen[key]; ok && prev != id {
				errs.Add(ref.pos("chart.repository"), "platform.source-name", "sources %s and %s would both be named %s: use one URL spelling", prev, id, s.name)
			}
			seen[key] = id
		}
	}
}

// decodePlatform reads one platform file strictly: one document, the
// capiform apiVersion and kind Platform, no unknown or duplicate keys,
// values of the right types. It returns nil after adding the problems.
func decodePlatform(file string, data []byte, errs *diag.List) *LoadedPlatform {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			errs.Add(diag.Pos{File: file, Line: 1}, "platform.yaml", "empty file: a platform definition holds one document")
		} else {
			errs.Add(yamlErrPos(file, err), "platform.yaml", "malformed YAML: %s", yamlErrMsg(err))
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		errs.Add(diag.Pos{File: file, Line: extra.Line}, "platform.documents", "found more than one YAML document: a platform file holds exactly one")
		return nil
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		errs.Add(diag.Pos{File: file, Line: doc.Line, Col: doc.Column}, "platform.type", "a platform is a mapping with apiVersion, kind, metadata and spec")
		return nil
	}
	var apiVersion, kind string
	for i := 0; i+1 < len(doc.Content); i += 2 {
		switch doc.Content[i].Value {
		case "apiVersion":
			apiVersion = doc.Content[i+1].Value
		case "kind":
			kind = doc.Content[i+1].Value
		}
	}
	at := diag.Pos{File: file, Line: doc.Line, Col: doc.Column}
	if apiVersion != v1alpha1.APIVersion {
		errs.Add(at, "platform.api-version", "apiVersion is %q: platforms use apiVersion: %s", apiVersion, v1alpha1.APIVersion)
		return nil
	}
	if kind != KindPlatform {
		errs.Add(at, "platform.kind", "kind is %q but %s holds a Platform", kind, File)
		return nil
	}
	paths := map[string]diag.Pos{"": at}
	recordPositions(file, doc, "", paths)

	p := &LoadedPlatform{File: file, Pos: load.Positions{File: file, Paths: paths}}
	sd := yaml.NewDecoder(bytes.NewReader(data))
	sd.KnownFields(true)
	if err := sd.Decode(&p.Platform); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				errs.Add(yamlErrPos(file, errors.New(m)), "platform.type", "%s", strings.TrimSpace(yamlErrMsg(errors.New(m))))
			}
		} else {
			errs.Add(yamlErrPos(file, err), "platform.yaml", "%s", yamlErrMsg(err))
		}
		return nil
	}
	return p
}

// recordPositions notes where every key and list item is written.
func recordPositions(file string, n *yaml.Node, p string, out map[string]diag.Pos) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := k.Value
			if p != "" {
				kp = p + "." + k.Value
			}
			out[kp] = diag.Pos{File: file, Line: k.Line, Col: k.Column}
			recordPositions(file, v, kp, out)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", p, i)
			out[ip] = diag.Pos{File: file, Line: item.Line, Col: item.Column}
			recordPositions(file, item, ip, out)
		}
	}
}

var yamlLine = regexp.MustCompile(`line (\d+):? ?`)

func yamlErrPos(file string, err error) diag.Pos {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return diag.Pos{File: file, Line: n}
	}
	return diag.Pos{File: file, Line: 1}
}

func yamlErrMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return strings.TrimSpace(yamlLine.ReplaceAllString(msg, ""))
}
