package policy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// TestShareProtocolsInStep: the share protocols policy.share-protocol
// accepts (#shareProtocols) are the ones the storage platform turns on by
// default, so that a cluster that writes no shareProtocols is judged by
// what it gets.
func TestShareProtocolsInStep(t *testing.T) {
	e, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	var cue []string
	if err := e.base.LookupPath(cpath("#shareProtocols")).Decode(&cue); err != nil {
		t.Fatalf("#shareProtocols: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(testrepo.Root(), "platforms", "storage", "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Spec struct {
			Components []struct {
				Name   string `yaml:"name"`
				Values struct {
					ShareProtocols []struct {
						ProtocolSelector string `yaml:"protocolSelector"`
					} `yaml:"shareProtocols"`
				} `yaml:"values"`
			} `yaml:"components"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	var platform []string
	for _, c := range p.Spec.Components {
		if c.Name == "csi-manila" {
			for _, sp := range c.Values.ShareProtocols {
				platform = append(platform, sp.ProtocolSelector)
			}
		}
	}
	slices.Sort(platform)
	if !slices.Equal(cue, platform) {
		t.Errorf("#shareProtocols = %v, csi-manila's default shareProtocols = %v: keep them the same", cue, platform)
	}
}
