package resolve

import (
	"net/url"
	"sort"
	"strings"

	"github.com/capiform/capiform/tools/api/v1alpha1"
)

// ServiceDomain is the cluster's DNS domain: Cluster API's default, which
// the chart does not change.
const ServiceDomain = "cluster.local"

// InstanceMetadataAddress is the OpenStack metadata service's link-local
// address: cloud-init and the cloud controller reach it directly.
const InstanceMetadataAddress = "169.254.169.254"

// NodeConfigValues is the chart's nodeConfig value: what every machine
// is set up with before kubeadm runs.
type NodeConfigValues struct {
	// RegistryMirrors are the containerd hosts.toml files, one per
	// registry, sorted by registry.
	RegistryMirrors []RegistryMirrorValues `json:"registryMirrors,omitempty"`
	// RegistryCredentialsSecret is the dockerconfigjson Secret of the
	// kubelet's pull credentials.
	RegistryCredentialsSecret string `json:"registryCredentialsSecret,omitempty"`
	// ImageRepository is kubeadm's imageRepository.
	ImageRepository string `json:"imageRepository,omitempty"`
	// TrustedCAs are the CAs installed in the system trust store, sorted
	// by name.
	TrustedCAs []TrustedCAValues `json:"trustedCAs,omitempty"`
	// Proxy is the proxy of containerd, the kubelet and the control plane
	// components.
	Proxy *ProxyValues `json:"proxy,omitempty"`
}

// RegistryMirrorValues is one registry's hosts.toml.
type RegistryMirrorValues struct {
	// Registry is the folder name under /etc/containerd/certs.d.
	Registry string `json:"registry"`
	// Server is the registry's own URL, tried after the mirrors; empty
	// for _default.
	Server string `json:"server,omitempty"`
	// Mirrors are the hosts tried first, in order.
	Mirrors []MirrorHost `json:"mirrors"`
}

// MirrorHost is one [host."URL"] table of a hosts.toml.
type MirrorHost struct {
	URL string `json:"url"`
	// OverridePath: the URL's path is the API root (containerd appends no
	// /v2).
	OverridePath bool `json:"overridePath,omitempty"`
}

// TrustedCAValues is one CA file.
type TrustedCAValues struct {
	Name   string                 `json:"name"`
	PEM    string                 `json:"pem,omitempty"`
	Secret *v1alpha1.SecretKeyRef `json:"secret,omitempty"`
}

// ProxyValues is the chart's nodeConfig.proxy value.
type ProxyValues struct {
	HTTP  string `json:"http,omitempty"`
	HTTPS string `json:"https,omitempty"`
	// NoProxy is the comma-separated list, the cluster's own networks
	// included; the API server's endpoint is added on the machine.
	NoProxy string `json:"noProxy"`
}

// The cloud's private CA (spec.cloud.privateCA): key CloudCAKey of the
// credentials Secret, which the OpenStack provider reads, becomes the
// trusted CA CloudCAName of every machine, at CloudCAFile, where the cloud
// controller and Cinder CSI read it through CloudCADir.
const (
	CloudCAName = "openstack-cloud"
	CloudCAKey  = "cacert"
	// CloudCADir is the folder of the machines' trusted CA files (the
	// chart's nodeConfig.trustedCAs); CloudCAFile the cloud's.
	CloudCADir  = "/usr/local/share/ca-certificates"
	CloudCAFile = CloudCADir + "/" + CloudCAName + ".crt"
)

// EffectiveNodeSettings are a cluster's node settings over its site's:
// mirrors replace the site's per registry, CAs per name, the proxy and
// the registry settings field by field. With spec.cloud.privateCA the
// cloud's CA is one of the trusted CAs (CloudCAName).
func EffectiveNodeSettings(site v1alpha1.SiteSpec, c v1alpha1.ClusterSpec) v1alpha1.NodeSettings {
	var s, own v1alpha1.NodeSettings
	if site.Nodes != nil {
		s = site.Nodes.NodeSettings
	}
	if c.Nodes != nil {
		own = *c.Nodes
	}
	out := v1alpha1.NodeSettings{}
	// Registries.
	if s.Registries != nil || own.Registries != nil {
		var sr, cr v1alpha1.Registries
		if s.Registries != nil {
			sr = *s.Registries
		}
		if own.Registries != nil {
			cr = *own.Registries
		}
		mirrors := map[string]v1alpha1.RegistryMirror{}
		for _, m := range sr.Mirrors {
			mirrors[m.Registry] = m
		}
		for _, m := range cr.Mirrors {
			mirrors[m.Registry] = m
		}
		r := &v1alpha1.Registries{
			CredentialsSecret: or(cr.CredentialsSecret, sr.CredentialsSecret),
			ImageRepository:   or(cr.ImageRepository, sr.ImageRepository),
		}
		for _, k := range sortedMapKeys(mirrors) {
			r.Mirrors = append(r.Mirrors, mirrors[k])
		}
		out.Registries = r
	}
	// Trusted CAs.
	cas := map[string]v1alpha1.TrustedCA{}
	for _, ca := range s.TrustedCAs {
		cas[ca.Name] = ca
	}
	for _, ca := range own.TrustedCAs {
		cas[ca.Name] = ca
	}
	if site.Cloud.PrivateCA {
		// The cloud's CA, from the credentials (policy keeps the name
		// for it).
		cas[CloudCAName] = v1alpha1.TrustedCA{Name: CloudCAName, Secret: &v1alpha1.SecretKeyRef{Name: site.Cloud.CredentialsSecret, Key: CloudCAKey}}
	}
	for _, k := range sortedMapKeys(cas) {
		out.TrustedCAs = append(out.TrustedCAs, cas[k])
	}
	// Proxy.
	if s.Proxy != nil || own.Proxy != nil {
		var sp, cp v1alpha1.Proxy
		if s.Proxy != nil {
			sp = *s.Proxy
		}
		if own.Proxy != nil {
			cp = *own.Proxy
		}
		p := &v1alpha1.Proxy{HTTP: or(cp.HTTP, sp.HTTP), HTTPS: or(cp.HTTPS, sp.HTTPS), NoProxy: sp.NoProxy}
		if cp.NoProxy != nil {
			p.NoProxy = cp.NoProxy
		}
		out.Proxy = p
	}
	out.Kubelet = mergeKubelet(s.Kubelet, own.Kubelet)
	return out
}

// nodeConfig resolves the chart's nodeConfig value; nil when the site and
// the cluster set nothing.
func nodeConfig(site v1alpha1.SiteSpec, c v1alpha1.ClusterSpec, net NetworkingValues) *NodeConfigValues {
	eff := EffectiveNodeSettings(site, c)
	out := &NodeConfigValues{}
	if r := eff.Registries; r != nil {
		out.RegistryCredentialsSecret = r.CredentialsSecret
		out.ImageRepository = r.ImageRepository
		for _, m := range r.Mirrors {
			rv := RegistryMirrorValues{Registry: m.Registry, Server: RegistryServer(m.Registry)}
			for _, e := range m.Endpoints {
				rv.Mirrors = append(rv.Mirrors, MirrorHost{URL: e, OverridePath: hasPath(e)})
			}
			out.RegistryMirrors = append(out.RegistryMirrors, rv)
		}
	}
	for _, ca := range eff.TrustedCAs {
		out.TrustedCAs = append(out.TrustedCAs, TrustedCAValues{Name: ca.Name, PEM: ca.PEM, Secret: ca.Secret})
	}
	if p := eff.Proxy; p != nil && (p.HTTP != "" || p.HTTPS != "") {
		out.Proxy = &ProxyValues{HTTP: p.HTTP, HTTPS: p.HTTPS, NoProxy: strings.Join(NoProxy(p.NoProxy, net), ",")}
	}
	if out.RegistryMirrors == nil && out.RegistryCredentialsSecret == "" && out.ImageRepository == "" && out.TrustedCAs == nil && out.Proxy == nil {
		return nil
	}
	return out
}

// RegistryServer is the URL containerd falls back to after a registry's
// mirrors: Docker Hub's API host for docker.io (containerd's own
// mapping), https://<registry> otherwise, none for _default.
func RegistryServer(registry string) string {
	switch registry {
	case "_default":
		return ""
	case "docker.io":
		return "https://registry-1.docker.io"
	}
	return "https://" + registry
}

// hasPath is true for a URL with a path beyond "/": containerd then takes
// the path as the API root (override_path) instead of appending /v2.
func hasPath(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && strings.Trim(u.Path, "/") != ""
}

// NoProxy is the no-proxy list of a cluster: the operator's entries, then
// what the cluster reaches directly: localhost, the instance metadata
// service, its pod, service and node networks and its service domain. The
// API server's endpoint is only known on the machine, which adds it.
func NoProxy(own []string, net NetworkingValues) []string {
	out := append([]string{}, own...)
	out = append(out, "localhost", "127.0.0.1", "::1", InstanceMetadataAddress)
	out = append(out, net.PodCIDRs...)
	out = append(out, net.ServiceCIDRs...)
	if net.NodeCIDR != "" {
		out = append(out, net.NodeCIDR)
	}
	out = append(out, ".svc", ServiceDomain)
	seen := map[string]bool{}
	uniq := out[:0]
	for _, n := range out {
		if !seen[n] {
			seen[n] = true
			uniq = append(uniq, n)
		}
	}
	return uniq
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mergeKubelet is over's fields over base's: eviction thresholds signal by
// signal, the configuration patch as a JSON merge patch (RFC 7386) of
// base's.
func mergeKubelet(base, over *v1alpha1.Kubelet) *v1alpha1.Kubelet {
	if base == nil && over == nil {
		return nil
	}
	var b, o v1alpha1.Kubelet
	if base != nil {
		b = *base
	}
	if over != nil {
		o = *over
	}
	out := &v1alpha1.Kubelet{
		SystemReserved: mergeReserved(b.SystemReserved, o.SystemReserved),
		KubeReserved:   mergeReserved(b.KubeReserved, o.KubeReserved),
		MaxPods:        b.MaxPods,
	}
	if o.MaxPods != nil {
		out.MaxPods = o.MaxPods
	}
	if len(b.EvictionHard)+len(o.EvictionHard) > 0 {
		out.EvictionHard = map[string]string{}
		for k, v := range b.EvictionHard {
			out.EvictionHard[k] = v
		}
		for k, v := range o.EvictionHard {
			out.EvictionHard[k] = v
		}
	}
	if b.ConfigPatch != nil || o.ConfigPatch != nil {
		out.ConfigPatch, _ = mergePatch(b.ConfigPatch, o.ConfigPatch).(map[string]any)
	}
	return out
}

func mergeReserved(base, over *v1alpha1.Reserved) *v1alpha1.Reserved {
	if base == nil && over == nil {
		return nil
	}
	out := &v1alpha1.Reserved{}
	for _, r := range []*v1alpha1.Reserved{base, over} {
		if r == nil {
			continue
		}
		if r.CPUMillis != nil {
			out.CPUMillis = r.CPUMillis
		}
		if r.MemoryMiB != nil {
			out.MemoryMiB = r.MemoryMiB
		}
		if r.EphemeralStorageGiB != nil {
			out.EphemeralStorageGiB = r.EphemeralStorageGiB
		}
	}
	return out
}

// mergePatch applies the JSON merge patch over to doc (RFC 7386): objects
// merge key by key, null removes a key, anything else replaces.
func mergePatch(doc, over any) any {
	om, ok := over.(map[string]any)
	if !ok {
		return over
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	out := map[string]any{}
	for k, v := range dm {
		out[k] = v
	}
	for k, v := range om {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}
