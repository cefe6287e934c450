package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/about"
)

// TestVersion: text and JSON say the same: the module version and the
// chart and policy versions the binary carries.
func TestVersion(t *testing.T) {
	want, err := about.Read()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "version")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, line := range []string{
		"capiform " + want.Version,
		"chart    openstack-cluster " + want.Charts[0].Version,
		"policies " + want.Policies.Version + " (" + want.Policies.Digest + ")",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("text output lacks %q:\n%s", line, out)
		}
	}
	code, out, errOut = run(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var got about.Info
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Version != want.Version || got.Charts[0] != want.Charts[0] || got.Policies != want.Policies {
		t.Errorf("json = %+v, want %+v", got, want)
	}
	if code, _, _ := run(t, "version", "-o", "yaml"); code != ExitCantRun {
		t.Errorf("-o yaml: exit %d, want 2", code)
	}
}
