package policy

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/capiform/capiform/tools/load"
)

// TestUnreadableSitePolicy: a policy.cue that is not a file is reported,
// not taken for a site without a policy.
func TestUnreadableSitePolicy(t *testing.T) {
	t.Parallel()
	fsys := generateFleet(1, 1)
	fsys["clusters/site00/policy.cue/x"] = &fstest.MapFile{Data: []byte("x")}
	fleet, err := load.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Validate(t.Context(), fleet, DefaultOptions(fsys, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Rule != "policy.site-policy" || got[0].File != "clusters/site00/policy.cue" || !strings.Contains(got[0].Message, "cannot be read") {
		t.Errorf("got %v, want one policy.site-policy at clusters/site00/policy.cue saying it cannot be read", got)
	}
}
