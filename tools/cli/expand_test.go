package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// TestExpandAll: expand --all prints, in order of site and cluster, what
// expanding each cluster alone prints; a cluster that fails to expand is
// named and the others are still printed; wrong arguments exit 2.
// docStart is the start of a YAML document; a block scalar that holds
// "---" (the kube-proxy configuration kubeadm reads) is indented.
var docStart = regexp.MustCompile(`(?m)^---$`)

func TestExpandAll(t *testing.T) {
	dir := testrepo.New(t, true)
	code, out, errOut := run(t, "-C", dir, "expand", "--all")
	if code != 0 {
		t.Fatalf("expand --all: exit %d\n%s", code, errOut)
	}
	var want strings.Builder
	objects := 0
	for _, c := range []string{"edi/edi-mgmt", "edi/teaching", "lon/analytics", "lon/lon-mgmt", "lon/research"} {
		code, one, errOne := run(t, "-C", dir, "expand", c)
		if code != 0 {
			t.Fatalf("expand %s: exit %d\n%s", c, code, errOne)
		}
		fmt.Fprintf(&want, "# %s\n%s", c, one)
		objects += len(docStart.FindAllString(one, -1))
	}
	if out != want.String() {
		t.Errorf("expand --all differs from expanding each cluster in turn")
	}
	if w := fmt.Sprintf("expanded 5 cluster(s), %d object(s)\n", objects); errOut != w {
		t.Errorf("stderr %q, want %q", errOut, w)
	}

	// A node group name the chart's schema refuses (the policy, which
	// would catch it first, does not run): that cluster fails, the others
	// print.
	def := filepath.Join(dir, "clusters/edi/teaching.yaml")
	data, _ := os.ReadFile(def)
	os.WriteFile(def, []byte(strings.Replace(string(data), "name: md-0", "name: control-plane", 1)), 0o644)
	code, out, errOut = run(t, "-C", dir, "expand", "--all")
	if code != 1 || !strings.Contains(errOut, "cluster edi/teaching:") || !strings.Contains(errOut, "1 of 5 cluster(s) failed to expand") {
		t.Errorf("one cluster failing: exit %d\n%s", code, errOut)
	}
	if strings.Contains(out, "# edi/teaching\n") || !strings.Contains(out, "# lon/research\n") {
		t.Errorf("the failing cluster is printed, or the others are not")
	}

	for _, args := range [][]string{{"expand"}, {"expand", "--all", "lon/research"}} {
		if code, _, errOut := run(t, append([]string{"-C", dir}, args...)...); code != 2 || !strings.Contains(errOut, "SITE/CLUSTER") {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
	}
}
