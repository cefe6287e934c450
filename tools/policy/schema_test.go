package policy

import (
	"bytes"
	"os"
	"testing"
)

const schemaFile = "../../policies/schema.json"

// TestSchemaCommitted: policies/schema.json is what Schema generates.
// go test ./tools/policy -run TestSchemaCommitted -update rewrites it.
func TestSchemaCommitted(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("policies/schema.json is stale: run go test ./tools/policy -run TestSchemaCommitted -update")
	}
}
