package platform

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// Facts are what a component's values may be computed from. The set is
// fixed and every fact has a value for every cluster, so that rendering is
// a pure function of the definitions; a fact whose value is nil for a
// cluster leaves its path to the component's values.
type Facts struct {
	// ClusterName is the cluster's name.
	ClusterName string
	// SiteName is the site's name.
	SiteName string
	// PodCIDRs are the cluster's pod networks; PodCIDR is the first.
	PodCIDRs []string
	// ServiceCIDRs are the cluster's service networks; ServiceCIDR is the
	// first.
	ServiceCIDRs []string
	// KubernetesVersion is the control plane's version, like v1.36.1.
	KubernetesVersion string
	// CloudName, CloudRegion, ExternalNetworkID and AvailabilityZones are
	// the site's cloud settings.
	CloudName         string
	CloudRegion       string
	ExternalNetworkID string
	AvailabilityZones []string
	// HasGPU is true when a node group's flavor has GPUs.
	HasGPU bool
	// CloudControllerConfig is the site's part of cloud.conf as the cloud
	// controller chart's cloudConfig values ([LoadBalancer]).
	CloudControllerConfig map[string]any
	// CinderCloudConf is the site's part of Cinder CSI's cloud.conf
	// ([BlockStorage]), as the text of a second file.
	CinderCloudConf string
	// StorageClasses are the manifests of the storage classes of the
	// cluster's volume types; DefaultStorageClass is true when one of
	// them is the default.
	StorageClasses      string
	DefaultStorageClass bool
	// PrivateCA is the site's spec.cloud.privateCA: the cloud controller
	// and Cinder CSI mount the machine's trusted CA folder (cloud.go).
	PrivateCA bool
	// KubeProxy is true unless the CNI replaces kube-proxy
	// (resolve.KubeProxyReplaced), so that what scrapes or needs kube-proxy
	// follows the same choice as the cluster's chart.
	KubeProxy bool
}

// factValues maps each fact name to how it is read. It is the documented
// fact set (platforms/README.md lists it).
var factValues = map[string]func(f Facts) any{
	"clusterName":       func(f Facts) any { return f.ClusterName },
	"siteName":          func(f Facts) any { return f.SiteName },
	"podCIDR":           func(f Facts) any { return first(f.PodCIDRs) },
	"podCIDRs":          func(f Facts) any { return strs(f.PodCIDRs) },
	"serviceCIDR":       func(f Facts) any { return first(f.ServiceCIDRs) },
	"serviceCIDRs":      func(f Facts) any { return strs(f.ServiceCIDRs) },
	"kubernetesVersion": func(f Facts) any { return f.KubernetesVersion },
	"cloudName":         func(f Facts) any { return f.CloudName },
	"cloudRegion":       func(f Facts) any { return f.CloudRegion },
	"externalNetworkID": func(f Facts) any { return f.ExternalNetworkID },
	"availabilityZones": func(f Facts) any { return strs(f.AvailabilityZones) },
	"hasGPU":            func(f Facts) any { return f.HasGPU },
	// cloud.go
	"cloudControllerConfig": func(f Facts) any { return copyMap(f.CloudControllerConfig) },
	"cinderCloudConf":       func(f Facts) any { return f.CinderCloudConf },
	// Cinder CSI's chart does not restart its pods when its Secret
	// changes; a pod annotation of the file's checksum does.
	"cinderCloudConfChecksum":      func(f Facts) any { return checksum(f.CinderCloudConf) },
	"storageClasses":               func(f Facts) any { return f.StorageClasses },
	"genericStorageClassIsDefault": func(f Facts) any { return !f.DefaultStorageClass },
	"kubeProxy":                    func(f Facts) any { return f.KubeProxy },
	// cloud.go; nil (the component's own values) without a private CA.
	"cloudControllerCAVolumes":      func(f Facts) any { return caVolumes(f, cloudControllerVolumes) },
	"cloudControllerCAVolumeMounts": func(f Facts) any { return caVolumes(f, cloudControllerVolumeMounts) },
	"cloudCAVolumes":                func(f Facts) any { return caVolumes(f, cloudCAVolumes) },
	"cloudCAVolumeMounts":           func(f Facts) any { return caVolumes(f, cloudCAVolumeMounts) },
	"cloudCAFile": func(f Facts) any {
		if !f.PrivateCA {
			return nil
		}
		return caFile
	},
}

// FactNames returns the names of the facts, sorted.
func FactNames() []string {
	out := make([]string, 0, len(factValues))
	for k := range factValues {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checksum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// strs copies a list as []any so that it merges and marshals like values
// decoded from YAML.
func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// ClusterFacts gathers the facts of a cluster of a site. Its error is a
// site or cluster value that no fact can carry (policy reports each with
// its line).
func ClusterFacts(site *load.Site, cluster *load.Cluster, rel *resolve.Release) (Facts, error) {
	f := Facts{
		ClusterName:       cluster.Metadata.Name,
		SiteName:          site.Metadata.Name,
		KubernetesVersion: cluster.Spec.KubernetesVersion,
		CloudName:         or(site.Spec.Cloud.CloudName, resolve.DefaultCloudName),
		CloudRegion:       site.Spec.Cloud.Region,
		ExternalNetworkID: site.Spec.Cloud.ExternalNetworkID,
		AvailabilityZones: site.Spec.Cloud.AvailabilityZones,
		PodCIDRs:          []string{resolve.DefaultPodCIDR},
		ServiceCIDRs:      []string{resolve.DefaultServiceCIDR},
		KubeProxy:         !resolve.KubeProxyReplaced(cluster),
		PrivateCA:         site.Spec.Cloud.PrivateCA,
	}
	if rel != nil && rel.KubernetesVersion != "" {
		f.KubernetesVersion = rel.KubernetesVersion
	}
	if n := cluster.Spec.Network; n != nil {
		if len(n.PodCIDRs) > 0 {
			f.PodCIDRs = n.PodCIDRs
		}
		if len(n.ServiceCIDRs) > 0 {
			f.ServiceCIDRs = n.ServiceCIDRs
		}
	}
	if rel != nil && len(rel.PodCIDRs) > 0 {
		f.PodCIDRs = rel.PodCIDRs
	}
	gpus := map[string]bool{}
	for _, fl := range site.Spec.Flavors {
		gpus[fl.Name] = fl.GPUs > 0
	}
	for _, g := range cluster.Spec.NodeGroups {
		if gpus[g.Flavor] {
			f.HasGPU = true
		}
	}
	var err error
	if f.CloudControllerConfig, err = cloudControllerConfig(site); err != nil {
		return f, err
	}
	if f.CinderCloudConf, err = cinderCloudConf(site); err != nil {
		return f, err
	}
	if f.StorageClasses, f.DefaultStorageClass, err = storageClasses(site, cluster); err != nil {
		return f, err
	}
	return f, nil
}

// A value path is keys joined by dots, each optionally followed by list
// indexes: "installation.calicoNetwork.ipPools[0].cidr". A dot in a key is
// escaped, as in Helm's --set and Flux's targetPath: "secret.data.cloud\.conf".
var pathStep = regexp.MustCompile(`^([^\[\]]+)((?:\[\d+\])*)$`)

// splitPath splits a value path at its dots that are not escaped.
func splitPath(p string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p) && p[i+1] == '.':
			cur.WriteByte('.')
			i++
		case p[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	return append(parts, cur.String())
}

var digits = regexp.MustCompile(`\d+`)

type step struct {
	key   string
	index []int
}

func parsePath(p string) ([]step, error) {
	if p == "" {
		return nil, fmt.Errorf("empty value path")
	}
	var out []step
	for _, part := range splitPath(p) {
		m := pathStep.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("value path %q: %q is not a key optionally followed by [index]", p, part)
		}
		s := step{key: m[1]}
		for _, ix := range digits.FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(ix)
			s.index = append(s.index, n)
		}
		out = append(out, s)
	}
	return out, nil
}

// setPath sets the value at path in values, making the mappings and
// growing the lists on the way.
func setPath(values map[string]any, path []step, v any) error {
	_, err := setAt(values, path, v)
	return err
}

func setAt(cur any, path []step, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	s := path[0]
	if cur == nil {
		cur = map[string]any{}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cannot set %s: its parent is not a mapping", s.key)
	}
	child, err := setIndex(m[s.key], s.key, s.index, path[1:], v)
	if err != nil {
		return nil, err
	}
	m[s.key] = child
	return m, nil
}

func setIndex(cur any, key string, index []int, rest []step, v any) (any, error) {
	if len(index) == 0 {
		return setAt(cur, rest, v)
	}
	if cur == nil {
		cur = []any{}
	}
	l, ok := cur.([]any)
	if !ok {
		return nil, fmt.Errorf("cannot index %s: it is not a list", key)
	}
	for len(l) <= index[0] {
		l = append(l, nil)
	}
	e, err := setIndex(l[index[0]], key, index[1:], rest, v)
	if err != nil {
		return nil, err
	}
	l[index[0]] = e
	return l, nil
}

// merge deep-merges over into base: mappings merge key by key, anything
// else in over replaces what base has.
func merge(base, over map[string]any) map[string]any {
	out := copyMap(base)
	for k, v := range over {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = copyValue(v)
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return copyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyValue(e)
		}
		return out
	}
	return v
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
