// Package pemcert reads PEM text that must hold certificates and nothing
// else: a site's trusted CAs, a cloud's CA bundle.
package pemcert

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// Check accepts PEM text of one or more CERTIFICATE blocks that
// crypto/x509 parses, and nothing else. Its errors never quote the text.
func Check(text []byte) error {
	rest := text
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
	case len(bytes.TrimSpace(rest)) > 0:
		return fmt.Errorf("text after the last block")
	}
	return nil
}
