package platform

import "github.com/capiform/capiform/tools/load"

// KubeProxyReplaced reports whether a cluster asks Cilium to replace
// kube-proxy: platform base with values {cni: {provider: cilium,
// kubeProxyReplacement: true}}. Such a cluster must not get kubeadm's
// kube-proxy addon, which is the openstack-cluster chart's to skip; this is
// the one place that reads the choice, so that the chart's value and the
// Cilium release cannot disagree.
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
