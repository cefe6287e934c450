package render

import (
	"testing"

	"github.com/google/cel-go/cel"
)

// TestClusterAvailableExpressions evaluates the cluster health check with
// CEL the way kustomize-controller does (the object's top-level fields as
// variables, optional types on): only a Cluster whose Available condition
// is True is healthy; a Cluster without conditions, or without an
// Available condition yet, is in progress.
func TestClusterAvailableExpressions(t *testing.T) {
	env, err := cel.NewEnv(cel.OptionalTypes(),
		cel.Variable("apiVersion", cel.DynType), cel.Variable("kind", cel.DynType),
		cel.Variable("metadata", cel.DynType), cel.Variable("spec", cel.DynType), cel.Variable("status", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	eval := func(expr string, status map[string]any) bool {
		t.Helper()
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", expr, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.Eval(map[string]any{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": map[string]any{}, "spec": map[string]any{}, "status": status})
		if err != nil {
			t.Fatalf("%s on %v: %v", expr, status, err)
		}
		return out.Value().(bool)
	}
	cond := func(typ, st string) map[string]any { return map[string]any{"type": typ, "status": st} }
	tests := []struct {
		name    string
		status  map[string]any
		current bool
	}{
		{"no status yet", map[string]any{}, false},
		{"conditions without Available", map[string]any{"conditions": []any{cond("Paused", "False")}}, false},
		{"Available False", map[string]any{"conditions": []any{cond("Available", "False"), cond("Paused", "False")}}, false},
		{"Available Unknown", map[string]any{"conditions": []any{cond("Available", "Unknown")}}, false},
		{"Available True", map[string]any{"conditions": []any{cond("Paused", "False"), cond("Available", "True")}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eval(ClusterAvailable.Current, tt.status); got != tt.current {
				t.Errorf("current = %v, want %v", got, tt.current)
			}
			if got := eval(ClusterAvailable.InProgress, tt.status); got == tt.current {
				t.Errorf("inProgress = %v, want %v", got, !tt.current)
			}
		})
	}
}
