package bootstrap

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	clusterctl "sigs.k8s.io/cluster-api/cmd/clusterctl/client"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/expand"
)

func TestPlanAndDryRun(t *testing.T) {
	t.Parallel()
	ch, err := expand.LoadChart(os.DirFS(filepath.Join(repoRoot, ClusterChartDir)))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Site: "lab", ManagementCluster: "mgmt", ClusterChart: ch,
		Providers: ProviderVersions{Core: "v1.14.2", Bootstrap: "v1.14.2", ControlPlane: "v1.14.2", Infrastructure: "v0.14.0"},
		Flux:      FluxOptions{Version: "v2.7.3"},
		DryRun:    true,
	}
	var names []string
	for _, s := range Plan(opts) {
		names = append(names, s.Name)
		if s.Description == "" {
			t.Errorf("step %s has no description", s.Name)
		}
	}
	want := []string{StepEphemeral, StepProvidersEphemeral, StepClusterChart, StepBasePlatform, StepWaitReady, StepProvidersTarget,
		StepPreflight, StepLabelForMove, StepMove, StepFlux, StepVerify, StepCleanup}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("steps %v, want %v", names, want)
	}
	var lines []string
	opts.Log = func(f string, a ...any) { lines = append(lines, f) }
	// A dry run touches no cluster: there is none here, and no kind.
	if err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(want) {
		t.Errorf("dry run logged %d lines, want %d", len(lines), len(want))
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	err := Run(context.Background(), Options{BasePlatform: []AddonRelease{{}}})
	if err == nil {
		t.Fatal("empty options accepted")
	}
	for _, want := range []string{"site name", "management cluster name", "chart", "provider versions", "base platform release 0", "flux"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// clusterctl Init cannot run here: it installs cert-manager and the
// providers' controllers and waits for them. What is tested offline is the
// part the pivot owns: the configuration that points clusterctl at a local
// provider repository, read back through clusterctl's own client, which
// resolves and reads the pinned components from the folder.
func TestClusterctlLocalRepository(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(repo, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	metadata := "apiVersion: clusterctl.cluster.x-k8s.io/v1alpha3\nkind: Metadata\nreleaseSeries:\n- major: 1\n  minor: 14\n  contract: v1beta2\n- major: 0\n  minor: 14\n  contract: v1beta2\n"
	components := func(ns string) string {
		return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n"
	}
	write("cluster-api/v1.14.2/core-components.yaml", components("capi-system"))
	write("cluster-api/v1.14.2/metadata.yaml", metadata)
	write("bootstrap-kubeadm/v1.14.2/bootstrap-components.yaml", components("capi-kubeadm-bootstrap-system"))
	write("bootstrap-kubeadm/v1.14.2/metadata.yaml", metadata)
	write("control-plane-kubeadm/v1.14.2/control-plane-components.yaml", components("capi-kubeadm-control-plane-system"))
	write("control-plane-kubeadm/v1.14.2/metadata.yaml", metadata)
	write("infrastructure-openstack/v0.14.0/infrastructure-components.yaml", components("capo-system"))
	write("infrastructure-openstack/v0.14.0/metadata.yaml", metadata)
	write("cert-manager/v1.21.1/cert-manager.yaml", components("cert-manager"))

	// A user configuration whose variables must survive the override.
	userCfg := filepath.Join(t.TempDir(), "clusterctl.yaml")
	if err := os.WriteFile(userCfg, []byte("EXP_CLUSTER_RESOURCE_SET: \"true\"\nproviders:\n- name: openstack\n  type: InfrastructureProvider\n  url: https://example.invalid/infrastructure-components.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := ClusterctlInstaller{ConfigFile: userCfg, Repository: repo, Timeout: time.Minute, TempDir: t.TempDir()}
	path, err := inst.writeRepositoryConfig()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["EXP_CLUSTER_RESOURCE_SET"] != "true" {
		t.Errorf("the user's variables were dropped:\n%s", raw)
	}
	if cm, _ := cfg["cert-manager"].(map[string]any); cm["version"] != "v1.21.1" || !strings.HasPrefix(cm["url"].(string), repo) {
		t.Errorf("cert-manager not from the local repository:\n%s", raw)
	}

	ctx := context.Background()
	c, err := inst.client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	provs, err := c.GetProvidersConfig()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, p := range provs {
		found[p.ManifestLabel()] = p.URL()
	}
	for _, p := range wantedProviders(ProviderVersions{Core: "v1.14.2", Bootstrap: "v1.14.2", ControlPlane: "v1.14.2", Infrastructure: "v0.14.0"}) {
		url := found[p.ManifestLabel()]
		if !strings.HasPrefix(url, repo) {
			t.Errorf("%s resolves to %q, not into the local repository", p.ManifestLabel(), url)
			continue
		}
		comps, err := c.GetProviderComponents(ctx, p.Name, p.Type, clusterctl.ComponentsOptions{Version: p.Version})
		if err != nil {
			t.Errorf("%s: reading components from the local repository: %v", p, err)
			continue
		}
		if comps.Version() != p.Version || len(comps.Objs()) != 1 {
			t.Errorf("%s: got version %s with %d objects", p, comps.Version(), len(comps.Objs()))
		}
	}
	if got := clusterctlv1.ManifestLabel("openstack", clusterctlv1.InfrastructureProviderType); !strings.HasPrefix(found[got], repo) {
		t.Errorf("the user's openstack URL was not overridden: %s", found[got])
	}
}

// The kind adapter needs a running container engine; most CI runners and
// this sandbox have none, or only a client. The skip says which.
func TestKindAdapter(t *testing.T) {
	k, err := NewKindProvider(t.Logf)
	if err != nil {
		t.Skipf("kind cannot create clusters here: %v", err)
	}
	if c, ok := k.(io.Closer); ok {
		t.Cleanup(func() { _ = c.Close() })
	}
	if os.Getenv("CAPIFORM_TEST_KIND") == "" {
		t.Skip("a container engine answers, but creating a kind cluster takes minutes: set CAPIFORM_TEST_KIND=1 to run this test")
	}
	name := "capiform-test-adapter"
	if err := k.Create(name, "", 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Delete(name); err != nil {
			t.Error(err)
		}
	})
	ok, err := kindExists(k, name)
	if err != nil || !ok {
		t.Fatalf("cluster not listed: %v", err)
	}
	if kc, err := k.KubeConfig(name); err != nil || !strings.Contains(kc, "server:") {
		t.Fatalf("kubeconfig: %v", err)
	}
}

// NewKindProvider says what is missing: no engine client at all, or a
// client whose engine does not answer (the docker client alone is enough
// for kind to pick docker). The clients are stand-ins on PATH: a script
// that answers `docker -v` as the real client does and fails every other
// command as it does with no daemon.
func TestKindProviderSaysWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		clients map[string]string
		want    string
	}{
		{"no client", nil, "no container engine client is installed (none of docker, podman or nerdctl is on PATH)"},
		{"a docker client without its daemon", map[string]string{"docker": `#!/bin/sh
if [ "$1" = -v ]; then echo "Docker version 28.2.2, build e6534b4"; exit 0; fi
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
`}, "a container engine client is installed, but its engine does not answer (is the Docker daemon, or podman's or containerd's service, running and reachable by this user?): failed to list clusters: " +
			`command "docker ps -a --filter label=io.x-k8s.kind.cluster --format '{{.Label "io.x-k8s.kind.cluster"}}'" failed with error: exit status 1: ` +
			"Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, script := range tc.clients {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", dir)
			k, err := NewKindProvider(t.Logf)
			if err == nil {
				if c, ok := k.(io.Closer); ok {
					_ = c.Close()
				}
				t.Fatal("NewKindProvider succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// kind's kubeconfig goes to a private folder of the adapter, different for
// each adapter and removed by Close, never to a fixed file in /tmp.
func TestKindAdapterKubeconfigFolder(t *testing.T) {
	a, err := newKindAdapter(kindcluster.NewProvider(kindcluster.ProviderWithDocker()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := newKindAdapter(kindcluster.NewProvider(kindcluster.ProviderWithDocker()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := a.discardKubeconfigPath()
	if p == b.discardKubeconfigPath() || filepath.Dir(p) != a.dir {
		t.Errorf("kubeconfig paths %s and %s: want one private folder per adapter", p, b.discardKubeconfigPath())
	}
	st, err := os.Stat(a.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", st.Mode().Perm())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.dir); !os.IsNotExist(err) {
		t.Errorf("the folder survived Close: %v", err)
	}
}

func TestSyncMachineLabelsArgs(t *testing.T) {
	t.Parallel()
	const flag = SyncMachineLabelsFlag
	base := []string{"--leader-elect", "--diagnostics-address=:8443", "--feature-gates=MachinePool=true"}
	with := func(args ...string) []string { return append(slices.Clone(base), args...) }
	for _, tc := range []struct {
		name           string
		args, patterns []string
		want           []string
	}{
		{"add", base, []string{`nvidia\.com/.*`}, with(flag + `=nvidia\.com/.*`)},
		{"add several, joined by commas", base, []string{`nvidia\.com/.*`, `example\.org/gpu-.*`}, with(flag + `=nvidia\.com/.*,example\.org/gpu-.*`)},
		{"a pattern with a comma is quoted", nil, []string{`a{1,3}`, `b`}, []string{flag + `="a{1,3}",b`}},
		{"already right: unchanged", with(flag + "=x/.*"), []string{"x/.*"}, with(flag + "=x/.*")},
		{"replace in place",
			[]string{"--leader-elect", flag + "=old/.*", "--v=2"}, []string{"new/.*"},
			[]string{"--leader-elect", flag + "=new/.*", "--v=2"}},
		{"replace the separate-value form",
			[]string{"--leader-elect", flag, "old/.*", "--v=2"}, []string{"new/.*"},
			[]string{"--leader-elect", flag + "=new/.*", "--v=2"}},
		{"several occurrences become one",
			[]string{flag + "=a", "--leader-elect", flag + "=b", flag, "c"}, []string{"d"},
			[]string{flag + "=d", "--leader-elect"}},
		{"no patterns: removed", with(flag+"=a", flag, "b"), nil, base},
		{"no patterns, no flag: unchanged", base, nil, base},
		{"a similar flag is kept", with("--additional-sync-machine-annotations=x"), []string{"y"},
			with("--additional-sync-machine-annotations=x", flag+"=y")},
		{"no args", nil, []string{"y"}, []string{flag + "=y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.args)
			got := syncMachineLabelsArgs(tc.args, tc.patterns)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if !slices.Equal(tc.args, orig) {
				t.Errorf("the input was modified: %q", tc.args)
			}
			if again := syncMachineLabelsArgs(got, tc.patterns); !slices.Equal(again, got) {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}
