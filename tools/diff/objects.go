package diff

import (
	"fmt"
	"slices"
	"sort"
	"strings"

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
	// CredentialsChanged are the keys of a SOPS-encrypted Secret whose
	// ciphertext changed: without the key, a new value and the same value
	// encrypted again look alike, and neither is ever shown.
	CredentialsChanged []string `json:"credentialsChanged,omitempty"`
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
			if isEncrypted(a) || isEncrypted(b) {
				if c, ok := compareEncrypted(k, a, b); ok {
					out = append(out, c)
				}
				continue
			}
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
		if len(c.CredentialsChanged) > 0 {
			return fmt.Sprintf("~ %s (%d field(s); credentials changed: %s)", c.ObjectKey, len(c.Fields), strings.Join(c.CredentialsChanged, ", "))
		}
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

// isEncrypted reports whether the object is a SOPS-encrypted Secret.
func isEncrypted(o *unstructured.Unstructured) bool {
	_, ok := o.Object["sops"]
	return isSecret(o) && ok
}

// compareEncrypted compares two versions of a SOPS-encrypted Secret by
// ciphertext, value by value: each value that changed is a credential
// change, redacted; the SOPS metadata (a new MAC and date with every
// encryption) counts only for its recipients, which are public keys.
func compareEncrypted(k ObjectKey, a, b *unstructured.Unstructured) (ObjectChange, bool) {
	c := ObjectChange{ObjectKey: k, Action: Changed}
	if !isEncrypted(a) || !isEncrypted(b) {
		// Encrypted on one side only: every value changed.
		c.CredentialsChanged = append(secretKeys(a), secretKeys(b)...)
		slices.Sort(c.CredentialsChanged)
		c.CredentialsChanged = slices.Compact(c.CredentialsChanged)
		for _, key := range c.CredentialsChanged {
			c.Fields = append(c.Fields, FieldChange{Path: key, Action: Changed, Old: Redacted, New: Redacted})
		}
		return c, true
	}
	va, vb := encryptedValues(a), encryptedValues(b)
	keys := map[string]bool{}
	for key := range va {
		keys[key] = true
	}
	for key := range vb {
		keys[key] = true
	}
	for _, key := range sortedKeys(keys) {
		x, inA := va[key]
		y, inB := vb[key]
		switch {
		case !inA:
			c.Fields = append(c.Fields, FieldChange{Path: key, Action: Added, New: Redacted})
		case !inB:
			c.Fields = append(c.Fields, FieldChange{Path: key, Action: Removed, Old: Redacted})
		case x != y:
			c.Fields = append(c.Fields, FieldChange{Path: key, Action: Changed, Old: Redacted, New: Redacted})
		default:
			continue
		}
		c.CredentialsChanged = append(c.CredentialsChanged, key)
	}
	if ra, rb := recipients(a), recipients(b); ra != rb {
		c.Fields = append(c.Fields, FieldChange{Path: "sops.age[].recipient", Action: Changed, Old: ra, New: rb})
	}
	rest := compareFields("", stripEncrypted(a.Object), stripEncrypted(b.Object))
	c.Fields = append(c.Fields, redact(rest)...)
	return c, len(c.Fields) > 0
}

// encryptedValues maps data.<key> and stringData.<key> to their
// ciphertext.
func encryptedValues(o *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, f := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedMap(o.Object, f)
		for key, v := range m {
			out[f+"."+key] = fmt.Sprint(v)
		}
	}
	return out
}

// recipients lists the age recipients of an encrypted Secret, sorted.
func recipients(o *unstructured.Unstructured) string {
	ages, _, _ := unstructured.NestedSlice(o.Object, "sops", "age")
	var rs []string
	for _, a := range ages {
		if m, ok := a.(map[string]any); ok {
			rs = append(rs, fmt.Sprint(m["recipient"]))
		}
	}
	slices.Sort(rs)
	return strings.Join(rs, ",")
}

// stripEncrypted is strip without the values and SOPS metadata, compared
// on their own.
func stripEncrypted(o map[string]any) map[string]any {
	out := strip(o)
	delete(out, "data")
	delete(out, "stringData")
	delete(out, "sops")
	return out
}
