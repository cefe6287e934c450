package policy

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
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
			if err := parseCertificates(ca.PEM); err != nil {
				out.Add(at(fmt.Sprintf("spec.nodes.trustedCAs[%d].pem", i)), "policy.trusted-ca", "trusted CA %s is not PEM-encoded certificates (%v): paste the CA's -----BEGIN CERTIFICATE----- blocks, nothing else (a private key never belongs here)", ca.Name, err)
			}
		}
	}
	for _, s := range fleet.Sites {
		if s.Spec.Nodes != nil {
			check(&s.Spec.Nodes.NodeSettings, s.Pos.Of)
		}
		for _, c := range s.Clusters {
			check(c.Spec.Nodes, c.Pos.Of)
		}
	}
	return out
}

// parseCertificates accepts PEM text of one or more CERTIFICATE blocks
// that crypto/x509 parses, and nothing else.
func parseCertificates(text string) error {
	rest := []byte(text)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("block %d is a %s", n, b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("block %d: %v", n, err)
		}
	}
	switch {
	case n == 0:
		return fmt.Errorf("no PEM block")
	case len(trimSpace(rest)) > 0:
		return fmt.Errorf("text after the last block")
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
