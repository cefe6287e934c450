package platform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
)

// Labels of the rendered addon objects, beside render's site and cluster
// labels.
const (
	PlatformLabel  = "capiform.dev/platform"
	ComponentLabel = "capiform.dev/component"
)

// Intervals and retries of the rendered objects.
const (
	// RepositoryInterval is how often a Helm repository index is fetched:
	// versions are exact, so a new index only matters after a change in git.
	RepositoryInterval = time.Hour
	// ReleaseInterval is how often a release is checked for drift.
	ReleaseInterval = 10 * time.Minute
	// Retries of a failed install or upgrade before giving up; an upgrade
	// is rolled back between attempts.
	Retries = 3
)

// KubeconfigKey is the key of Cluster API's kubeconfig secret.
const KubeconfigKey = "value"

// HelmChartMediaType is the layer of an OCI Helm chart.
const HelmChartMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// AddonIdentity is the identity of a component's release for a cluster: a
// HelmRelease named after the component in the cluster's namespace on the
// management cluster, and a Helm release of the same name whose objects and
// storage are in the component's namespace of the workload cluster.
// Bootstrap installs the base platform with exactly this identity so that
// Flux adopts the releases it finds.
func AddonIdentity(site, cluster, component, targetNamespace string) resolve.Identity {
	return resolve.Identity{
		Site:                 site,
		Cluster:              cluster,
		HelmReleaseName:      component,
		HelmReleaseNamespace: resolve.ClusterNamespace(cluster),
		ReleaseName:          component,
		TargetNamespace:      targetNamespace,
		StorageNamespace:     targetNamespace,
	}
}

// adoptedAddonIdentity is AddonIdentity for a cluster whose definition may
// adopt: its HelmReleases live in the cluster's (adopted) namespace, and a
// component the platform reference gives a release override keeps the
// release name and namespace it already runs under in the workload
// cluster. The HelmRelease keeps the component's name, so that dependsOn
// between components is unchanged.
func adoptedAddonIdentity(site string, cluster *load.Cluster, pref *v1alpha1.PlatformRef, component, targetNamespace string) resolve.Identity {
	id := AddonIdentity(site, cluster.Metadata.Name, component, targetNamespace)
	id.HelmReleaseNamespace = resolve.Namespace(cluster)
	if o, ok := pref.Releases[component]; ok {
		if o.ReleaseName != "" {
			id.ReleaseName = o.ReleaseName
		}
		if o.Namespace != "" {
			id.TargetNamespace = o.Namespace
			id.StorageNamespace = o.Namespace
		}
	}
	return id
}

// Addon is one component resolved for one cluster: what to install, with
// which values, after which other components.
type Addon struct {
	// Platform and Component name where it comes from; Variant is the
	// chosen variant, if the component has variants, or the variant of the
	// component a manifests component follows (followsVariant).
	Platform  string
	Component string
	Variant   string
	// Identity is where the release lives (AddonIdentity).
	Identity resolve.Identity
	// Chart is the chart at its exact version; empty for a component of
	// plain manifests.
	Chart Chart
	// Path is the folder of a component of plain manifests, as Flux's
	// GitRepository source sees it (./platforms/<platform>/<component>);
	// empty for a chart. For such a component Identity names its Flux
	// Kustomization (HelmReleaseName, HelmReleaseNamespace) and the
	// namespace it is applied into (TargetNamespace, maybe empty).
	Path string
	// Values are the computed values: defaults, then facts, then the
	// cluster's overrides.
	Values map[string]any
	// ValuesFrom are the Secrets the values are completed from.
	ValuesFrom []helmv2.ValuesReference
	// DependsOn are the components that must be ready first, the CNI
	// included, sorted.
	DependsOn []string
	// Provides are the pieces the release can deploy that run once per
	// cluster, with the value path that turns each on (Release.Provides).
	Provides map[string]string
}

// Resolve returns the addons of a cluster in an order that installs every
// component after what it depends on (ties broken by name). The error is a
// diag.List pointing at the cluster's definition.
func (c *Catalogue) Resolve(site *load.Site, cluster *load.Cluster, rel *resolve.Release) ([]Addon, error) {
	// Warnings (Check reports them) do not stop the cluster's addons.
	if errs := c.checkCluster(site, cluster); slices.ContainsFunc(errs, func(d diag.Diagnostic) bool { return d.Severity != diag.Warning }) {
		return nil, errs.Err()
	}
	facts, err := ClusterFacts(site, cluster, rel)
	if err != nil {
		var errs diag.List
		errs.Add(cluster.Pos.Of("spec.storage"), "platform.facts", "%v", err)
		return nil, errs.Err()
	}
	byName := map[string]Addon{}
	var errs diag.List
	off := map[string]int{} // manifests components turned off, by platform index
	for i, pref := range cluster.Spec.Platforms {
		p := c.byName[pref.Name]
		for j := range p.Spec.Components {
			comp := &p.Spec.Components[j]
			if comp.Manifests && !manifestsEnabled(pref.Values[comp.Name]) {
				off[comp.Name] = i
				continue
			}
			a, err := c.resolveComponent(site, cluster, p, comp, &cluster.Spec.Platforms[i], facts)
			if err != nil {
				errs.Add(cluster.Pos.Of(fmt.Sprintf("spec.platforms[%d].values.%s", i, comp.Name)), "platform.values", "component %s: %v", comp.Name, err)
				continue
			}
			byName[comp.Name] = a
		}
	}
	// What depends on a component the cluster turned off would wait for it
	// forever.
	for _, name := range sortedKeys(byName) {
		for _, d := range byName[name].DependsOn {
			if i, ok := off[d]; ok {
				errs.Add(cluster.Pos.Of(fmt.Sprintf("spec.platforms[%d].values.%s.%s", i, d, EnabledKey)), "platform.manifests-values", "component %s is turned off, but %s depends on it: keep %s, or leave out %s's platform", d, name, d, name)
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	addons, err := shareProvided(installOrder(byName))
	if err != nil {
		errs.Add(cluster.Pos.Of("spec.platforms"), "platform.values", "%v: turn the piece off in one of the two releases' values, or leave the value a mapping path", err)
		return nil, errs.Err()
	}
	return addons, nil
}

// installOrder sorts addons so that each comes after its dependencies.
func installOrder(byName map[string]Addon) []Addon {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	done := map[string]bool{}
	var out []Addon
	var visit func(n string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true // the catalogue has no cycles
		for _, d := range byName[n].DependsOn {
			visit(d)
		}
		out = append(out, byName[n])
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

func (c *Catalogue) resolveComponent(site *load.Site, cluster *load.Cluster, p *LoadedPlatform, comp *Component, pref *v1alpha1.PlatformRef, facts Facts) (Addon, error) {
	override := pref.Values[comp.Name]
	if comp.Manifests {
		a := Addon{
			Platform:  p.Metadata.Name,
			Component: comp.Name,
			Identity:  adoptedAddonIdentity(site.Metadata.Name, cluster, pref, comp.Name, comp.Namespace),
			Path:      ManifestsPath(p.Metadata.Name, comp.Name),
			DependsOn: c.dependencies(comp.Name),
		}
		if f := comp.FollowsVariant; f != "" {
			a.Variant = c.chosenVariant(cluster, f)
			a.Path += "/" + a.Variant
		}
		return a, nil
	}
	r := &comp.Release
	variant := ""
	override = copyMap(override)
	if comp.Select != "" {
		variant = comp.Default
		if v, ok := override[comp.Select]; ok {
			variant, _ = v.(string)
			delete(override, comp.Select)
		}
		for i := range comp.Variants {
			if comp.Variants[i].Name == variant {
				r = &comp.Variants[i].Release
			}
		}
	}
	values := copyMap(r.Values)
	paths := make([]string, 0, len(r.Facts))
	for fp := range r.Facts {
		paths = append(paths, fp)
	}
	sort.Strings(paths)
	for _, fp := range paths {
		steps, _ := parsePath(fp)
		v := factValues[r.Facts[fp]](facts)
		if v == nil {
			// No value for this cluster: the component's own.
			continue
		}
		if err := setPath(values, steps, v); err != nil {
			return Addon{}, fmt.Errorf("fact %s at %s: %v", r.Facts[fp], fp, err)
		}
	}
	values = merge(values, override)
	a := Addon{
		Platform:  p.Metadata.Name,
		Component: comp.Name,
		Variant:   variant,
		Identity:  adoptedAddonIdentity(site.Metadata.Name, cluster, pref, comp.Name, r.Namespace),
		Chart:     *r.Chart,
		Values:    values,
		DependsOn: c.dependencies(comp.Name),
		Provides:  r.Provides,
	}
	if cc := r.CloudCredentials; cc != nil {
		a.ValuesFrom = append(a.ValuesFrom, helmv2.ValuesReference{
			Kind:       "Secret",
			Name:       site.Spec.Cloud.CredentialsSecret,
			ValuesKey:  or(cc.Key, DefaultCredentialsKey),
			TargetPath: cc.TargetPath,
			// The file verbatim (helm --set-literal): parsed as --set, a
			// comma or backslash in a credential would split or change it.
			Literal: cc.TargetPath != "",
		})
	}
	return a, nil
}

// Addons renders the addon objects of a cluster, all in its namespace:
// one source per distinct repository and one HelmRelease per chart
// component; for components of plain manifests one GitRepository of this
// repository and one Flux Kustomization each (render syncs these after
// the HelmReleases are ready). It matches render.AddonsFunc; the error is a
// diag.List pointing at the cluster's definition.
func (c *Catalogue) Addons(site *load.Site, cluster *load.Cluster, rel *resolve.Release) ([]render.Object, error) {
	addons, err := c.Resolve(site, cluster, rel)
	if err != nil {
		return nil, err
	}
	ns := resolve.Namespace(cluster)
	management := rel != nil && rel.Management || site.Spec.ManagementCluster == cluster.Metadata.Name
	sources := map[string]render.Object{}
	var out []render.Object
	manifests := map[string]bool{}
	for _, a := range addons {
		if a.Path != "" {
			manifests[a.Component] = true
		}
	}
	for _, a := range addons {
		if a.Path != "" {
			key := sourcev1.GitRepositoryKind + "/" + ManifestsSourceName
			if _, ok := sources[key]; !ok {
				repo := manifestsSource(site, ns)
				repo.Labels[render.ClusterLabel] = cluster.Metadata.Name
				protect(management, repo)
				sources[key] = repo
			}
			ks := manifestsKustomization(cluster.Metadata.Name, a, manifests)
			protect(management, ks)
			out = append(out, ks)
			continue
		}
		src := sourceFor(&a.Chart)
		key := src.kind + "/" + src.name
		if _, ok := sources[key]; !ok {
			o := src.object(ns)
			meta := o.(metav1.Object)
			meta.SetLabels(map[string]string{render.SiteLabel: site.Metadata.Name, render.ClusterLabel: cluster.Metadata.Name})
			protect(management, meta)
			sources[key] = o
		}
		hr, err := helmRelease(cluster.Metadata.Name, a, src)
		if err != nil {
			return nil, err
		}
		protect(management, hr)
		out = append(out, hr)
	}
	keys := make([]string, 0, len(sources))
	for k := range sources {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	objs := make([]render.Object, 0, len(keys)+len(out))
	for _, k := range keys {
		objs = append(objs, sources[k])
	}
	return append(objs, out...), nil
}

// protect keeps Flux from ever pruning the management cluster's addons:
// removing its CNI or cloud controller by accident would take down the
// cluster that runs Flux itself.
func protect(management bool, o metav1.Object) {
	if management {
		o.SetAnnotations(map[string]string{render.PruneAnnotation: "disabled"})
	}
}

// addonMeta names an addon's object after its identity, labelled with its
// site, cluster, platform and component.
func addonMeta(a Addon) metav1.ObjectMeta {
	id := a.Identity
	return metav1.ObjectMeta{
		Name: id.HelmReleaseName, Namespace: id.HelmReleaseNamespace,
		Labels: map[string]string{
			render.SiteLabel: id.Site, render.ClusterLabel: id.Cluster,
			PlatformLabel: a.Platform, ComponentLabel: a.Component,
		},
	}
}

// kubeConfig is how Flux reaches the workload cluster: the kubeconfig
// Secret Cluster API writes in the cluster's namespace.
func kubeConfig(cluster string) *meta.KubeConfigReference {
	return &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{
		Name: resolve.KubeconfigSecretName(cluster), Key: KubeconfigKey,
	}}
}

func helmRelease(cluster string, a Addon, src source) (*helmv2.HelmRelease, error) {
	id := a.Identity
	hr := &helmv2.HelmRelease{
		TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: addonMeta(a),
		Spec: helmv2.HelmReleaseSpec{
			Interval:         metav1.Duration{Duration: ReleaseInterval},
			KubeConfig:       kubeConfig(cluster),
			ReleaseName:      id.ReleaseName,
			TargetNamespace:  id.TargetNamespace,
			StorageNamespace: id.StorageNamespace,
			Install: &helmv2.Install{
				CreateNamespace: true,
				CRDs:            helmv2.CreateReplace,
				Remediation:     &helmv2.InstallRemediation{Retries: Retries},
			},
			Upgrade: &helmv2.Upgrade{
				CRDs: helmv2.CreateReplace,
				Remediation: &helmv2.UpgradeRemediation{
					Retries: Retries, Strategy: ptr(helmv2.RollbackRemediationStrategy),
				},
			},
			ValuesFrom: a.ValuesFrom,
		},
	}
	if src.kind == sourcev1.OCIRepositoryKind {
		hr.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: src.kind, Name: src.name}
	} else {
		hr.Spec.Chart = &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
			Chart:     a.Chart.Name,
			Version:   a.Chart.Version,
			SourceRef: helmv2.CrossNamespaceObjectReference{Kind: src.kind, Name: src.name},
		}}
	}
	for _, d := range a.DependsOn {
		hr.Spec.DependsOn = append(hr.Spec.DependsOn, helmv2.DependencyReference{Name: d})
	}
	if len(a.Values) > 0 {
		raw, err := json.Marshal(a.Values)
		if err != nil {
			return nil, fmt.Errorf("component %s: values: %w", a.Component, err)
		}
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: raw}
	}
	return hr, nil
}

func ptr[T any](v T) *T { return &v }

// source is the Flux source of a chart in a cluster's namespace.
type source struct {
	kind, name string
	// url is the repository (HelmRepository) or the chart's artifact
	// (OCIRepository).
	url string
	tag string
}

// sourceFor names the source of a chart: a HelmRepository per repository
// URL, or an OCIRepository per chart and version of an OCI registry; its
// name is derived from the URL alone so that every cluster names it alike.
func sourceFor(ch *Chart) source {
	u := strings.TrimSuffix(ch.Repository, "/")
	if strings.HasPrefix(u, "oci://") {
		full := u + "/" + ch.Name
		return source{kind: sourcev1.OCIRepositoryKind, name: sourceName(full + "-" + ch.Version), url: full, tag: ch.Version}
	}
	return source{kind: sourcev1.HelmRepositoryKind, name: sourceName(u), url: u}
}

var notName = regexp.MustCompile(`[^a-z0-9]+`)

// sourceName turns a URL into an object name: its host and path in lower
// case with every other character a dash, like docs-tigera-io-calico-charts;
// a name longer than 63 characters is cut and ends in a hash of the URL.
func sourceName(u string) string {
	s := u
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s = strings.Trim(notName.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 63 {
		h := sha256.Sum256([]byte(u))
		s = strings.TrimRight(s[:54], "-") + "-" + hex.EncodeToString(h[:])[:8]
	}
	return s
}

func (s source) object(ns string) render.Object {
	om := metav1.ObjectMeta{Name: s.name, Namespace: ns}
	if s.kind == sourcev1.OCIRepositoryKind {
		return &sourcev1.OCIRepository{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
			ObjectMeta: om,
			Spec: sourcev1.OCIRepositorySpec{
				URL:           s.url,
				Reference:     &sourcev1.OCIRepositoryRef{Tag: s.tag},
				LayerSelector: &sourcev1.OCILayerSelector{MediaType: HelmChartMediaType, Operation: sourcev1.OCILayerCopy},
				Interval:      metav1.Duration{Duration: RepositoryInterval},
			},
		}
	}
	return &sourcev1.HelmRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmRepositoryKind},
		ObjectMeta: om,
		Spec: sourcev1.HelmRepositorySpec{
			URL:      s.url,
			Interval: metav1.Duration{Duration: RepositoryInterval},
		},
	}
}
