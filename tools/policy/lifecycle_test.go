package policy

import (
	"encoding/json"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capiform/capiform/tools/resolve"
)

func intOrPercent(v any) intstr.IntOrString {
	if s, ok := v.(string); ok {
		return intstr.FromString(s)
	}
	return intstr.FromInt(v.(int))
}

// TestRolloutRulesAgreeWithClusterAPI holds the CUE copies of Cluster
// API's rollout arithmetic against Cluster API itself: #surge against
// the MachineDeployment controller's resolution (mdutil, through
// resolve.Surge) and #bothZero against the MachineDeployment webhook.
func TestRolloutRulesAgreeWithClusterAPI(t *testing.T) {
	e, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	values := []any{0, 1, 3, "0%", "1%", "10%", "25%", "50%", "100%", "150%"}
	for _, surge := range values {
		for _, unavailable := range values {
			r := resolve.RolloutValues{MaxSurge: intOrPercent(surge), MaxUnavailable: intOrPercent(unavailable)}
			name := fmt.Sprintf("surge=%v,unavailable=%v", surge, unavailable)
			in, _ := json.Marshal(map[string]any{"r": map[string]any{"maxSurge": surge, "maxUnavailable": unavailable}})
			got, err := e.base.LookupPath(cpath("#bothZero")).Unify(e.ctx.CompileBytes(in)).LookupPath(cpath("out")).Bool()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if want := rolloutRefused(t.Context(), r) != nil; got != want {
				t.Errorf("%s: CUE refuses %v, Cluster API's webhook %v", name, got, want)
			}
			for _, n := range []int{0, 1, 2, 3, 5, 7, 10, 33} {
				in, _ := json.Marshal(map[string]any{"s": surge, "n": n})
				got, err := e.base.LookupPath(cpath("#surge")).Unify(e.ctx.CompileBytes(in)).LookupPath(cpath("out")).Int64()
				if err != nil {
					t.Fatalf("%s n=%d: %v", name, n, err)
				}
				if want := resolve.Surge(r, n); int(got) != want {
					t.Errorf("%s n=%d: CUE surge %d, Cluster API %d", name, n, got, want)
				}
			}
		}
	}
}

// TestBuiltinDefaultsInStep holds rules.cue's #builtinDefaults against
// resolve's: the policy judges the values the chart is given.
func TestBuiltinDefaultsInStep(t *testing.T) {
	e, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := e.base.LookupPath(cpath("#builtinDefaults")).Decode(&got); err != nil {
		t.Fatal(err)
	}
	h := resolve.DefaultHealthCheck
	want := map[string]any{
		"remediation":  resolve.DefaultRemediation,
		"healthCheck":  map[string]int{"nodeStartupTimeoutSeconds": h.NodeStartupTimeoutSeconds, "unhealthyTimeoutSeconds": h.UnhealthyTimeoutSeconds},
		"maxUnhealthy": h.MaxUnhealthy,
		"rollout":      resolve.DefaultRollout,
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	var a, b any
	_ = json.Unmarshal(gotJSON, &a)
	_ = json.Unmarshal(wantJSON, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("#builtinDefaults = %s\nresolve's defaults = %s", gotJSON, wantJSON)
	}
}
