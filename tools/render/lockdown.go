package render

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// crossRefFields are, per Flux kind, the lists and fields of references
// that may name a namespace and that Flux's --no-cross-namespace-refs
// refuses when it is not the object's own. Every other reference of these
// kinds (valuesFrom, decryption, kubeConfig, secretRef, providerRef) has no
// namespace and is always the object's.
var crossRefFields = map[string][][]string{
	"kustomize.toolkit.fluxcd.io/Kustomization": {
		{"spec", "sourceRef"},
		{"spec", "dependsOn", "[]"},
	},
	"helm.toolkit.fluxcd.io/HelmRelease": {
		{"spec", "chart", "spec", "sourceRef"},
		{"spec", "chartRef"},
		{"spec", "dependsOn", "[]"},
	},
	"notification.toolkit.fluxcd.io/Alert": {
		{"spec", "eventSources", "[]"},
	},
	"notification.toolkit.fluxcd.io/Receiver": {
		{"spec", "resources", "[]"},
	},
}

// CrossNamespaceRefs lists every reference of a built tree (the objects of
// each folder, as BuildAll gives them) that names another namespace than
// its object's, which Flux refuses under --no-cross-namespace-refs=true:
// one line each, as folder: Kind namespace/name: field -> namespace/name,
// sorted.
func CrossNamespaceRefs(built map[string][]*unstructured.Unstructured) []string {
	var out []string
	for dir, objs := range built {
		for _, o := range objs {
			fields := crossRefFields[o.GroupVersionKind().Group+"/"+o.GetKind()]
			for _, f := range fields {
				for _, ref := range refsAt(o.Object, f) {
					ns, _ := ref["namespace"].(string)
					if ns == "" || ns == o.GetNamespace() {
						continue
					}
					name, _ := ref["name"].(string)
					out = append(out, fmt.Sprintf("%s: %s %s/%s: %s -> %s/%s: refers to another namespace, which Flux refuses under --no-cross-namespace-refs",
						folder(dir), o.GetKind(), o.GetNamespace(), o.GetName(), fieldPath(f), ns, name))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// MissingServiceAccounts lists every Kustomization and HelmRelease of a
// built tree that acts on the management cluster (it has no kubeConfig)
// without naming a ServiceAccount: under the lockdown each must, or it
// runs as the controller (or as --default-service-account).
func MissingServiceAccounts(built map[string][]*unstructured.Unstructured) []string {
	var out []string
	for dir, objs := range built {
		for _, o := range objs {
			switch o.GroupVersionKind().Group + "/" + o.GetKind() {
			case "kustomize.toolkit.fluxcd.io/Kustomization", "helm.toolkit.fluxcd.io/HelmRelease":
			default:
				continue
			}
			if _, remote, _ := unstructured.NestedMap(o.Object, "spec", "kubeConfig"); remote {
				// Its account would be impersonated on the workload
				// cluster, not here.
				continue
			}
			if sa, _, _ := unstructured.NestedString(o.Object, "spec", "serviceAccountName"); sa == "" {
				out = append(out, fmt.Sprintf("%s: %s %s/%s: no spec.serviceAccountName: under the lockdown it would run with the controller's rights",
					folder(dir), o.GetKind(), o.GetNamespace(), o.GetName()))
			}
		}
	}
	sort.Strings(out)
	return out
}

func folder(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

func fieldPath(f []string) string {
	p := ""
	for _, k := range f {
		if k == "[]" {
			p += "[]"
			continue
		}
		if p != "" {
			p += "."
		}
		p += k
	}
	return p
}

// refsAt returns the maps at a field path, "[]" stepping into each element
// of a list.
func refsAt(v any, path []string) []map[string]any {
	if len(path) == 0 {
		if m, ok := v.(map[string]any); ok {
			return []map[string]any{m}
		}
		return nil
	}
	if path[0] == "[]" {
		l, _ := v.([]any)
		var out []map[string]any
		for _, e := range l {
			out = append(out, refsAt(e, path[1:])...)
		}
		return out
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	return refsAt(m[path[0]], path[1:])
}
