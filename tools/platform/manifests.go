package platform

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/kustomize"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/render"
	reposource "github.com/capiform/capiform/tools/source"
)

// Components of plain manifests.
//
// A manifests component is the folder platforms/<platform>/<component>/ of
// YAML, applied into the workload cluster by a Flux Kustomization in the
// cluster's namespace on the management cluster: kubeConfig the cluster's
// Cluster API kubeconfig secret, path the folder, prune, wait, and
// targetNamespace when the component has a namespace. Its source is a
// GitRepository of this repository, rendered once in the cluster's
// namespace (nothing refers across namespaces).
//
// Order: a Flux Kustomization can depend only on Kustomizations, never on
// a HelmRelease, so render writes these objects into a second folder,
// addons/<cluster>/manifests/, synced by the Kustomization
// <cluster>-manifests in flux-system that depends on <cluster>-addons; that
// one waits for every HelmRelease of the cluster (the CNI included) to be
// ready. A manifests component's dependencies on other manifests components
// become dependsOn between their Kustomizations; a chart component cannot
// depend on a manifests component.

// ManifestsSourceName names the GitRepository of this repository that the
// manifests components of a cluster are applied from, in its namespace.
const ManifestsSourceName = "platforms"

// ManifestsInterval is how often a manifests component is re-applied (and
// drift corrected).
const ManifestsInterval = 10 * time.Minute

// ManifestsPath is the folder of a manifests component, as Flux's
// GitRepository source sees it.
func ManifestsPath(platform, component string) string {
	return "./" + path.Join(Dir, platform, component)
}

// EnabledKey is the one override value of a manifests component: a
// cluster leaves the component out with {<component>: {enabled: false}}.
const EnabledKey = "enabled"

// manifestsEnabled reports whether a cluster keeps a manifests component
// (the default) or turned it off.
func manifestsEnabled(override map[string]any) bool {
	on, ok := override[EnabledKey].(bool)
	return !ok || on
}

// chosenVariant is the variant of component name that a cluster runs: its
// override's select value, else the component's default.
func (c *Catalogue) chosenVariant(cluster *load.Cluster, name string) string {
	ref, ok := c.components[name]
	if !ok {
		return ""
	}
	comp := ref.component()
	for _, p := range cluster.Spec.Platforms {
		if p.Name != ref.platform.Metadata.Name {
			continue
		}
		if v, ok := p.Values[name][comp.Select].(string); ok {
			return v
		}
	}
	return comp.Default
}

// existingNamespaces exist in every cluster: a manifests component may
// target them without creating them.
var existingNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

// checkManifestsComponent checks the fields of a manifests component: it
// has none of a chart's.
func checkManifestsComponent(ref componentRef, errs *diag.List) {
	comp := ref.component()
	bad := func(field, what string) {
		errs.Add(ref.pos(field), "platform.manifests", "component %s is plain manifests (manifests: true) and has %s: a manifests component has only name, description, dependsOn and namespace", comp.Name, what)
	}
	if comp.CNI {
		errs.Add(ref.pos("cni"), "platform.cni", "the cni %s is plain manifests: the network plugin is a chart (bootstrap installs it with Helm)", comp.Name)
	}
	if comp.Chart != nil {
		bad("chart", "a chart")
	}
	if comp.Values != nil {
		bad("values", "values")
	}
	if comp.Facts != nil {
		bad("facts", "facts")
	}
	if comp.CloudCredentials != nil {
		bad("cloudCredentials", "cloud credentials")
	}
	if comp.Select != "" || comp.Default != "" || len(comp.Variants) > 0 {
		bad("variants", "variants")
	}
	if comp.Kubernetes != nil {
		bad("kubernetes", "a Kubernetes range (the charts it depends on carry theirs)")
	}
	if comp.Retired != "" {
		bad("retired", "retired")
	}
	if comp.Namespace != "" && !load.IsDNSLabel(comp.Namespace) {
		errs.Add(ref.pos("namespace"), "platform.namespace", "namespace %q of %s is not a DNS label", comp.Namespace, comp.Name)
	}
}

// manifestsFolder is what a manifests component's folder holds.
type manifestsFolder struct {
	// files are the YAML files, relative to the folder, sorted.
	files []string
	// kustomization is the folder's own kustomization file, if any.
	kustomization string
}

var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// checkManifests checks the folders of the catalogue against its manifests
// components: every manifests component has a folder of YAML that builds
// with kustomize, as kustomize-controller builds it, into at least one
// object, no Secret, and a namespace that exists when it is applied; and
// every folder of a platform is a manifests component of it.
func (c *Catalogue) checkManifests(fsys fs.FS, errs *diag.List) {
	for _, p := range c.Platforms {
		dir := path.Join(Dir, p.Metadata.Name)
		names := map[string]bool{}
		for i := range p.Spec.Components {
			ref := componentRef{p, i}
			comp := ref.component()
			if !comp.Manifests {
				continue
			}
			names[comp.Name] = true
			c.checkManifestsFolder(fsys, ref, errs)
		}
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if err := reposource.Refused(path.Join(dir, e.Name()), e); err != nil {
				d, _ := reposource.Diagnostic(err)
				errs.Add(d.Pos, d.Rule, "%s", d.Message)
				continue
			}
			if e.IsDir() && !names[e.Name()] {
				errs.Add(p.Pos.Of("spec.components"), "platform.manifests-folder", "folder %s is not a component of platform %s: add {name: %s, manifests: true} to its components, or remove the folder", path.Join(dir, e.Name()), p.Metadata.Name, e.Name())
			}
		}
	}
}

func (c *Catalogue) checkManifestsFolder(fsys fs.FS, ref componentRef, errs *diag.List) {
	comp := ref.component()
	dir := path.Join(Dir, ref.platform.Metadata.Name, comp.Name)
	at := ref.pos("manifests")
	if st, err := fs.Stat(fsys, dir); err != nil || !st.IsDir() {
		if _, ok := reposource.Diagnostic(err); ok {
			return // reported with the platform's folder
		}
		errs.Add(at, "platform.manifests-folder", "component %s is plain manifests but there is no folder %s: put its YAML there", comp.Name, dir)
		return
	}
	followed, ok := c.components[comp.FollowsVariant]
	if comp.FollowsVariant == "" || !ok {
		c.checkManifestsDir(fsys, ref, dir, errs)
		return
	}
	// One subfolder per variant of the followed component, and nothing
	// else: a file or folder beside them would be applied to no cluster.
	variants := variantNames(followed.component())
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		errs.Add(at, "platform.manifests-folder", "reading %s: %v", dir, err)
		return
	}
	present := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && slices.Contains(variants, e.Name()) {
			present[e.Name()] = true
			continue
		}
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		errs.Add(ref.pos("followsVariant"), "platform.follows-variant", "%s is not a variant of %s: folder %s holds one folder per variant (%s) and nothing else; move or remove it", path.Join(dir, e.Name()), comp.FollowsVariant, dir, strings.Join(variants, ", "))
	}
	for _, v := range variants {
		if !present[v] {
			errs.Add(ref.pos("followsVariant"), "platform.follows-variant", "component %s follows the variant of %s, but variant %s has no folder %s: add the manifests a cluster with %s gets", comp.Name, comp.FollowsVariant, v, path.Join(dir, v), v)
			continue
		}
		c.checkManifestsDir(fsys, ref, path.Join(dir, v), errs)
	}
}

// checkManifestsDir checks one folder that a manifests component applies.
func (c *Catalogue) checkManifestsDir(fsys fs.FS, ref componentRef, dir string, errs *diag.List) {
	comp := ref.component()
	at := ref.pos("manifests")
	folder, err := readManifestsFolder(fsys, dir)
	if err != nil {
		errs.Add(at, "platform.manifests-folder", "reading %s: %v", dir, err)
		return
	}
	if len(folder.files) == 0 && folder.kustomization == "" {
		errs.Add(at, "platform.manifests-empty", "folder %s of component %s holds no YAML file: add the manifests to apply", dir, comp.Name)
		return
	}
	if folder.kustomization == "" {
		// kustomize-controller generates a kustomization of every YAML file:
		// each must be Kubernetes objects.
		ok := true
		for _, f := range folder.files {
			ok = checkManifestFile(fsys, path.Join(dir, f), errs) && ok
		}
		if !ok {
			return
		}
	}
	objs, err := buildManifests(fsys, dir, folder)
	var refused diag.List
	if errors.As(err, &refused) {
		// Each refused reference is reported where it is, in the
		// kustomization, and the component says which it is.
		for _, d := range refused {
			errs.Add(d.Pos, d.Rule, "%s (component %s of platform %s)", d.Message, comp.Name, ref.platform.Metadata.Name)
		}
		errs.Add(at, "platform.manifests-build", "folder %s of component %s is not built: %d reference(s) of its kustomization would leave the revision or run a program (reported at each)", dir, comp.Name, len(refused))
		return
	}
	if err != nil {
		errs.Add(at, "platform.manifests-build", "folder %s of component %s does not build: %v", dir, comp.Name, err)
		return
	}
	if len(objs) == 0 {
		errs.Add(at, "platform.manifests-empty", "folder %s of component %s builds no object: add the manifests to apply", dir, comp.Name)
		return
	}
	namespaces := map[string]bool{}
	for _, o := range objs {
		switch o.kind {
		case "Secret":
			errs.Add(at, "platform.manifests-secret", "folder %s of component %s holds Secret %s: secrets never go to git in clear", dir, comp.Name, o.name)
		case "Namespace":
			namespaces[o.name] = true
		}
	}
	if ns := comp.Namespace; ns != "" && !existingNamespaces[ns] && !namespaces[ns] && !c.dependencyCreates(comp.Name, ns) {
		errs.Add(ref.pos("namespace"), "platform.namespace", "component %s is applied into namespace %s, which nothing creates first: add a Namespace %s to %s, or depend on the chart component that installs into it", comp.Name, ns, ns, dir)
	}
}

// dependencyCreates reports whether a chart component that name depends
// on, directly or not, installs into namespace ns whatever its variant
// (charts are installed with createNamespace).
func (c *Catalogue) dependencyCreates(name, ns string) bool {
	seen := map[string]bool{}
	var visit func(n string) bool
	visit = func(n string) bool {
		for _, d := range c.dependencies(n) {
			if seen[d] {
				continue
			}
			seen[d] = true
			comp := c.components[d].component()
			if !comp.Manifests {
				all := comp.Namespace == ns
				if len(comp.Variants) > 0 {
					all = true
					for _, v := range comp.Variants {
						all = all && v.Namespace == ns
					}
				}
				if all {
					return true
				}
			}
			if visit(d) {
				return true
			}
		}
		return false
	}
	return visit(name)
}

func readManifestsFolder(fsys fs.FS, dir string) (manifestsFolder, error) {
	var f manifestsFolder
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		for _, k := range kustomizationFiles {
			if rel == k {
				f.kustomization = k
				return nil
			}
		}
		if isYAML(d.Name()) {
			f.files = append(f.files, rel)
		}
		return nil
	})
	sort.Strings(f.files)
	return f, err
}

// checkManifestFile checks that every document of a YAML file is a
// Kubernetes object: apiVersion, kind and metadata.name.
func checkManifestFile(fsys fs.FS, file string, errs *diag.List) bool {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		errs.Add(diag.Pos{File: file}, "platform.manifests-yaml", "%v", err)
		return false
	}
	ok := true
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if err != io.EOF {
				errs.Add(yamlErrPos(file, err), "platform.manifests-yaml", "malformed YAML: %s", yamlErrMsg(err))
				ok = false
			}
			return ok
		}
		n := &doc
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			n = n.Content[0]
		}
		if n.Kind == yaml.DocumentNode || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
			continue // an empty document
		}
		at := diag.Pos{File: file, Line: n.Line, Col: n.Column}
		if n.Kind != yaml.MappingNode {
			errs.Add(at, "platform.manifests-yaml", "a manifest is a Kubernetes object (a mapping with apiVersion, kind and metadata.name)")
			ok = false
			continue
		}
		var obj struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		if err := n.Decode(&obj); err != nil || obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
			errs.Add(at, "platform.manifests-yaml", "a manifest needs apiVersion, kind and metadata.name")
			ok = false
		}
	}
}

type builtObject struct{ kind, name string }

// buildManifests builds a manifests folder with kustomize as
// kustomize-controller does: with the folder's kustomization file, or else
// with one listing every YAML file. The build is the safe one: a
// kustomization that refers to anything remote, to Helm, to a plugin or
// out of the folder is refused before kustomize runs, with the
// diagnostics of kustomize.Check.
func buildManifests(fsys fs.FS, dir string, folder manifestsFolder) ([]builtObject, error) {
	opts := kustomize.Options{Root: dir, Dir: dir}
	if folder.kustomization == "" {
		var b bytes.Buffer
		b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
		for _, f := range folder.files {
			// Quoted: a file name is data, never YAML.
			fmt.Fprintf(&b, "  - %q\n", f)
		}
		opts.Generated = b.Bytes()
	}
	rm, err := kustomize.Build(fsys, opts)
	if err != nil {
		var l diag.List
		if errors.As(err, &l) {
			return nil, err
		}
		return nil, errors.New(strings.ReplaceAll(err.Error(), dir+"/", ""))
	}
	var out []builtObject
	for _, r := range rm.Resources() {
		out = append(out, builtObject{kind: r.GetKind(), name: r.GetName()})
	}
	return out, nil
}

// manifestsSource is the GitRepository of this repository in a cluster's
// namespace, from which its manifests components are applied: the URL,
// branch and interval of the site's spec.git, and only platforms/ in the
// artifact.
//
// Its secretRef is the site's spec.git.secretName, a Secret that must exist
// in every cluster namespace with manifests components (the deploy key in
// flux-system is out of reach of a namespace-local reference): the operator
// replicates it. A public repository over https needs no secret
// (spec.git.secretName unset).
func manifestsSource(site *load.Site, ns string) *sourcev1.GitRepository {
	g := site.Spec.Git
	interval := render.SourceInterval
	if g.Interval != "" {
		if d, err := time.ParseDuration(g.Interval); err == nil {
			interval = d
		}
	}
	repo := &sourcev1.GitRepository{
		TypeMeta: metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: ManifestsSourceName, Namespace: ns,
			Labels: map[string]string{render.SiteLabel: site.Metadata.Name},
		},
		Spec: sourcev1.GitRepositorySpec{
			URL:       g.URL,
			Interval:  metav1.Duration{Duration: interval},
			Reference: &sourcev1.GitRepositoryRef{Branch: or(g.Branch, "main")},
			// Only the catalogue: the artifact stays small, whatever else
			// the repository holds.
			Ignore: ptr("/*\n!/" + Dir + "/\n"),
		},
	}
	if g.SecretName != "" {
		repo.Spec.SecretRef = &meta.LocalObjectReference{Name: g.SecretName}
	}
	return repo
}

// manifestsKustomization applies a manifests component into the workload
// cluster; it depends on the manifests components among the addon's
// dependencies (its chart dependencies are ready before its folder of the
// tree is synced at all).
func manifestsKustomization(cluster string, a Addon, manifests map[string]bool) *kustomizev1.Kustomization {
	id := a.Identity
	ks := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: addonMeta(a),
		Spec: kustomizev1.KustomizationSpec{
			Interval:        metav1.Duration{Duration: ManifestsInterval},
			KubeConfig:      kubeConfig(cluster),
			Path:            a.Path,
			Prune:           true,
			Wait:            true,
			TargetNamespace: id.TargetNamespace,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: ManifestsSourceName},
		},
	}
	for _, d := range a.DependsOn {
		if manifests[d] {
			ks.Spec.DependsOn = append(ks.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
		}
	}
	return ks
}
