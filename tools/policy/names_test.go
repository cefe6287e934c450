package policy

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"k8s.io/apimachinery/pkg/util/validation"
)

// TestNameCheckAgreesWithKubernetes holds the CUE copy of the DNS label
// rule (#NameCheck, so that CUE alone judges every rule) against
// Kubernetes' own IsDNS1123Label, which the loader applies and which is
// authoritative: on every case, both accept or both refuse.
func TestNameCheckAgreesWithKubernetes(t *testing.T) {
	t.Parallel()
	base, err := compile(cuecontext.New())
	if err != nil {
		t.Fatal(err)
	}
	check := base.LookupPath(cue.ParsePath("#NameCheck"))
	for _, name := range []string{
		"a", "md-0", "0a", "1-2-3", "xn--bcher-kva", strings.Repeat("a", 63),
		"", "-a", "a-", "A", "a_b", "a.b", "a b", "a\nb", "a\n", "é", "a/b",
		strings.Repeat("a", 64), strings.Repeat("ab-", 30),
	} {
		v := check.FillPath(cue.ParsePath("name"), name).
			FillPath(cue.ParsePath("path"), "metadata.name").
			FillPath(cue.ParsePath("what"), "cluster")
		m, err := violations(v)
		if err != nil {
			t.Fatalf("#NameCheck of %q: %v", name, err)
		}
		cueOK := len(m) == 0
		k8sOK := len(validation.IsDNS1123Label(name)) == 0
		if cueOK != k8sOK {
			t.Errorf("name %q: CUE's #NameCheck accepts it = %v, Kubernetes' IsDNS1123Label = %v", name, cueOK, k8sOK)
		}
	}
}
