package platform

import (
	"os"
	"testing"
)

func TestLoadRepositoryCatalogue(t *testing.T) {
	t.Parallel()
	c, err := LoadCatalogue(os.DirFS("../.."))
	if err != nil {
		t.Fatalf("LoadCatalogue: %v", err)
	}
	if c.CNI() != "cni" {
		t.Errorf("CNI() = %q, want cni", c.CNI())
	}
}
