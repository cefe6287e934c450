package diff

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// KeepPolicy is the annotation with which Helm keeps an object that leaves
// the release.
const (
	ResourcePolicyAnnotation = "helm.sh/resource-policy"
	ResourcePolicyKeep       = "keep"
)

// ObjectKey identifies an object.
type ObjectKey struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String is kind/namespace/name.
func (k ObjectKey) String() string {
	if k.Namespace == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Namespace + "/" + k.Name
}

func (k ObjectKey) less(o ObjectKey) bool {
	if k.Kind != o.Kind {
		return kindRank(k.Kind) < kindRank(o.Kind) || (kindRank(k.Kind) == kindRank(o.Kind) && k.Kind < o.Kind)
	}
	if k.Namespace != o.Namespace {
		return k.Namespace < o.Namespace
	}
	if k.Name != o.Name {
		return k.Name < o.Name
	}
	return k.APIVersion < o.APIVersion
}

// kindRank puts the objects a reviewer reads first at the top.
func kindRank(kind string) int {
	for i, k := range []string{"Cluster", "OpenStackCluster", "KubeadmControlPlane", "MachineDeployment", "OpenStackMachineTemplate", "KubeadmConfigTemplate", "MachineHealthCheck", "HelmRelease"} {
		if k == kind {
			return i
		}
	}
	return 100
}

func keyOf(o *unstructured.Unstructured) ObjectKey {
	return ObjectKey{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// ObjectChange is an object added, removed, kept or changed.
type ObjectChange struct {
	ObjectKey
	Action Action `json:"action"`
	// Fields are the changed fields of a changed object; Secret values are
	// redacted.
	Fields []FieldChange `json:"fields,omitempty"`
	// Keys are the data keys of an added or removed Secret (never values).
	Keys []string `json:"keys,omitempty"`
}

// objectSet indexes objects by key.
type objectSet map[ObjectKey]*unstructured.Unstructured

func newObjectSet(objs []*unstructured.Unstructured) objectSet {
	s := make(objectSet, len(objs))
	for _, o := range objs {
		s[keyOf(o)] = o
	}
	return s
}

// get returns the object of a kind and name (any apiVersion), or nil.
func (s objectSet) get(kind, namespace, name string) *unstructured.Unstructured {
	var found *unstructured.Unstructured
	for k, o := range s {
		if k.Kind == kind && k.Name == name && (namespace == "" || k.Namespace == namespace) {
			if found == nil || keyOf(o).APIVersion < keyOf(found).APIVersion {
				found = o
			}
		}
	}
	return found
}

// ofKind returns the objects of a kind, sorted by name.
func (s objectSet) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for k, o := range s {
		if k.Kind == kind {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return keyOf(out[i]).less(keyOf(out[j])) })
	return out
}

// compareObjects compares two object sets object by object.
func compareObjects(old, cur objectSet) []ObjectChange {
	keys := map[ObjectKey]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range cur {
		keys[k] = true
	}
	var out []ObjectChange
	for k := range keys {
		a, b := old[k], cur[k]
		switch {
		case a == nil:
			c := ObjectChange{ObjectKey: k, Action: Added}
			if isSecret(b) {
				c.Keys = secretKeys(b)
			}
			out = append(out, c)
		case b == nil:
			c := ObjectChange{ObjectKey: k, Action: Removed}
			if a.GetAnnotations()[ResourcePolicyAnnotation] == ResourcePolicyKeep {
				c.Action = Kept
			}
			if isSecret(a) {
				c.Keys = secretKeys(a)
			}
			out = append(out, c)
		default:
			fields := compareFields("", strip(a.Object), strip(b.Object))
			if len(fields) == 0 {
				continue
			}
			if isSecret(a) || isSecret(b) {
				fields = redact(fields)
			}
			out = append(out, ObjectChange{ObjectKey: k, Action: Changed, Fields: fields})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].less(out[j].ObjectKey) })
	return out
}

// strip drops the fields that identify the object (they are its key) and
// the server-owned ones.
func strip(o map[string]any) map[string]any {
	out := make(map[string]any, len(o))
	for k, v := range o {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			m, ok := v.(map[string]any)
			if !ok {
				out[k] = v
				continue
			}
			mm := make(map[string]any, len(m))
			for mk, mv := range m {
				switch mk {
				case "name", "namespace", "creationTimestamp", "resourceVersion", "uid", "generation", "managedFields":
					continue
				}
				mm[mk] = mv
			}
			out[k] = mm
		default:
			out[k] = v
		}
	}
	return out
}

// summary is a one-line description of an object change.
func (c ObjectChange) summary() string {
	switch c.Action {
	case Changed:
		return fmt.Sprintf("~ %s (%d field(s))", c.ObjectKey, len(c.Fields))
	case Added:
		return "+ " + c.ObjectKey.String()
	case Removed:
		return "- " + c.ObjectKey.String()
	case Kept:
		return "= " + c.ObjectKey.String() + " (kept: helm.sh/resource-policy: keep)"
	}
	return c.ObjectKey.String()
}
