package resolve

import (
	"fmt"
	"strconv"

	"github.com/capiform/capiform/tools/api/v1alpha1"
)

// Built-in audit log retention, where a cluster's audit is silent.
const (
	DefaultAuditMaxAgeDays = 30
	DefaultAuditMaxBackups = 10
	DefaultAuditMaxSizeMiB = 100
	DefaultAuditLevel      = "Metadata"
	// DefaultEncryptionProvider encrypts Secrets with XSalsa20-Poly1305,
	// the provider Kubernetes recommends among the local ones.
	DefaultEncryptionProvider = "secretbox"
)

// SecurityValues is the chart's apiServerSecurity value.
type SecurityValues struct {
	PodSecurity *v1alpha1.PodSecurity `json:"podSecurity,omitempty"`
	Audit       *AuditValues          `json:"audit,omitempty"`
	Encryption  *EncryptionValues     `json:"encryption,omitempty"`
}

// AuditValues is the chart's apiServerSecurity.audit value.
type AuditValues struct {
	Level      string `json:"level"`
	MaxAgeDays int    `json:"maxAgeDays"`
	MaxBackups int    `json:"maxBackups"`
	MaxSizeMiB int    `json:"maxSizeMiB"`
}

// EncryptionValues is the chart's apiServerSecurity.encryption value.
type EncryptionValues struct {
	Provider  string                `json:"provider"`
	KeySecret v1alpha1.SecretKeyRef `json:"keySecret"`
}

// KubeadmPatch is one entry of the chart's kubeadmPatches value: the file
// /etc/kubernetes/patches/<target>1<index><+type>.yaml.
type KubeadmPatch struct {
	Target string `json:"target"`
	Type   string `json:"type"`
	// File is the file's name in kubeadm's patches folder; kubeadm applies
	// patches of a target in the order of their names, after the chart's
	// own (suffix 0).
	File  string `json:"file"`
	Patch any    `json:"patch"`
}

// applyKubeadmSettings resolves the kubelet of the control plane and of
// every node group (site, cluster, then its own, field by field), the
// control plane's labels and taints, the API server's admission, audit and
// encryption, and the kubeadm patches.
func applyKubeadmSettings(v *Values, site v1alpha1.SiteSpec, c v1alpha1.ClusterSpec) {
	cluster := EffectiveNodeSettings(site, c).Kubelet
	v.ControlPlane.KubeletConfig = KubeletConfig(mergeKubelet(cluster, c.ControlPlane.Kubelet))
	v.ControlPlane.Labels = c.ControlPlane.Labels
	v.ControlPlane.Taints = c.ControlPlane.Taints
	for i, g := range c.NodeGroups {
		if i < len(v.NodeGroups) {
			v.NodeGroups[i].KubeletConfig = KubeletConfig(mergeKubelet(cluster, g.Kubelet))
		}
	}
	sec := security(defaults(site), c)
	if sec.PodSecurity != nil || sec.Audit != nil || sec.Encryption != nil {
		v.APIServerSecurity = sec
	}
	for i, p := range c.KubeadmPatches {
		typ := or(p.Type, "strategic")
		ext := "yaml"
		if typ == "json" {
			ext = "json"
		}
		v.KubeadmPatches = append(v.KubeadmPatches, KubeadmPatch{
			Target: p.Target,
			Type:   typ,
			File:   fmt.Sprintf("%s1%02d+%s.%s", p.Target, i, typ, ext),
			Patch:  p.Patch,
		})
	}
}

// KubeletConfig is the KubeletConfiguration merge patch of a kubelet
// setting: the typed fields, then its configPatch over them; nil when it
// sets nothing.
func KubeletConfig(k *v1alpha1.Kubelet) map[string]any {
	if k == nil {
		return nil
	}
	out := map[string]any{}
	if r := reserved(k.SystemReserved); r != nil {
		out["systemReserved"] = r
	}
	if r := reserved(k.KubeReserved); r != nil {
		out["kubeReserved"] = r
	}
	if len(k.EvictionHard) > 0 {
		m := map[string]any{}
		for s, q := range k.EvictionHard {
			m[s] = q
		}
		out["evictionHard"] = m
	}
	if k.MaxPods != nil {
		out["maxPods"] = *k.MaxPods
	}
	if k.ConfigPatch != nil {
		out, _ = mergePatch(out, k.ConfigPatch).(map[string]any)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// reserved is a Reserved as the kubelet's resource list.
func reserved(r *v1alpha1.Reserved) map[string]any {
	if r == nil {
		return nil
	}
	out := map[string]any{}
	if r.CPUMillis != nil {
		out["cpu"] = strconv.Itoa(*r.CPUMillis) + "m"
	}
	if r.MemoryMiB != nil {
		out["memory"] = strconv.Itoa(*r.MemoryMiB) + "Mi"
	}
	if r.EphemeralStorageGiB != nil {
		out["ephemeral-storage"] = strconv.Itoa(*r.EphemeralStorageGiB) + "Gi"
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// security resolves the API server's admission, audit and encryption: the
// cluster's settings over the site's clusterDefaults, field by field.
func security(d v1alpha1.ClusterDefaults, c v1alpha1.ClusterSpec) *SecurityValues {
	var ps *v1alpha1.PodSecurity
	var au *v1alpha1.Audit
	if a := c.APIServer; a != nil {
		ps, au = a.PodSecurity, a.Audit
	}
	sec := &SecurityValues{PodSecurity: mergePodSecurity(d.PodSecurity, ps)}
	if au != nil || d.Audit != nil {
		site := d.Audit
		if site == nil {
			site = &v1alpha1.Audit{}
		}
		if au == nil {
			au = &v1alpha1.Audit{}
		}
		sec.Audit = &AuditValues{
			Level:      or(au.Level, or(site.Level, DefaultAuditLevel)),
			MaxAgeDays: firstSet(au.MaxAgeDays, site.MaxAgeDays, DefaultAuditMaxAgeDays),
			MaxBackups: firstSet(au.MaxBackups, site.MaxBackups, DefaultAuditMaxBackups),
			MaxSizeMiB: firstSet(au.MaxSizeMiB, site.MaxSizeMiB, DefaultAuditMaxSizeMiB),
		}
	}
	var enc *v1alpha1.EtcdEncryption
	if c.Etcd != nil {
		enc = c.Etcd.Encryption
	}
	if enc != nil || d.Encryption != nil {
		site := d.Encryption
		if site == nil {
			site = &v1alpha1.EtcdEncryption{}
		}
		if enc == nil {
			enc = &v1alpha1.EtcdEncryption{}
		}
		key := enc.KeySecret
		if key.Name == "" {
			key = site.KeySecret
		}
		sec.Encryption = &EncryptionValues{Provider: or(enc.Provider, or(site.Provider, DefaultEncryptionProvider)), KeySecret: key}
	}
	return sec
}

// mergePodSecurity is the cluster's Pod Security defaults over the site's,
// field by field; nil when neither sets any.
func mergePodSecurity(site, cluster *v1alpha1.PodSecurity) *v1alpha1.PodSecurity {
	if site == nil {
		return cluster
	}
	if cluster == nil {
		return site
	}
	out := *site
	out.Enforce = or(cluster.Enforce, site.Enforce)
	out.Audit = or(cluster.Audit, site.Audit)
	out.Warn = or(cluster.Warn, site.Warn)
	if cluster.ExemptNamespaces != nil {
		out.ExemptNamespaces = cluster.ExemptNamespaces
	}
	return &out
}
