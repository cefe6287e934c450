// Package envtestutil starts real kube-apiservers (envtest) for tests and
// loads Cluster API's CRDs from the module cache and the OpenStack
// provider's from testdata/crds/capo.
//
// The binaries come from hack/envtest-assets.sh through KUBEBUILDER_ASSETS;
// `make test` always sets it. Without it, tests that need an API server
// skip with a message saying so.
package envtestutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// RequireAssets skips the test when KUBEBUILDER_ASSETS is not set.
func RequireAssets(tb testing.TB) {
	tb.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		tb.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=\"$(hack/envtest-assets.sh)\"")
	}
}

// Env is a running API server.
type Env struct {
	// Config is an admin rest.Config.
	Config *rest.Config
	// Kubeconfig is an admin kubeconfig (system:masters), as Cluster API
	// would write into <cluster>-kubeconfig.
	Kubeconfig []byte

	env *envtest.Environment
}

// Start starts an API server with the given CRDs installed and stops it
// when the test ends.
func Start(tb testing.TB, crds []*apiextensionsv1.CustomResourceDefinition) *Env {
	tb.Helper()
	RequireAssets(tb)
	env := &envtest.Environment{
		CRDs:                  crds,
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		tb.Fatalf("starting envtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := env.Stop(); err != nil {
			tb.Logf("stopping envtest: %v", err)
		}
	})
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		tb.Fatalf("envtest user: %v", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		tb.Fatalf("envtest kubeconfig: %v", err)
	}
	return &Env{Config: cfg, Kubeconfig: kc, env: env}
}

// ModuleDir returns the module cache folder of a dependency of this module.
func ModuleDir(tb testing.TB, module string) string {
	tb.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		tb.Fatalf("go list -m %s: %v", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		tb.Fatalf("module %s is not in the module cache (run go mod download)", module)
	}
	return dir
}

// ClusterAPICRDs loads the CRDs of Cluster API core and the kubeadm
// bootstrap and control plane providers from the cluster-api module, with
// labels added (clusterctl labels the CRDs it installs).
func ClusterAPICRDs(tb testing.TB, labels map[string]string) []*apiextensionsv1.CustomResourceDefinition {
	tb.Helper()
	dir := ModuleDir(tb, "sigs.k8s.io/cluster-api")
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, sub := range []string{"core/config/crd/bases", "bootstrap/kubeadm/config/crd/bases", "controlplane/kubeadm/config/crd/bases"} {
		files, err := filepath.Glob(filepath.Join(dir, sub, "*.yaml"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("no CRDs under %s in the cluster-api module", sub)
		}
		sort.Strings(files)
		for _, f := range files {
			crds = append(crds, ReadCRDs(tb, f, labels)...)
		}
	}
	return crds
}

// CAPOVersion is the release of cluster-api-provider-openstack whose CRDs
// are under CAPOCRDDir.
const CAPOVersion = "v0.13.9"

// CAPOCRDDir is the folder of the OpenStack provider's CRDs: its generated
// config/crd/bases of CAPOVersion, unchanged, kept in the repository for
// tests only (its Go module is not on the module proxy). Nothing in the
// product reads them.
func CAPOCRDDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "crds", "capo")
}

// CAPOCRDs loads the OpenStack provider's CRDs (CAPOCRDDir), adding labels.
func CAPOCRDs(tb testing.TB, labels map[string]string) []*apiextensionsv1.CustomResourceDefinition {
	tb.Helper()
	return dirCRDs(tb, CAPOCRDDir(), labels)
}

// dirCRDs loads the CRDs of every YAML file of dir, in name order.
func dirCRDs(tb testing.TB, dir string, labels map[string]string) []*apiextensionsv1.CustomResourceDefinition {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no CRDs under %s", dir)
	}
	sort.Strings(files)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		crds = append(crds, ReadCRDs(tb, f, labels)...)
	}
	return crds
}

// FluxCRDDir is the folder of the CRDs of helm-controller (v1.6.3, whose
// api/v2 is helm-controller/api v1.6.5) and notification-controller
// (v1.9.3): their generated config/crd/bases, unchanged, kept in the
// repository for tests only (helm-controller's main module is not on the
// module proxy, and notification-controller's CRDs are not in its API
// module). source- and kustomize-controller's CRDs come from their modules.
func FluxCRDDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "crds", "flux")
}

// FluxCRDs loads the CRDs under FluxCRDDir, adding labels.
func FluxCRDs(tb testing.TB, labels map[string]string) []*apiextensionsv1.CustomResourceDefinition {
	tb.Helper()
	return dirCRDs(tb, FluxCRDDir(), labels)
}

// ReadCRDs reads the CRDs of a YAML file, adding labels.
func ReadCRDs(tb testing.TB, path string, labels map[string]string) []*apiextensionsv1.CustomResourceDefinition {
	tb.Helper()
	out, err := DecodeCRDs(path, labels)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// DecodeCRDs reads the CRDs of a YAML file, adding labels; a file without
// any is an error.
func DecodeCRDs(path string, labels map[string]string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, doc := range SplitYAML(raw) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(doc, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if crd.Name == "" {
			continue
		}
		if crd.Labels == nil {
			crd.Labels = map[string]string{}
		}
		for k, v := range labels {
			crd.Labels[k] = v
		}
		out = append(out, crd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no CustomResourceDefinition", path)
	}
	return out, nil
}

// SplitYAML splits a multi-document YAML file into its non-empty
// documents.
func SplitYAML(raw []byte) [][]byte {
	var out [][]byte
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) > 0 {
			out = append(out, doc)
		}
	}
	return out
}

// String names an Env in test output.
func (e *Env) String() string { return fmt.Sprintf("envtest %s", e.Config.Host) }
