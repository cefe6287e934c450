package platform

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

// Rules of the Kubernetes support check and of retired releases.
const (
	RuleKubernetesSupport = "platform.kubernetes-support"
	RuleRetired           = "platform.retired"
)

// minorForm is how the catalogue writes a minor: 1.35.
var minorForm = regexp.MustCompile(`^1\.(0|[1-9][0-9]*)$`)

// clusterMinor reads the minor of a cluster's version, like v1.36.1 or
// v1.36.0-rc.1 (a pre-release belongs to its minor, as Helm's -0 ranges
// have it).
var clusterMinor = regexp.MustCompile(`^v?1\.(0|[1-9][0-9]*)\.`)

func minorOf(v string) (int, bool) {
	m := minorForm.FindStringSubmatch(v)
	if m == nil {
		m = clusterMinor.FindStringSubmatch(v)
	}
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// checkSupport checks a release's Kubernetes range as written.
func checkSupport(ref componentRef, prefix string, r *Release, errs *diag.List) {
	name := ref.component().Name
	k := r.Kubernetes
	if k == nil {
		return // TestCatalogueRecordsKubernetesSupport holds this repository's catalogue to it
	}
	lo, okLo := minorOf(k.Min)
	if k.Min != "" && (!okLo || !minorForm.MatchString(k.Min)) {
		errs.Add(ref.pos(prefix+"kubernetes.min"), RuleKubernetesSupport, "kubernetes.min %q of %s is not a minor like 1.35", k.Min, name)
	}
	if k.Max != "" {
		hi, okHi := minorOf(k.Max)
		switch {
		case !okHi || !minorForm.MatchString(k.Max):
			errs.Add(ref.pos(prefix+"kubernetes.max"), RuleKubernetesSupport, "kubernetes.max %q of %s is not a minor like 1.36", k.Max, name)
		case okLo && hi < lo:
			errs.Add(ref.pos(prefix+"kubernetes.max"), RuleKubernetesSupport, "kubernetes.max %s of %s is older than its min %s", k.Max, name, k.Min)
		}
	}
	switch k.Newer {
	case "", NewerRefuse, NewerWarn:
	default:
		errs.Add(ref.pos(prefix+"kubernetes.newer"), RuleKubernetesSupport, "kubernetes.newer of %s is %q: write %s or %s", name, k.Newer, NewerRefuse, NewerWarn)
	}
	if k.Newer != "" && k.Max == "" {
		errs.Add(ref.pos(prefix+"kubernetes.newer"), RuleKubernetesSupport, "kubernetes.newer of %s says what a version above max gets, but there is no max", name)
	}
}

// chosenRelease returns the release a cluster's override values choose
// for a component, with the variant's name and the path of its fields in
// the platform file ("" or "variants[i].").
func chosenRelease(comp *Component, override map[string]any) (r *Release, variant, prefix string) {
	if comp.Select == "" {
		return &comp.Release, "", ""
	}
	variant = comp.Default
	if v, ok := override[comp.Select].(string); ok {
		variant = v
	}
	for i := range comp.Variants {
		if comp.Variants[i].Name == variant {
			return &comp.Variants[i].Release, variant, fmt.Sprintf("variants[%d].", i)
		}
	}
	return nil, variant, ""
}

// checkClusterSupport reports, at the cluster's version, every chosen
// component whose upstream does not support that Kubernetes minor, and,
// at the platform's name, every chosen release that upstream retired.
func (c *Catalogue) checkClusterSupport(cl *load.Cluster, chosen map[string]int) diag.List {
	var out diag.List
	minor, known := minorOf(cl.Spec.KubernetesVersion)
	at := cl.Pos.Of("spec.kubernetesVersion")
	for i, pref := range cl.Spec.Platforms {
		p := c.byName[pref.Name]
		if p == nil || chosen[pref.Name] != i {
			continue
		}
		for j := range p.Spec.Components {
			comp := &p.Spec.Components[j]
			if comp.Manifests {
				continue
			}
			r, variant, prefix := chosenRelease(comp, pref.Values[comp.Name])
			if r == nil || r.Chart == nil {
				continue // an unknown variant is reported on its own
			}
			what := fmt.Sprintf("component %s of platform %s (chart %s %s", comp.Name, p.Metadata.Name, r.Chart.Name, r.Chart.Version)
			if variant != "" {
				what = fmt.Sprintf("component %s of platform %s (variant %s: chart %s %s", comp.Name, p.Metadata.Name, variant, r.Chart.Name, r.Chart.Version)
			}
			ref := componentRef{p, j}
			src := ref.pos(prefix + "kubernetes")
			if r.Retired != "" {
				d := fmt.Sprintf("spec.platforms[%d].name", i)
				if variant != "" && pref.Values[comp.Name][comp.Select] != nil {
					d = fmt.Sprintf("spec.platforms[%d].values.%s.%s", i, comp.Name, comp.Select)
				}
				out = append(out, warning(cl.Pos.Of(d), RuleRetired, "%s) is retired upstream: %s", what, r.Retired))
			}
			k := r.Kubernetes
			if k == nil || !known {
				continue
			}
			lo, hasMin := minorOf(k.Min)
			hi, hasMax := minorOf(k.Max)
			switch {
			case hasMin && minor < lo:
				rng := "from " + k.Min
				if hasMax {
					rng = k.Min + " to " + k.Max
				}
				out.Add(at, RuleKubernetesSupport, "%s) supports Kubernetes %s (%s:%d), not %s: upgrade the cluster to %s or newer, or remove platform %s", what, rng, p.File, src.Line, cl.Spec.KubernetesVersion, k.Min, p.Metadata.Name)
			case hasMax && minor > hi && k.Newer == NewerWarn:
				out = append(out, warning(at, RuleKubernetesSupport, "%s) is supported upstream up to Kubernetes %s (%s:%d), not yet %s: upstream says newer minors rely on Kubernetes' compatibility; watch it, and update the pin once a release supports 1.%d", what, k.Max, p.File, src.Line, cl.Spec.KubernetesVersion, minor))
			case hasMax && minor > hi:
				out.Add(at, RuleKubernetesSupport, "%s) supports Kubernetes %s to %s (%s:%d), not %s: keep the cluster at %s or older until the catalogue pins a release that supports 1.%d", what, k.Min, k.Max, p.File, src.Line, cl.Spec.KubernetesVersion, k.Max, minor)
			}
		}
	}
	return out
}

func warning(pos diag.Pos, rule, format string, args ...any) diag.Diagnostic {
	return diag.Diagnostic{Pos: pos, Rule: rule, Message: diag.Inline(fmt.Sprintf(format, args...)), Severity: diag.Warning}
}
