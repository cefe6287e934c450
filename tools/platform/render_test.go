package platform

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/platform")

const (
	repoRoot  = "../.."
	goldenDir = "../../testdata/platform/golden"
)

type fleetCase struct {
	site    *load.Site
	cluster *load.Cluster
	rel     *resolve.Release
}

// testFleet loads the test fleet (testdata/fleet, not the operator's
// clusters/) and the repository's catalogue.
func testFleet(t *testing.T) (*Catalogue, *load.Fleet, []fleetCase) {
	t.Helper()
	fsys := testrepo.FleetFS()
	cat, err := LoadCatalogue(fsys)
	if err != nil {
		t.Fatalf("LoadCatalogue: %v", err)
	}
	fleet, err := load.Load(fsys)
	if err != nil {
		t.Fatalf("load.Load: %v", err)
	}
	var cases []fleetCase
	for _, s := range fleet.Sites {
		for _, c := range s.Clusters {
			rel, d := resolve.Cluster(s, c)
			if len(d) > 0 {
				t.Fatalf("resolve %s/%s: %v", s.Metadata.Name, c.Metadata.Name, d)
			}
			cases = append(cases, fleetCase{s, c, rel})
		}
	}
	if len(cases) == 0 {
		t.Fatal("the test fleet has no clusters")
	}
	return cat, fleet, cases
}

func marshalAll(t *testing.T, objs []render.Object) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		y, err := render.MarshalObject(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, d)
	}
}

// TestAddonsGolden renders the addons of every cluster of the test
// fleet and compares them with testdata/platform/golden.
func TestAddonsGolden(t *testing.T) {
	cat, fleet, cases := testFleet(t)
	if d := cat.Check(fleet); len(d) > 0 {
		t.Fatalf("Check of the test fleet: %v", d)
	}
	for _, fc := range cases {
		name := fc.site.Metadata.Name + "-" + fc.cluster.Metadata.Name + ".yaml"
		t.Run(name, func(t *testing.T) {
			objs, err := cat.Addons(fc.site, fc.cluster, fc.rel)
			if err != nil {
				t.Fatalf("Addons: %v", err)
			}
			golden(t, name, marshalAll(t, objs))
		})
	}
}

// strictDecode decodes a rendered object into out rejecting unknown
// fields, as the API server would with strict field validation.
func strictDecode(t *testing.T, o render.Object, out any) {
	t.Helper()
	y, err := render.MarshalObject(o)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s %s/%s does not decode strictly: %v", o.GetObjectKind().GroupVersionKind().Kind, o.GetNamespace(), o.GetName(), err)
	}
}

// TestAddonsDecodeStrictly checks every rendered object against the Flux
// Go types, and the rules of the tree: everything in the cluster's
// namespace, sources local, one source per repository, kubeconfig, release
// identity, remediation.
func TestAddonsDecodeStrictly(t *testing.T) {
	t.Parallel()
	cat, _, cases := testFleet(t)
	for _, fc := range cases {
		cl := fc.cluster.Metadata.Name
		objs, err := cat.Addons(fc.site, fc.cluster, fc.rel)
		if err != nil {
			t.Fatalf("%s: %v", cl, err)
		}
		ns := resolve.ClusterNamespace(cl)
		sources := map[string]bool{}
		urls := map[string]bool{}
		for _, o := range objs {
			if o.GetNamespace() != ns {
				t.Errorf("%s: %s is in namespace %q, want %q", cl, o.GetName(), o.GetNamespace(), ns)
			}
			switch kind := o.GetObjectKind().GroupVersionKind().Kind; kind {
			case sourcev1.HelmRepositoryKind:
				var hr sourcev1.HelmRepository
				strictDecode(t, o, &hr)
				if urls[hr.Spec.URL] {
					t.Errorf("%s: repository %s rendered twice", cl, hr.Spec.URL)
				}
				urls[hr.Spec.URL] = true
				sources[kind+"/"+hr.Name] = true
			case helmv2.HelmReleaseKind:
				var hr helmv2.HelmRelease
				strictDecode(t, o, &hr)
				s := hr.Spec
				if s.KubeConfig == nil || s.KubeConfig.SecretRef == nil || s.KubeConfig.SecretRef.Name != cl+"-kubeconfig" || s.KubeConfig.SecretRef.Key != "value" {
					t.Errorf("%s/%s: kubeConfig = %+v, want secretRef {%s-kubeconfig, value}", cl, hr.Name, s.KubeConfig, cl)
				}
				if s.ReleaseName != hr.Name || len(s.ReleaseName) > 53 {
					t.Errorf("%s/%s: releaseName %q", cl, hr.Name, s.ReleaseName)
				}
				if s.TargetNamespace == "" || s.StorageNamespace != s.TargetNamespace {
					t.Errorf("%s/%s: targetNamespace %q, storageNamespace %q", cl, hr.Name, s.TargetNamespace, s.StorageNamespace)
				}
				if s.Install == nil || !s.Install.CreateNamespace || s.Install.Remediation == nil || s.Install.Remediation.Retries != 3 {
					t.Errorf("%s/%s: install = %+v", cl, hr.Name, s.Install)
				}
				if s.Upgrade == nil || s.Upgrade.Remediation == nil || s.Upgrade.Remediation.Retries != 3 || s.Upgrade.Remediation.Strategy == nil || *s.Upgrade.Remediation.Strategy != helmv2.RollbackRemediationStrategy {
					t.Errorf("%s/%s: upgrade = %+v", cl, hr.Name, s.Upgrade)
				}
				if s.Chart == nil || !exactVersion.MatchString(s.Chart.Spec.Version) {
					t.Fatalf("%s/%s: chart %+v has no exact version", cl, hr.Name, s.Chart)
				}
				ref := s.Chart.Spec.SourceRef
				if ref.Namespace != "" || !sources[ref.Kind+"/"+ref.Name] {
					t.Errorf("%s/%s: sourceRef %+v is not a source rendered before it in the namespace", cl, hr.Name, ref)
				}
				if want := AddonIdentity(fc.site.Metadata.Name, cl, hr.Name, s.TargetNamespace); want.HelmReleaseName != hr.Name || want.HelmReleaseNamespace != hr.Namespace {
					t.Errorf("%s/%s: identity %+v", cl, hr.Name, want)
				}
				for _, d := range s.DependsOn {
					if d.Namespace != "" {
						t.Errorf("%s/%s: dependsOn %+v refers across namespaces", cl, hr.Name, d)
					}
				}
			case sourcev1.GitRepositoryKind:
				var repo sourcev1.GitRepository
				strictDecode(t, o, &repo)
				g := fc.site.Spec.Git
				if repo.Name != ManifestsSourceName || repo.Spec.URL != g.URL || repo.Spec.Reference == nil || repo.Spec.Reference.Branch != or(g.Branch, "main") {
					t.Errorf("%s: GitRepository %s = %+v, want %s of the site's git %+v", cl, repo.Name, repo.Spec, ManifestsSourceName, g)
				}
				if (g.SecretName == "") != (repo.Spec.SecretRef == nil) || (repo.Spec.SecretRef != nil && repo.Spec.SecretRef.Name != g.SecretName) {
					t.Errorf("%s: GitRepository secretRef %+v, want the site's %q", cl, repo.Spec.SecretRef, g.SecretName)
				}
				if sources[kind+"/"+repo.Name] {
					t.Errorf("%s: GitRepository %s rendered twice", cl, repo.Name)
				}
				sources[kind+"/"+repo.Name] = true
			case kustomizev1.KustomizationKind:
				var ks kustomizev1.Kustomization
				strictDecode(t, o, &ks)
				s := ks.Spec
				if s.KubeConfig == nil || s.KubeConfig.SecretRef == nil || s.KubeConfig.SecretRef.Name != cl+"-kubeconfig" || s.KubeConfig.SecretRef.Key != "value" {
					t.Errorf("%s/%s: kubeConfig = %+v, want secretRef {%s-kubeconfig, value}", cl, ks.Name, s.KubeConfig, cl)
				}
				ref := cat.components[ks.Name]
				if ref.platform == nil || !ref.component().Manifests {
					t.Fatalf("%s: Kustomization %s is no manifests component", cl, ks.Name)
				}
				want := "./platforms/" + ref.platform.Metadata.Name + "/" + ks.Name
				if f := ref.component().FollowsVariant; f != "" {
					// The folder of the variant the cluster runs.
					want += "/" + cat.chosenVariant(fc.cluster, f)
				}
				if s.Path != want {
					t.Errorf("%s/%s: path %q, want %q", cl, ks.Name, s.Path, want)
				}
				if st, err := os.Stat(filepath.Join(repoRoot, s.Path)); err != nil || !st.IsDir() {
					t.Errorf("%s/%s: path %s is not a folder of the repository", cl, ks.Name, s.Path)
				}
				if !s.Prune || !s.Wait || s.TargetNamespace != ref.component().Namespace {
					t.Errorf("%s/%s: prune %v, wait %v, targetNamespace %q", cl, ks.Name, s.Prune, s.Wait, s.TargetNamespace)
				}
				if sr := s.SourceRef; sr.Namespace != "" || sr.Kind != sourcev1.GitRepositoryKind || !sources[sr.Kind+"/"+sr.Name] {
					t.Errorf("%s/%s: sourceRef %+v is not a source rendered before it in the namespace", cl, ks.Name, sr)
				}
				for _, d := range s.DependsOn {
					if d.Namespace != "" || !cat.components[d.Name].component().Manifests {
						t.Errorf("%s/%s: dependsOn %+v is not a manifests component of the namespace", cl, ks.Name, d)
					}
				}
			default:
				t.Errorf("%s: unexpected %s %s", cl, kind, o.GetName())
			}
		}
	}
}

// TestDependsOnStartsAtCNI checks, for every cluster of the test fleet,
// that dependsOn has no cycle, names only releases of the cluster, that
// the CNI depends on nothing and every other release reaches it.
func TestDependsOnStartsAtCNI(t *testing.T) {
	t.Parallel()
	cat, _, cases := testFleet(t)
	for _, fc := range cases {
		cl := fc.cluster.Metadata.Name
		addons, err := cat.Resolve(fc.site, fc.cluster, fc.rel)
		if err != nil {
			t.Fatalf("%s: %v", cl, err)
		}
		deps := map[string][]string{}
		for _, a := range addons {
			deps[a.Component] = a.DependsOn
		}
		if len(addons) == 0 {
			continue
		}
		if d, ok := deps[cat.CNI()]; !ok || len(d) > 0 {
			t.Errorf("%s: the CNI is missing or depends on %v", cl, d)
		}
		// Resolve returns install order: every dependency comes earlier.
		seen := map[string]bool{}
		for _, a := range addons {
			for _, d := range a.DependsOn {
				if _, ok := deps[d]; !ok {
					t.Errorf("%s: %s depends on %s, which the cluster does not install", cl, a.Component, d)
				}
				if !seen[d] {
					t.Errorf("%s: %s depends on %s, which is not installed before it (a cycle?)", cl, a.Component, d)
				}
			}
			seen[a.Component] = true
		}
		var reaches func(n string, path map[string]bool) bool
		reaches = func(n string, path map[string]bool) bool {
			if n == cat.CNI() {
				return true
			}
			if path[n] {
				t.Errorf("%s: cycle through %s", cl, n)
				return false
			}
			path[n] = true
			defer delete(path, n)
			for _, d := range deps[n] {
				if reaches(d, path) {
					return true
				}
			}
			return false
		}
		for n := range deps {
			if !reaches(n, map[string]bool{}) {
				t.Errorf("%s: %s does not depend on the CNI", cl, n)
			}
		}
	}
}

// TestFactsAndCredentials shows, for a Calico and a Cilium cluster, the
// pod CIDR reaching the CNI's IP pool and the cloud credentials arriving
// through valuesFrom (golden: testdata/platform/golden/facts-*.yaml).
func TestFactsAndCredentials(t *testing.T) {
	cat, _, cases := testFleet(t)
	for _, want := range []struct{ site, cluster, poolPath string }{
		{"lon", "research", "installation.calicoNetwork.ipPools[0].cidr"},
		{"lon", "analytics", "ipam.operator.clusterPoolIPv4PodCIDRList"},
	} {
		t.Run(want.cluster, func(t *testing.T) {
			var fc *fleetCase
			for i := range cases {
				if cases[i].site.Metadata.Name == want.site && cases[i].cluster.Metadata.Name == want.cluster {
					fc = &cases[i]
				}
			}
			if fc == nil {
				t.Fatalf("no cluster %s/%s in the test fleet", want.site, want.cluster)
			}
			objs, err := cat.Addons(fc.site, fc.cluster, fc.rel)
			if err != nil {
				t.Fatal(err)
			}
			var picked []render.Object
			for _, o := range objs {
				if n := o.GetName(); n == "cni" || n == "cloud-controller" || n == "csi-cinder" {
					picked = append(picked, o)
				}
			}
			got := marshalAll(t, picked)
			golden(t, "facts-"+want.cluster+".yaml", got)

			pod := fc.rel.PodCIDRs[0]
			if !strings.Contains(string(got), pod) {
				t.Errorf("pod CIDR %s does not reach the CNI", pod)
			}
			addons, _ := cat.Resolve(fc.site, fc.cluster, fc.rel)
			for _, a := range addons {
				switch a.Component {
				case "cni":
					steps, _ := parsePath(want.poolPath)
					v := lookup(a.Values, steps)
					if s, ok := v.(string); ok && s != pod {
						t.Errorf("%s = %v, want %s", want.poolPath, v, pod)
					}
					if l, ok := v.([]any); ok && (len(l) == 0 || l[0] != pod) {
						t.Errorf("%s = %v, want [%s]", want.poolPath, v, pod)
					}
					if v == nil {
						t.Errorf("%s is not set", want.poolPath)
					}
				case "cloud-controller", "csi-cinder":
					// The cloud controller's chart takes [Global] as values
					// (merged whole), Cinder CSI's as the text of a file.
					key, whole := "cloud.conf", false
					if a.Component == "cloud-controller" {
						key, whole = "cloud-conf-values.yaml", true
					}
					if len(a.ValuesFrom) != 1 || a.ValuesFrom[0].Kind != "Secret" || a.ValuesFrom[0].Name != fc.site.Spec.Cloud.CredentialsSecret || a.ValuesFrom[0].ValuesKey != key || (a.ValuesFrom[0].TargetPath == "") != whole {
						t.Errorf("%s: valuesFrom = %+v, want the site's credentials Secret, key %s", a.Component, a.ValuesFrom, key)
					}
					// The site's part of cloud.conf, in clear.
					if v := lookup(a.Values, mustPath(t, "cloudConfig.loadBalancer.floating-network-id")); a.Component == "cloud-controller" && v != fc.site.Spec.Cloud.ExternalNetworkID {
						t.Errorf("cloud-controller: floating-network-id = %v, want the site's external network", v)
					}
					if v, _ := lookup(a.Values, mustPath(t, `secret.data.site\.conf`)).(string); a.Component == "csi-cinder" && !strings.HasPrefix(v, "[BlockStorage]\n") {
						t.Errorf("csi-cinder: site.conf = %q, want the site's [BlockStorage]", v)
					}
				}
			}
		})
	}
}

func mustPath(t *testing.T, p string) []step {
	t.Helper()
	s, err := parsePath(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func lookup(v any, steps []step) any {
	for _, s := range steps {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[s.key]
		for _, ix := range s.index {
			l, ok := v.([]any)
			if !ok || ix >= len(l) {
				return nil
			}
			v = l[ix]
		}
	}
	return v
}
