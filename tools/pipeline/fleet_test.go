package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/cli"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/source"
)

// checkFleet runs the checks every fleet must pass, whoever wrote it, on
// the repository at root: it validates, `render --check` is clean (nothing
// stale, every cluster expands, every object verifies, every generated path
// builds), and the rendered addon order is sound. It pins no count, name or
// content of the fleet, so it holds the operator's clusters/ through any
// valid change. fix says how to bring stale generated trees up to date. It
// returns the number of clusters and of clusters with addons.
func checkFleet(t *testing.T, root, fix string) (clusters, withAddons int) {
	t.Helper()
	fsys := source.Worktree(root)
	res, err := pipeline.Render(context.Background(), pipeline.Default(fsys))
	if list := (diag.List{}); errors.As(err, &list) {
		t.Fatalf("the fleet does not validate:\n%s", list.Error())
	} else if err != nil {
		t.Fatal(err)
	}
	cr, err := pipeline.Check(context.Background(), res, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !cr.OK() {
		t.Fatalf("render --check is not clean (%s):\ndrift: %v\nproblems: %s", fix, cr.Drift, strings.Join(cr.Problems, "\n"))
	}
	if cr.Clusters != len(res.Releases) || cr.Clusters < 1 {
		t.Errorf("expanded %d clusters of %d", cr.Clusters, len(res.Releases))
	}
	teardownSafe(t, res)
	return cr.Clusters, addonOrder(t, res)
}

// teardownSafe reads the generated tree of every site as Flux will, and
// checks what removing a cluster from git prunes: the root Kustomization
// prunes the cluster's Kustomizations, and each deletes what its folder
// holds. Nothing the teardown still needs may be among it: not the
// cluster's namespace, not a Secret (the OpenStack provider deletes
// servers, network and load balancer with the cloud credentials), unless
// it is marked never to be pruned. The cluster's HelmRelease uninstalls
// without waiting and with background propagation, so that Cluster API
// deletes in its order. The management cluster's Kustomizations and
// HelmRelease are never pruned.
func teardownSafe(t *testing.T, res *pipeline.Result) {
	t.Helper()
	for site, files := range res.Sites {
		folders, err := render.BuildAll(site, files)
		if err != nil {
			t.Fatal(err)
		}
		for _, ks := range folders[""] {
			if ks.GetKind() != "Kustomization" || ks.GetAPIVersion() == "kustomize.config.k8s.io/v1beta1" {
				continue
			}
			cluster := ks.GetLabels()[render.ClusterLabel]
			if cluster == "" {
				continue // the root
			}
			management := ks.GetLabels()[render.ManagementLabel] == "true"
			p, _, _ := unstructured.NestedString(ks.Object, "spec", "path")
			dir := strings.TrimPrefix(p, "./"+render.Dir(site)+"/")
			if management && ks.GetAnnotations()[render.PruneAnnotation] != "disabled" {
				t.Errorf("%s: Kustomization %s of management cluster %s can be pruned", site, ks.GetName(), cluster)
			}
			// A Kustomization without prune leaves what it applied when
			// it is deleted.
			prunes, _, _ := unstructured.NestedBool(ks.Object, "spec", "prune")
			for _, o := range folders[dir] {
				pruned := prunes && o.GetAnnotations()[render.PruneAnnotation] != "disabled"
				switch {
				case management && pruned && o.GetKind() == "HelmRelease" && o.GetNamespace() == "flux-system":
					t.Errorf("%s: HelmRelease %s of management cluster %s can be pruned", site, o.GetName(), cluster)
				case !management && pruned && (o.GetKind() == "Namespace" || o.GetKind() == "Secret"):
					t.Errorf("%s: removing cluster %s prunes %s %s/%s (Kustomization %s) while Cluster API still needs it to delete the cluster: annotate it %s: disabled", site, cluster, o.GetKind(), o.GetNamespace(), o.GetName(), ks.GetName(), render.PruneAnnotation)
				}
				if c, _, _ := unstructured.NestedString(o.Object, "spec", "chart", "spec", "chart"); o.GetKind() == "HelmRelease" && c == render.ChartPath {
					wait, _, _ := unstructured.NestedBool(o.Object, "spec", "uninstall", "disableWait")
					prop, _, _ := unstructured.NestedString(o.Object, "spec", "uninstall", "deletionPropagation")
					if !wait || prop != "background" {
						t.Errorf("%s: HelmRelease %s uninstalls with disableWait %v, deletionPropagation %q; want true, background", site, o.GetName(), wait, prop)
					}
				}
			}
		}
	}
}

// addonOrder reads the rendered addon HelmReleases of every cluster, as
// Flux will: their dependsOn has no cycle, names only releases of the same
// namespace, and starts at the CNI (which depends on nothing; every other
// release reaches it). It returns the number of clusters with addons.
func addonOrder(t *testing.T, res *pipeline.Result) int {
	t.Helper()
	clusters := 0
	for site, files := range res.Sites {
		for _, p := range files.Paths() {
			if !strings.HasPrefix(p, "addons/") || path.Base(p) != "kustomization.yaml" {
				continue
			}
			objs, err := render.Build(files, path.Dir(p))
			if err != nil {
				t.Fatal(err)
			}
			deps := map[string][]string{}
			ns := ""
			for _, o := range objs {
				if o.GetKind() != "HelmRelease" {
					continue
				}
				if ns == "" {
					ns = o.GetNamespace()
				}
				if o.GetNamespace() != ns {
					t.Errorf("%s/%s: HelmRelease %s is in namespace %s, not %s", site, p, o.GetName(), o.GetNamespace(), ns)
				}
				list, _, _ := unstructured.NestedSlice(o.Object, "spec", "dependsOn")
				deps[o.GetName()] = nil
				for _, d := range list {
					m := d.(map[string]any)
					if n, ok := m["namespace"]; ok && n != ns {
						t.Errorf("%s: %s depends on %v across namespaces", site, o.GetName(), m)
					}
					deps[o.GetName()] = append(deps[o.GetName()], m["name"].(string))
				}
			}
			if len(deps) == 0 {
				continue
			}
			clusters++
			if len(deps["cni"]) != 0 {
				t.Errorf("%s %s: the CNI depends on %v", site, p, deps["cni"])
			}
			for name := range deps {
				seen := map[string]bool{}
				var reaches func(n string) bool
				reaches = func(n string) bool {
					if n == "cni" {
						return true
					}
					if seen[n] {
						t.Errorf("%s %s: dependsOn cycle through %s", site, p, n)
						return false
					}
					seen[n] = true
					if _, ok := deps[n]; !ok {
						t.Errorf("%s %s: %s depends on %s, which is not rendered", site, p, name, n)
						return false
					}
					for _, d := range deps[n] {
						if reaches(d) {
							return true
						}
					}
					return false
				}
				if !reaches(name) {
					t.Errorf("%s %s: %s does not start at the CNI (dependsOn %v)", site, p, name, deps[name])
				}
			}
		}
	}
	return clusters
}

// TestExampleFleet: the operator's fleet in clusters/ passes the generic
// checks, and only those: its counts, names and trees are theirs.
func TestExampleFleet(t *testing.T) {
	checkFleet(t, testrepo.Root(), "run `make render`")
}

// rewriteTestFleet is how the test fleet's generated trees are brought up
// to date after a change of the chart, the platforms or the renderer.
const rewriteTestFleet = "run `go test ./tools/pipeline -run TestTestFleetIsCurrent -update` and review the diff of testdata/fleet"

// TestTestFleetIsCurrent: the committed generated trees of the test fleet
// (testdata/fleet, the tests' frozen copy of the example fleet) are what
// render writes today, and every one of its clusters has sound addons.
// With -update it rewrites them first.
func TestTestFleetIsCurrent(t *testing.T) {
	if *update {
		dir := testrepo.New(t, true)
		if err := render.Write(filepath.Join(testrepo.Root(), testrepo.FleetDir), renderDir(t, dir).Sites); err != nil {
			t.Fatal(err)
		}
	}
	clusters, withAddons := checkFleet(t, testrepo.New(t, true), rewriteTestFleet)
	if clusters != 5 || withAddons != clusters {
		t.Errorf("the test fleet: %d clusters, %d with addons; want 5, all with addons", clusters, withAddons)
	}
}

// TestExampleFleetChecksTakeANewCluster: the proof that a valid change of
// clusters/ keeps the suite green. In a copy of the repository whose
// clusters/ is a fleet the test knows (the test fleet, as the operator's
// may hold anything), a new cluster is added as README's "Adding a cluster"
// says and rendered with capiform's render; the checks TestExampleFleet
// runs on clusters/ pass on it, and the test fleet the other tests read is
// untouched.
func TestExampleFleetChecksTakeANewCluster(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"charts", "platforms", "policies", "testdata"} {
		if err := testrepo.CopyDir(filepath.Join(testrepo.Root(), d), filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := testrepo.CopyDir(filepath.Join(dir, testrepo.FleetDir, "clusters"), filepath.Join(dir, "clusters")); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, filepath.Join(dir, testrepo.FleetDir))
	teaching, err := os.ReadFile(filepath.Join(dir, "clusters", "edi", "teaching.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	physics := bytes.Replace(teaching, []byte("name: teaching"), []byte("name: physics"), 1)
	if bytes.Equal(physics, teaching) {
		t.Fatal("teaching.yaml names no cluster teaching")
	}
	testrepo.WriteFiles(t, dir, map[string][]byte{"clusters/edi/physics.yaml": physics})

	// The new cluster's tree is not written yet: the checks say so.
	res := renderDir(t, dir)
	cr, err := pipeline.Check(context.Background(), res, source.Worktree(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Drift) == 0 {
		t.Fatal("render --check is clean before the new cluster is rendered")
	}

	var out, errOut bytes.Buffer
	if code := cli.Main([]string{"-C", dir, "render"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("capiform render: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters/edi/generated/clusters/physics/helmrelease.yaml")); err != nil {
		t.Fatalf("render wrote no tree for the new cluster: %v", err)
	}
	if clusters, _ := checkFleet(t, dir, "render in the copy"); clusters != 6 {
		t.Errorf("the copy has %d clusters, want the test fleet's 5 and physics", clusters)
	}
	after := readTree(t, filepath.Join(dir, testrepo.FleetDir))
	if len(after) != len(before) {
		t.Fatalf("testdata/fleet changed: %d files before, %d after", len(before), len(after))
	}
	for p := range before {
		if !bytes.Equal(before[p], after[p]) {
			t.Errorf("testdata/fleet/%s changed", p)
		}
	}
}
