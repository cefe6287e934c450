package platform

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

// Check reports what the fleet's definitions ask of the catalogue and the
// catalogue cannot give: unknown platforms (in a cluster or in a site's
// requiredPlatforms), overrides of components a platform does not have,
// unknown variants, a required platform a cluster lacks, and a component
// whose dependency lives in a platform the cluster did not choose.
func (c *Catalogue) Check(fleet *load.Fleet) diag.List {
	var errs diag.List
	for _, s := range fleet.Sites {
		for j, name := range s.Spec.RequiredPlatforms {
			if c.byName[name] == nil {
				hint := "use one of " + c.platformList()
				if m := load.Closest(name, c.platformNames()); m != "" {
					hint = fmt.Sprintf("did you mean %s? (the catalogue has %s)", m, c.platformList())
				}
				errs.Add(s.Pos.Of(fmt.Sprintf("spec.requiredPlatforms[%d]", j)), "platform.unknown", "site %s requires platform %q, which the catalogue does not have: %s", s.Metadata.Name, name, hint)
			}
		}
		for _, cl := range s.Clusters {
			errs = append(errs, c.checkCluster(s, cl)...)
		}
	}
	return errs.Sorted()
}

// CheckAfter is Check for a run whose earlier stages found found: it
// returns found with Check's findings, less the diagnostics that a
// misspelt platform name explains. The policy, which knows no catalogue,
// reports a site's required platform as missing from a cluster that wrote
// it misspelt (bsae for base); when every required platform a cluster
// lacks is what one of its unknown names most likely meant, those
// reports go and the unknown name's did-you-mean stands for them.
func (c *Catalogue) CheckAfter(fleet *load.Fleet, found diag.List) diag.List {
	explained := map[string]bool{} // cluster files
	for _, s := range fleet.Sites {
		for _, cl := range s.Clusters {
			meant := c.misspelt(cl)
			if len(meant) == 0 {
				continue
			}
			all := true
			for _, name := range s.Spec.RequiredPlatforms {
				if c.byName[name] != nil && !chose(cl, name) && !meant[name] {
					all = false
				}
			}
			explained[cl.Pos.File] = all
		}
	}
	out := slices.DeleteFunc(slices.Clone(found), func(d diag.Diagnostic) bool {
		return d.Rule == "policy.required-platforms" && explained[d.File]
	})
	return append(out, c.Check(fleet)...)
}

// misspelt returns the catalogue's platforms that a cluster's unknown
// platform names most likely meant.
func (c *Catalogue) misspelt(cl *load.Cluster) map[string]bool {
	meant := map[string]bool{}
	for _, ref := range cl.Spec.Platforms {
		if c.byName[ref.Name] == nil {
			if m := load.Closest(ref.Name, c.platformNames()); m != "" {
				meant[m] = true
			}
		}
	}
	return meant
}

func chose(cl *load.Cluster, name string) bool {
	return slices.ContainsFunc(cl.Spec.Platforms, func(r v1alpha1.PlatformRef) bool { return r.Name == name })
}

func (c *Catalogue) platformNames() []string {
	names := make([]string, 0, len(c.Platforms))
	for _, p := range c.Platforms {
		names = append(names, p.Metadata.Name)
	}
	return names
}

func (c *Catalogue) platformList() string {
	names := make([]string, 0, len(c.Platforms))
	for _, p := range c.Platforms {
		names = append(names, p.Metadata.Name)
	}
	if len(names) == 0 {
		return "none (platforms/ is empty)"
	}
	return strings.Join(names, ", ")
}

// checkCluster checks one cluster's platform choices; every diagnostic
// points at the cluster's definition.
func (c *Catalogue) checkCluster(site *load.Site, cl *load.Cluster) diag.List {
	var errs diag.List
	chosen := map[string]int{}
	for i, ref := range cl.Spec.Platforms {
		at := fmt.Sprintf("spec.platforms[%d]", i)
		p := c.byName[ref.Name]
		if p == nil {
			if m := load.Closest(ref.Name, c.platformNames()); m != "" {
				errs.Add(cl.Pos.Of(at+".name"), "platform.unknown", "unknown platform %q: did you mean %s? (the catalogue has %s)", ref.Name, m, c.platformList())
			} else {
				errs.Add(cl.Pos.Of(at+".name"), "platform.unknown", "unknown platform %q: use one of %s", ref.Name, c.platformList())
			}
			continue
		}
		if j, dup := chosen[ref.Name]; dup {
			errs.Add(cl.Pos.Of(at+".name"), "platform.duplicate", "platform %s is already chosen at line %d: choose it once, with all its values", ref.Name, cl.Pos.Of(fmt.Sprintf("spec.platforms[%d].name", j)).Line)
			continue
		}
		chosen[ref.Name] = i
		comps := map[string]*Component{}
		var names []string
		for k := range p.Spec.Components {
			comps[p.Spec.Components[k].Name] = &p.Spec.Components[k]
			names = append(names, p.Spec.Components[k].Name)
		}
		keys := make([]string, 0, len(ref.Values))
		for k := range ref.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vat := at + ".values." + k
			comp := comps[k]
			if comp == nil {
				errs.Add(cl.Pos.Of(vat), "platform.unknown-component", "platform %s has no component %q: override one of %s", ref.Name, k, strings.Join(names, ", "))
				continue
			}
			if comp.Manifests {
				for _, key := range sortedKeys(ref.Values[k]) {
					if _, isBool := ref.Values[k][key].(bool); key != EnabledKey || !isBool {
						errs.Add(cl.Pos.Of(vat+"."+key), "platform.manifests-values", "component %s of platform %s is plain manifests and takes one value, %s: true or false (false leaves it out of the cluster): remove values.%s.%s", k, ref.Name, EnabledKey, k, key)
					}
				}
				continue
			}
			if comp.Select == "" {
				continue
			}
			v, ok := ref.Values[k][comp.Select]
			if !ok {
				continue
			}
			s, isString := v.(string)
			known := false
			for _, vr := range comp.Variants {
				known = known || vr.Name == s
			}
			if !isString || !known {
				errs.Add(cl.Pos.Of(vat+"."+comp.Select), "platform.unknown-variant", "%s.%s is %v: choose one of %s", k, comp.Select, v, strings.Join(variantNames(comp), ", "))
			}
		}
	}
	errs = append(errs, checkReleaseOverrides(c, cl)...)
	errs = append(errs, c.checkClusterSupport(cl, chosen)...)
	// A platform the cluster misspelt is not reported missing as well: the
	// did-you-mean above says it once.
	meant := c.misspelt(cl)
	// A component's dependencies must be installed too: the CNI's platform
	// and the platform of every dependsOn.
	for i, ref := range cl.Spec.Platforms {
		p := c.byName[ref.Name]
		if p == nil || chosen[ref.Name] != i {
			continue
		}
		missing := map[string][]string{}
		for _, comp := range p.Spec.Components {
			for _, d := range c.dependencies(comp.Name) {
				dp := c.components[d].platform.Metadata.Name
				if _, ok := chosen[dp]; !ok && !meant[dp] {
					missing[dp] = append(missing[dp], fmt.Sprintf("%s needs %s", comp.Name, d))
				}
			}
		}
		for _, dp := range sortedKeys(missing) {
			errs.Add(cl.Pos.Of(fmt.Sprintf("spec.platforms[%d].name", i)), "platform.requires", "platform %s needs platform %s (%s): add {name: %s} to spec.platforms", ref.Name, dp, strings.Join(missing[dp], ", "), dp)
		}
	}
	for _, name := range site.Spec.RequiredPlatforms {
		if c.byName[name] == nil || meant[name] {
			continue // reported once, at the site or at the misspelt name
		}
		if _, ok := chosen[name]; !ok {
			at := "spec.platforms"
			if len(cl.Spec.Platforms) == 0 {
				at = "metadata.name"
			}
			errs.Add(cl.Pos.Of(at), "platform.required", "site %s requires platform %s on every cluster: add {name: %s} to spec.platforms of cluster %s", site.Metadata.Name, name, name, cl.Metadata.Name)
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkReleaseOverrides checks spec.platforms[].releases: each names a chart
// component of its platform (plain manifests are applied by a Flux
// Kustomization, not a Helm release, and have no release to adopt), and
// names and namespaces are what Helm and Kubernetes take.
func checkReleaseOverrides(c *Catalogue, cl *load.Cluster) diag.List {
	var errs diag.List
	for i, ref := range cl.Spec.Platforms {
		p := c.byName[ref.Name]
		if p == nil {
			continue
		}
		at := fmt.Sprintf("spec.platforms[%d].releases", i)
		var names []string
		comps := map[string]*Component{}
		for k := range p.Spec.Components {
			comp := &p.Spec.Components[k]
			comps[comp.Name] = comp
			if !comp.Manifests {
				names = append(names, comp.Name)
			}
		}
		for _, k := range sortedKeys(ref.Releases) {
			o := ref.Releases[k]
			comp := comps[k]
			switch {
			case comp == nil:
				errs.Add(cl.Pos.Of(at+"."+k), "platform.unknown-component", "platform %s has no component %q: give the release of one of %s", ref.Name, k, strings.Join(names, ", "))
				continue
			case comp.Manifests:
				errs.Add(cl.Pos.Of(at+"."+k), "platform.manifests-release", "component %s of platform %s is plain manifests, applied without a Helm release: remove releases.%s", k, ref.Name, k)
				continue
			}
			if o.ReleaseName != "" && (!load.IsDNSLabel(o.ReleaseName) || len(o.ReleaseName) > 53) {
				errs.Add(cl.Pos.Of(at+"."+k+".releaseName"), "platform.release-name", "release name %q of %s is not a Helm release name: a DNS label of at most 53 characters", o.ReleaseName, k)
			}
			if o.Namespace != "" && !load.IsDNSLabel(o.Namespace) {
				errs.Add(cl.Pos.Of(at+"."+k+".namespace"), "platform.namespace", "namespace %q of %s is not a DNS label", o.Namespace, k)
			}
		}
	}
	return errs
}
