package policy

import (
	"bytes"
	"encoding/json"
	"fmt"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/capiform/capiform/tools/resolve"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/pemcert"
	"github.com/capiform/capiform/tools/load"
)

// nodeChecks are the Go layer of policy.trusted-ca: CUE sees that a CA
// has the form of PEM certificates, crypto/x509 that each block really is
// one (what the machines' trust store tools will read).
func nodeChecks(fleet *load.Fleet) diag.List {
	var out diag.List
	check := func(n *v1alpha1.NodeSettings, at func(string) diag.Pos) {
		if n == nil {
			return
		}
		for i, ca := range n.TrustedCAs {
			if ca.PEM == "" {
				continue
			}
			if err := pemcert.Check([]byte(ca.PEM)); err != nil {
				out.Add(at(fmt.Sprintf("spec.nodes.trustedCAs[%d].pem", i)), "policy.trusted-ca", "trusted CA %s is not PEM-encoded certificates (%v): paste the CA's -----BEGIN CERTIFICATE----- blocks, nothing else (a private key never belongs here)", ca.Name, err)
			}
		}
	}
	kubelet := func(k *v1alpha1.Kubelet, path string, at func(string) diag.Pos) {
		if err := kubeletConfigDecodes(k); err != nil {
			out.Add(at(path+".configPatch"), "policy.kubelet-config", "the kubelet settings do not make a KubeletConfiguration (kubelet.config.k8s.io/v1beta1): %v: fix the field's name or type (the reference: kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/)", err)
		}
	}
	for _, s := range fleet.Sites {
		if s.Spec.Nodes != nil {
			check(&s.Spec.Nodes.NodeSettings, s.Pos.Of)
			kubelet(s.Spec.Nodes.Kubelet, "spec.nodes.kubelet", s.Pos.Of)
		}
		for _, c := range s.Clusters {
			check(c.Spec.Nodes, c.Pos.Of)
			if c.Spec.Nodes != nil {
				kubelet(c.Spec.Nodes.Kubelet, "spec.nodes.kubelet", c.Pos.Of)
			}
			kubelet(c.Spec.ControlPlane.Kubelet, "spec.controlPlane.kubelet", c.Pos.Of)
			for i, g := range c.Spec.NodeGroups {
				kubelet(g.Kubelet, fmt.Sprintf("spec.nodeGroups[%d].kubelet", i), c.Pos.Of)
			}
		}
	}
	return out
}

// kubeletConfigDecodes decodes the KubeletConfiguration patch a kubelet
// setting makes (its typed fields, then its configPatch) strictly into
// the kubelet's own configuration type: a misspelt field or a value of the
// wrong type, which the kubelet would refuse at boot (or kubeadm drop),
// is found before a machine is made.
func kubeletConfigDecodes(k *v1alpha1.Kubelet) error {
	if k == nil || k.ConfigPatch == nil {
		return nil
	}
	raw, err := json.Marshal(resolve.KubeletConfig(k))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var cfg kubeletv1beta1.KubeletConfiguration
	return dec.Decode(&cfg)
}
