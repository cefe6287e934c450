package bootstrap

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// withSecretValues returns the release with its ValuesFrom resolved from
// the Secrets of namespace on c, over a copy of its values.
func withSecretValues(ctx context.Context, c ctrlclient.Client, namespace string, a AddonRelease) (AddonRelease, error) {
	if len(a.ValuesFrom) == 0 {
		return a, nil
	}
	values := normalize(a.Values)
	for _, vf := range a.ValuesFrom {
		var s corev1.Secret
		if err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: namespace, Name: vf.SecretName}, &s); err != nil {
			return a, fmt.Errorf("values from Secret %s/%s: %w", namespace, vf.SecretName, err)
		}
		v, ok := s.Data[vf.Key]
		if !ok {
			return a, fmt.Errorf("values from Secret %s/%s: it has no key %q", namespace, vf.SecretName, vf.Key)
		}
		if vf.TargetPath == "" {
			// A values document: Flux merges it under the release's own
			// values, which win.
			var doc map[string]any
			if err := yaml.Unmarshal(v, &doc); err != nil {
				return a, fmt.Errorf("values from Secret %s/%s: key %q is not a YAML map of values", namespace, vf.SecretName, vf.Key)
			}
			values = mergeValues(normalize(doc), values)
			continue
		}
		if err := setValuePath(values, vf.TargetPath, string(v)); err != nil {
			return a, fmt.Errorf("values from Secret %s/%s: %w", namespace, vf.SecretName, err)
		}
	}
	a.Values = values
	return a, nil
}

// mergeValues deep-merges over into base, as Helm and Flux merge values:
// maps key by key, anything else replaced.
func mergeValues(base, over map[string]any) map[string]any {
	for k, v := range over {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := base[k].(map[string]any); ok {
				base[k] = mergeValues(bm, om)
				continue
			}
		}
		base[k] = v
	}
	return base
}

// setValuePath sets a string at a dotted path of maps ("secret.data.cloud\.conf"),
// creating the maps on the way. List indexes are not supported.
func setValuePath(values map[string]any, path, value string) error {
	if path == "" || strings.ContainsAny(path, "[]") {
		return fmt.Errorf("target path %q: only dotted map keys are supported", path)
	}
	var keys []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path) && path[i+1] == '.':
			cur.WriteByte('.')
			i++
		case path[i] == '.':
			keys = append(keys, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(path[i])
		}
	}
	keys = append(keys, cur.String())
	m := values
	for _, k := range keys[:len(keys)-1] {
		if k == "" {
			return fmt.Errorf("target path %q has an empty key", path)
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = value
	return nil
}
