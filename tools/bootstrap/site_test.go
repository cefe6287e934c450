package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"filippo.io/age"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// repoRoot is the repository's root. The sites these tests read are the
// test fleet's (testdata/fleet), not the operator's clusters/.
const repoRoot = "../.."

func TestSiteOptionsDryRun(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int32
	opts, err := SiteOptions(context.Background(), SiteInput{
		FS:      testrepo.FleetFS(),
		RepoDir: "checkout",
		Site:    "edi",
		Charts: fetcherFunc(func(context.Context, string, string, string) (*chart.Chart, error) {
			fetches.Add(1)
			return nil, nil
		}),
		DeployKeyFile:    "key",
		KnownHostsFile:   "known_hosts",
		TargetKubeconfig: "edi-edi-mgmt.kubeconfig",
		DryRun:           true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("a dry run fetched %d chart(s)", n)
	}
	if opts.Site != "edi" || opts.ManagementCluster != "edi-mgmt" {
		t.Errorf("site %q cluster %q", opts.Site, opts.ManagementCluster)
	}
	id := identityOf(opts)
	if id != resolve.ReleaseIdentity("edi", "edi-mgmt") || id.StorageNamespace != "edi-mgmt" || id.ReleaseName != "edi-mgmt" {
		t.Errorf("identity %+v", id)
	}
	if opts.ClusterChart == nil || opts.ClusterChart.Metadata.Name != "openstack-cluster" {
		t.Errorf("cluster chart %v", opts.ClusterChart)
	}
	if opts.ClusterValues["clusterName"] != "edi-mgmt" || opts.ClusterValues["cloudCredentialsSecretName"] != "edi-cloud-credentials" {
		t.Errorf("cluster values %v", opts.ClusterValues)
	}
	if opts.CredentialsSecret != "edi-cloud-credentials" {
		t.Errorf("credentials secret %q", opts.CredentialsSecret)
	}
	want := ProviderVersions{Core: "v1.14.2", Bootstrap: "v1.14.2", ControlPlane: "v1.14.2", Infrastructure: "v0.13.1"}
	if opts.Providers != want {
		t.Errorf("providers %+v, want %+v", opts.Providers, want)
	}
	if opts.ProviderRepository != filepath.Join("checkout", "providers") {
		t.Errorf("provider repository %q", opts.ProviderRepository)
	}
	if opts.KindNodeImage != "kindest/node:v1.36.1" || opts.Flux.Version != "v2.9.5" || opts.Flux.ManifestsDir != "" {
		t.Errorf("kind image %q, flux %q %q", opts.KindNodeImage, opts.Flux.Version, opts.Flux.ManifestsDir)
	}
	gen, err := os.ReadFile(filepath.Join(repoRoot, testrepo.FleetDir, "clusters", "edi", "generated", "flux-system", "gotk-sync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(opts.Flux.SyncManifests, gen) {
		t.Errorf("sync manifests differ from the committed tree:\n%s", opts.Flux.SyncManifests)
	}
	if root, err := rootKustomization(opts.Flux.SyncManifests); err != nil || root.String() != "flux-system/flux-system" {
		t.Errorf("root kustomization %v %v", root, err)
	}
	if opts.Flux.DeployKeyFile != "key" || opts.Flux.KnownHostsFile != "known_hosts" || opts.TargetKubeconfig != "edi-edi-mgmt.kubeconfig" || !opts.DryRun {
		t.Errorf("inputs not passed through: %+v", opts.Flux)
	}
	var names []string
	for _, a := range opts.BasePlatform {
		names = append(names, a.Namespace+"/"+a.ReleaseName+" "+a.ChartRef.Name+"@"+a.ChartRef.Version)
		if a.Chart != nil {
			t.Errorf("%s: a dry run has a chart", a.ReleaseName)
		}
	}
	if got, want := strings.Join(names, ","), "tigera-operator/cni tigera-operator@v3.32.1,kube-system/cloud-controller openstack-cloud-controller-manager@2.35.0"; got != want {
		t.Errorf("base platform %s, want %s", got, want)
	}
	ccm := opts.BasePlatform[1]
	if len(ccm.ValuesFrom) != 1 || ccm.ValuesFrom[0] != (SecretValue{SecretName: "edi-cloud-credentials", Key: "cloud-conf-values.yaml"}) {
		t.Errorf("cloud controller valuesFrom %+v", ccm.ValuesFrom)
	}
	// The plan of a dry run runs offline.
	var lines []string
	opts.Log = func(f string, a ...any) { lines = append(lines, f) }
	if err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(Plan(opts)) {
		t.Errorf("dry run logged %d lines", len(lines))
	}

	// lon: its own management cluster and providers, no local repository.
	lon, err := SiteOptions(context.Background(), SiteInput{FS: testrepo.FleetFS(), Site: "lon", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if lon.ManagementCluster != "lon-mgmt" || lon.ProviderRepository != "" || len(lon.BasePlatform) != 2 {
		t.Errorf("lon: %s %q %d", lon.ManagementCluster, lon.ProviderRepository, len(lon.BasePlatform))
	}
	if lon.TargetKubeconfig != "lon-lon-mgmt.kubeconfig" {
		t.Errorf("lon: default kubeconfig file %q", lon.TargetKubeconfig)
	}
	// lon syncs the GPU label domain; edi lists nothing.
	if got := strings.Join(lon.SyncMachineLabels, " "); got != `nvidia\.com/.*` {
		t.Errorf("lon: SyncMachineLabels %q", got)
	}
	if len(opts.SyncMachineLabels) != 0 {
		t.Errorf("edi: SyncMachineLabels %q, want none", opts.SyncMachineLabels)
	}
	for _, s := range Plan(lon) {
		mentions := strings.Contains(s.Description, SyncMachineLabelsFlag+`=nvidia\.com/.*`)
		if want := s.Name == StepProvidersEphemeral || s.Name == StepProvidersTarget; mentions != want {
			t.Errorf("lon: step %s mentions the flag: %v, want %v (%s)", s.Name, mentions, want, s.Description)
		}
	}
	for _, s := range Plan(opts) {
		if strings.Contains(s.Description, SyncMachineLabelsFlag) {
			t.Errorf("edi: step %s mentions %s though the site lists no label", s.Name, SyncMachineLabelsFlag)
		}
	}
}

func TestSiteOptionsErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := SiteOptions(ctx, SiteInput{FS: testrepo.FleetFS(), Site: "nowhere", DryRun: true}); err == nil || !strings.Contains(err.Error(), `no site "nowhere"`) {
		t.Errorf("unknown site: %v", err)
	}
	// The example sites' repository is ssh://git@git.example.org/...: a
	// deploy key without known_hosts cannot work.
	_, err := SiteOptions(ctx, SiteInput{FS: testrepo.FleetFS(), Site: "edi", DeployKeyFile: "key", DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "--known-hosts FILE") || !strings.Contains(err.Error(), "ssh-keyscan git.example.org") {
		t.Errorf("ssh URL without known_hosts: %v", err)
	}
	// Not a dry run: the fetcher's error names the component.
	_, err = SiteOptions(ctx, SiteInput{FS: testrepo.FleetFS(), Site: "lon", Charts: fetcherFunc(func(_ context.Context, u, n, v string) (*chart.Chart, error) {
		return nil, os.ErrNotExist
	})})
	if err == nil || !strings.Contains(err.Error(), "base platform component cni") {
		t.Errorf("fetch error: %v", err)
	}
}

func TestSSHGitHost(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]string{
		"ssh://git@git.example.org/platform/fleet.git":      "git.example.org",
		"ssh://git@git.example.org:2222/platform/fleet.git": "git.example.org",
		"git@github.com:org/fleet.git":                      "github.com",
		"https://git.example.org/platform/fleet.git":        "",
		"file:///srv/fleet.git":                             "",
		"/srv/fleet.git":                                    "",
	} {
		host, ok := sshGitHost(u)
		if host != want || ok != (want != "") {
			t.Errorf("sshGitHost(%q) = %q, %t; want %q", u, host, ok, want)
		}
	}
}

type fetcherFunc func(ctx context.Context, repoURL, name, version string) (*chart.Chart, error)

func (f fetcherFunc) Fetch(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	return f(ctx, repoURL, name, version)
}

// TestHelmRepositoryFetcher serves a Helm repository (index.yaml and a chart
// archive packaged with the Helm SDK) from memory.
func TestHelmRepositoryFetcher(t *testing.T) {
	t.Parallel()
	ch := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "cni", Version: "v1.2.3", Type: "application"},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cni\n")}},
	}
	dir := t.TempDir()
	tgz, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	idx := repo.NewIndexFile()
	if err := idx.MustAdd(ch.Metadata, "charts/"+filepath.Base(tgz), "", hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	// An older version the fetcher must not fall back to.
	old := *ch.Metadata
	old.Version = "v1.2.0"
	if err := idx.MustAdd(&old, "charts/cni-v1.2.0.tgz", "", ""); err != nil {
		t.Fatal(err)
	}
	index, err := yaml.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/repo/index.yaml":
			_, _ = w.Write(index)
		case "/repo/charts/" + filepath.Base(tgz):
			_, _ = w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	f := HelmRepositoryFetcher{CacheDir: t.TempDir()}
	ctx := context.Background()
	got, err := f.Fetch(ctx, srv.URL+"/repo/", "cni", "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata.Name != "cni" || got.Metadata.Version != "v1.2.3" || len(got.Templates) != 1 {
		t.Errorf("fetched %v with %d templates", got.Metadata, len(got.Templates))
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (index and archive)", n)
	}
	// A second fetch is served from the cache.
	if _, err := f.Fetch(ctx, srv.URL+"/repo", "cni", "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("the cached chart was downloaded again (%d requests)", n)
	}
	for _, tc := range []struct{ name, version, want string }{
		{"cni", "v1.2.4", "no version v1.2.4"},
		{"cni", "v1.2.0", "404"},
		{"other", "v1.0.0", "no such chart"},
	} {
		if _, err := f.Fetch(ctx, srv.URL+"/repo", tc.name, tc.version); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want %q", tc.name, tc.version, err, tc.want)
		}
	}
	// A tampered archive fails the index's digest.
	bad := HelmRepositoryFetcher{Client: &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, ".tgz") {
			return &http.Response{StatusCode: 200, Status: "200 OK", Body: http.NoBody, Request: r}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})}}
	if _, err := bad.Fetch(ctx, srv.URL+"/repo", "cni", "v1.2.3"); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("tampered archive: %v", err)
	}
}

func TestCheckAgeKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	right := write("right", id.String()+"\n")
	wrong := write("wrong", other.String()+"\n")
	garbage := write("garbage", "AGE-SECRET-KEY-NOT-REALLY-CANARY\n")
	managed := &load.Site{File: "clusters/x/site.yaml"}
	managed.Spec.Secrets = &v1alpha1.Secrets{AgeRecipients: []string{id.Recipient().String()}}
	plain := &load.Site{File: "clusters/x/site.yaml"}
	for _, tc := range []struct {
		name string
		site *load.Site
		in   SiteInput
		err  string
	}{
		{name: "no secrets, no key", site: plain},
		{name: "no secrets, a key", site: plain, in: SiteInput{AgeKeyFile: right}, err: "no spec.secrets.ageRecipients"},
		{name: "secrets, no key", site: managed, err: "pass --age-key FILE"},
		{name: "secrets, no key, dry run", site: managed, in: SiteInput{DryRun: true}},
		{name: "the site's key", site: managed, in: SiteInput{AgeKeyFile: right}},
		{name: "another key", site: managed, in: SiteInput{AgeKeyFile: wrong}, err: "is not for any of the site's"},
		{name: "not a key", site: managed, in: SiteInput{AgeKeyFile: garbage}, err: "not an age identity file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAgeKey(tc.site, tc.in)
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			if err != nil && (strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "NOT-REALLY")) {
				t.Errorf("the error quotes the key file: %v", err)
			}
		})
	}
}
