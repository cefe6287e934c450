package policy

import (
	"encoding/json"
	"fmt"

	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/encoding/jsonschema"
)

// Schema returns the JSON Schema (draft 2020-12) of the definition kinds,
// generated from #Definition in policies/schema.cue, for editors: a
// definition file names it with
// `# yaml-language-server: $schema=../../policies/schema.json`.
func Schema() ([]byte, error) {
	ctx := cuecontext.New()
	v, err := compile(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling policies: %w", err)
	}
	expr, err := jsonschema.Generate(v.LookupPath(cpath("#Definition")), &jsonschema.GenerateConfig{})
	if err != nil {
		return nil, fmt.Errorf("generating JSON Schema: %w", err)
	}
	sv := ctx.BuildExpr(expr)
	if err := sv.Err(); err != nil {
		return nil, fmt.Errorf("generating JSON Schema: %w", err)
	}
	raw, err := sv.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("generating JSON Schema: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	doc["title"] = "capiform definition (Site or Cluster)"
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
