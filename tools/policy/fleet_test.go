package policy

import (
	"os"
	"testing"

	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/source"
)

// TestExampleFleet: validate is clean on the example fleet in clusters/.
func TestExampleFleet(t *testing.T) {
	root := source.Worktree("../..")
	fleet, err := load.Load(root)
	if err != nil {
		t.Fatalf("loading the example fleet: %v", err)
	}
	got, err := Validate(t.Context(), fleet, DefaultOptions(root, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Errorf("validate is not clean on clusters/:\n%s", Format(got, FormatText))
	}
	_ = os.Getenv
}
