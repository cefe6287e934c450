package platform

import (
	"fmt"
	"slices"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

// RuleProvides is the rule of a component's provides as written.
const RuleProvides = "platform.provides"

// checkProvides checks a release's provides as written: each piece is
// named like a Kubernetes object and points at a value path that the
// release's own values set to a boolean, so that whether the chart
// deploys the piece is known without the chart's values.yaml.
func checkProvides(ref componentRef, prefix string, r *Release, errs *diag.List) {
	name := ref.component().Name
	for _, piece := range sortedKeys(r.Provides) {
		at := ref.pos(prefix + "provides." + piece)
		path := r.Provides[piece]
		if !load.IsDNSLabel(piece) {
			errs.Add(at, RuleProvides, "piece %q that %s provides is not a DNS label: name it like node-feature-discovery", piece, name)
		}
		steps, err := parsePath(path)
		if err != nil {
			errs.Add(at, RuleProvides, "provides.%s of %s: %v", piece, name, err)
			continue
		}
		if _, ok := valueAt(r.Values, steps).(bool); !ok {
			errs.Add(at, RuleProvides, "%s provides %s at %s, but its values do not set %s to true or false: write the chart's default there", name, piece, path, path)
		}
	}
}

// shareProvided makes every piece that several of a cluster's releases
// provide run once: in install order, the first release that has the
// piece on keeps it; every later one gets it turned off at its value path
// and depends on the keeper, so that what it deploys against the piece
// (objects of the piece's CRDs) waits for it. A release whose values turn
// the piece off (a cluster's override) neither keeps nor loses it, so a
// cluster chooses the provider by turning the others off. addons is in
// install order; the result is too.
func shareProvided(addons []Addon) ([]Addon, error) {
	keeper := map[string]string{} // piece -> component
	changed := false
	for i := range addons {
		a := &addons[i]
		for _, piece := range sortedKeys(a.Provides) {
			steps, err := parsePath(a.Provides[piece])
			if err != nil {
				continue // the catalogue refuses it
			}
			if on, ok := valueAt(a.Values, steps).(bool); ok && !on {
				continue
			}
			k, ok := keeper[piece]
			if !ok {
				keeper[piece] = a.Component
				continue
			}
			if a.Values == nil {
				a.Values = map[string]any{}
			}
			if err := setPath(a.Values, steps, false); err != nil {
				return nil, fmt.Errorf("component %s: %s runs once, from %s, but %s cannot be turned off at %s: %v", a.Component, piece, k, a.Component, a.Provides[piece], err)
			}
			if !slices.Contains(a.DependsOn, k) {
				a.DependsOn = append(a.DependsOn, k)
				slices.Sort(a.DependsOn)
			}
			changed = true
		}
	}
	if !changed {
		return addons, nil
	}
	byName := make(map[string]Addon, len(addons))
	for _, a := range addons {
		byName[a.Component] = a
	}
	return installOrder(byName), nil
}

// valueAt returns the value at a value path, or nil where the path leads
// nowhere.
func valueAt(v any, path []step) any {
	for _, s := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[s.key]
		for _, ix := range s.index {
			l, ok := v.([]any)
			if !ok || ix >= len(l) {
				return nil
			}
			v = l[ix]
		}
	}
	return v
}
