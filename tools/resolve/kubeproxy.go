package resolve

import "github.com/capiform/capiform/tools/load"

// KubeProxyReplaced reports whether a cluster asks Cilium to replace
// kube-proxy: platform base with values {cni: {provider: cilium,
// kubeProxyReplacement: true}}. Such a cluster must not get kubeadm's
// kube-proxy addon, which the openstack-cluster chart skips when its value
// kubeProxy.enabled is false; this is the one place that reads the choice,
// so that the chart's value and the Cilium release cannot disagree (the
// platform catalogue passes the same override to Cilium's chart).
func KubeProxyReplaced(cl *load.Cluster) bool {
	for _, p := range cl.Spec.Platforms {
		if p.Name != "base" {
			continue
		}
		cni := p.Values["cni"]
		return cni["provider"] == "cilium" && cni["kubeProxyReplacement"] == true
	}
	return false
}

// KubeProxyValues are the chart's kubeProxy values.
type KubeProxyValues struct {
	// Enabled false skips kubeadm's kube-proxy addon and KCP's management
	// of the kube-proxy DaemonSet.
	Enabled bool `json:"enabled"`
}

// kubeProxy is nil (the chart's default: kubeadm installs kube-proxy)
// unless Cilium replaces it, so that the values of every other cluster
// stay as they were.
func kubeProxy(cl *load.Cluster) *KubeProxyValues {
	if KubeProxyReplaced(cl) {
		return &KubeProxyValues{Enabled: false}
	}
	return nil
}
