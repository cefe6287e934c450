package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	clusterctlcluster "sigs.k8s.io/cluster-api/cmd/clusterctl/client/cluster"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/config"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/capiform/capiform/tools/envtestutil"
	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/resolve"
)

// The pivot is tested against two real API servers (envtest): one plays
// the ephemeral kind cluster, the other the new management cluster. In
// TestPivot no controllers run on them, so a fake Cluster API (fakeCAPI below) does what
// the providers would: it sets owner references, creates Machines and the
// kubeconfig Secret, and writes status through the status subresource.
// clusterctl's Move, the Helm SDK and Flux's manifest generator are real.

type testEnvs struct {
	eph, tgt *envtestutil.Env
}

func startEnvs(t *testing.T) testEnvs {
	t.Helper()
	envtestutil.RequireAssets(t)
	label := map[string]string{clusterctlv1.ClusterctlLabel: ""}
	crds := envtestutil.ClusterAPICRDs(t, label)
	crds = append(crds, envtestutil.ReadCRDs(t, filepath.Join("testdata", "crds", "openstack.yaml"), label)...)
	return testEnvs{eph: envtestutil.Start(t, crds), tgt: envtestutil.Start(t, crds)}
}

func newClient(t *testing.T, cfg *rest.Config) ctrlclient.Client {
	t.Helper()
	c, err := ctrlclient.New(cfg, ctrlclient.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The management cluster's options come from the example site edi
// (SiteOptions in dry-run mode: the real charts/openstack-cluster with the
// values resolve gives edi-mgmt). Each case pivots its own cluster on the
// same two API servers, so the resolved values are kept but the cluster is
// renamed (clusterName, and with it the release identity). The base
// platform keeps the resolved names' shape and values but installs a small
// stand-in chart: the real CNI and cloud controller charts come from the
// network.
var (
	ediOnce sync.Once
	ediOpts Options
	ediErr  error
)

func exampleSite(t *testing.T) Options {
	t.Helper()
	ediOnce.Do(func() {
		ediOpts, ediErr = SiteOptions(context.Background(), SiteInput{FS: testrepo.FleetFS(), Site: "edi", DryRun: true})
	})
	if ediErr != nil {
		t.Fatal(ediErr)
	}
	return ediOpts
}

// testOptions are the options of site edi whose management cluster is
// renamed name.
func testOptions(t *testing.T, e testEnvs, name string) Options {
	t.Helper()
	site := exampleSite(t)
	addon, err := loader.Load(filepath.Join("testdata", "charts", "addon"))
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "deploy-key")
	if err := os.WriteFile(key, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ageKeyFile := filepath.Join(t.TempDir(), "age.agekey")
	if err := os.WriteFile(ageKeyFile, []byte("# an age key made for this test\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	values := normalize(site.ClusterValues)
	values["clusterName"] = name
	var base []AddonRelease
	for _, a := range site.BasePlatform {
		a.ReleaseName = name + "-" + a.ReleaseName
		a.Chart = addon
		base = append(base, a)
	}
	return Options{
		Site:              site.Site,
		ManagementCluster: name,
		Providers:         site.Providers,
		ClusterChart:      site.ClusterChart,
		ClusterValues:     values,
		CredentialsSecret: site.CredentialsSecret,
		BasePlatform:      base,
		Flux: FluxOptions{
			ManifestsDir:  filepath.Join("testdata", "flux-manifests"),
			SyncManifests: site.Flux.SyncManifests,
			DeployKeyFile: key,
			AgeKeyFile:    ageKeyFile,
		},
		InjectEphemeral:         e.eph.Config,
		SyncMachineLabels:       testSyncMachineLabels,
		InjectProviderInstaller: &fakeProviders{},
		Log:                     func(f string, a ...any) { t.Logf(f, a...) },
		Timeouts:                Timeouts{ControlPlaneInitialized: 30 * time.Second, Ready: 30 * time.Second, Providers: 30 * time.Second, Flux: 30 * time.Second, Poll: 100 * time.Millisecond},
	}
}

func TestPivot(t *testing.T) {
	t.Parallel() // beside TestPivotWithClusterAPIControllers
	e := startEnvs(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("end to end, then a second run changes nothing", func(t *testing.T) {
		opts := testOptions(t, e, "mgmt-a")
		stop := startControllers(ctx, t, e, opts)
		defer stop()
		// The order of the writes to the target: the adoption upgrade must
		// be done before Flux gets the site's objects (from then on
		// helm-controller may upgrade the same release).
		var mu sync.Mutex
		var writes []string
		o := opts
		o.InjectWrapTransport = func(role string, rt http.RoundTripper) http.RoundTripper {
			if role != RoleTarget {
				return rt
			}
			return roundTripper(func(req *http.Request) (*http.Response, error) {
				if req.Method != http.MethodGet {
					mu.Lock()
					writes = append(writes, req.Method+" "+req.URL.Path)
					mu.Unlock()
				}
				return rt.RoundTrip(req)
			})
		}
		start := time.Now()
		if err := Run(ctx, o); err != nil {
			t.Fatalf("Run: %v", err)
		}
		adopted, synced := -1, -1
		for i, w := range writes {
			if adopted < 0 && strings.HasSuffix(w, "/secrets/sh.helm.release.v1.mgmt-a.v2") {
				adopted = i
			}
			if synced < 0 && strings.Contains(w, "/gitrepositories/") {
				synced = i
			}
		}
		if adopted < 0 || synced < 0 || synced < adopted {
			t.Errorf("target writes: adoption upgrade recorded at %d, Flux's GitRepository applied at %d; want the upgrade first", adopted, synced)
		}
		t.Logf("first run took %s", time.Since(start).Round(time.Millisecond))
		before := assertPivoted(t, e, "mgmt-a")
		ephCAPI, tgtCAPI := coreController(t, e.eph.Config, RoleEphemeral), coreController(t, e.tgt.Config, RoleTarget)
		if err := Run(ctx, opts); err != nil {
			t.Fatalf("second Run: %v", err)
		}
		after := assertPivoted(t, e, "mgmt-a")
		if diff := diffSnapshots(before, after); diff != "" {
			t.Errorf("the second run changed the management cluster:\n%s", diff)
		}
		for _, c := range []struct {
			role   string
			cfg    *rest.Config
			before *appsv1.Deployment
		}{{RoleEphemeral, e.eph.Config, ephCAPI}, {RoleTarget, e.tgt.Config, tgtCAPI}} {
			if now := coreController(t, c.cfg, c.role); now.ResourceVersion != c.before.ResourceVersion {
				t.Errorf("%s: the second run changed the core controller's Deployment (resourceVersion %s -> %s)", c.role, c.before.ResourceVersion, now.ResourceVersion)
			}
		}

		// clusterctl upgrade of the core provider rewrites the Deployment
		// without the flag (and with another pattern left by hand): a
		// rerun of the completed bootstrap sets exactly the site's again.
		tgtClient := newClient(t, e.tgt.Config)
		upgraded := coreController(t, e.tgt.Config, RoleTarget)
		upgraded.Spec.Template.Spec.Containers[0].Args = append(slices.Clone(coreControllerArgs), SyncMachineLabelsFlag, "stale/.*")
		if err := tgtClient.Update(ctx, upgraded); err != nil {
			t.Fatal(err)
		}
		if err := Run(ctx, opts); err != nil {
			t.Fatalf("Run after an upgrade of the core provider: %v", err)
		}
		coreController(t, e.tgt.Config, RoleTarget)
	})

	t.Run("stop after each step, then resume", func(t *testing.T) {
		opts := testOptions(t, e, "mgmt-b")
		// An autoscaled node group: the chart adds the cluster autoscaler
		// (ServiceAccount, Role, RoleBinding, Deployment), kinds clusterctl
		// does not move.
		group := opts.ClusterValues["nodeGroups"].([]any)[0].(map[string]any)
		delete(group, "machineCount")
		group["autoscale"] = map[string]any{"min": 1, "max": 3}
		stop := startControllers(ctx, t, e, opts)
		defer stop()
		for _, s := range Plan(opts) {
			o := opts
			o.StopAfter = s.Name
			err := Run(ctx, o)
			if s.Name == StepCleanup {
				// The last step: Run is complete, whether it stops or not.
				if err != nil && !errors.Is(err, ErrStopped) {
					t.Fatalf("Run until %s: %v", s.Name, err)
				}
				continue
			}
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("Run until %s: got %v, want ErrStopped", s.Name, err)
			}
		}
		if err := Run(ctx, opts); err != nil {
			t.Fatalf("final Run: %v", err)
		}
		assertPivoted(t, e, "mgmt-b")
		var d appsv1.Deployment
		if err := newClient(t, e.tgt.Config).Get(ctx, ctrlclient.ObjectKey{Namespace: "mgmt-b", Name: "mgmt-b-autoscaler"}, &d); err != nil {
			t.Errorf("the autoscaler on the target: %v", err)
		}
	})

	// The fault table (faults_test.go): each point of the move x each
	// kind. The cases run in parallel, each on its own cluster name.
	t.Run("faults", func(t *testing.T) {
		for _, tc := range faultTable {
			t.Run(tc.point.name+" "+tc.kind, func(t *testing.T) {
				t.Parallel()
				testFault(ctx, t, e, tc)
			})
		}
	})

	t.Run("kind path: kubeconfig file, marker, cleanup, reruns", func(t *testing.T) {
		testKindPath(ctx, t, e)
	})

	t.Run("verify: a moved object deleted or recreated, a second release", func(t *testing.T) {
		testVerifyNegative(ctx, t, e)
	})

	t.Run("no unpause once the move began deleting the source", func(t *testing.T) {
		testNoUnpauseAfterDeletion(ctx, t, e)
	})

	t.Run("preflight lists every problem", func(t *testing.T) {
		testPreflight(ctx, t, e)
	})

	t.Run("bad input is refused before anything is paused", func(t *testing.T) {
		testBadInput(ctx, t, e)
	})

	t.Run("verify: a secret left behind by the move", func(t *testing.T) {
		testSecretLeftBehind(ctx, t, e)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// fakeProviders records providers in clusterctl's inventory as Init would;
// the CRDs are installed with the API servers. It does not run clusterctl
// Init, which needs the providers' controllers and the network.
type fakeProviders struct{}

func (fakeProviders) Init(ctx context.Context, kubeconfig string, providers []Provider) error {
	cfgClient, err := config.New(ctx, "")
	if err != nil {
		return err
	}
	cc := clusterctlcluster.New(clusterctlcluster.Kubeconfig{Path: kubeconfig}, cfgClient)
	if err := cc.ProviderInventory().EnsureCustomResourceDefinitions(ctx); err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := ctrlclient.New(rc, ctrlclient.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	for _, p := range providers {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.ManifestLabel() + "-system"}}
		if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		inv := &clusterctlv1.Provider{
			ObjectMeta:   metav1.ObjectMeta{Namespace: ns.Name, Name: p.ManifestLabel()},
			ProviderName: p.Name,
			Type:         string(p.Type),
			Version:      p.Version,
		}
		if err := c.Create(ctx, inv); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		if p.Type == clusterctlv1.CoreProviderType {
			if err := createCoreController(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Where clusterctl installs Cluster API core's controller.
const (
	coreControllerNamespace = "capi-system"
	coreControllerName      = "capi-controller-manager"
)

// coreControllerArgs are the manager's args as clusterctl renders
// core-components.yaml with its defaults (no sync-labels flag: there is no
// variable for it).
var coreControllerArgs = []string{
	"--leader-elect",
	"--diagnostics-address=:8443",
	"--insecure-diagnostics=false",
	"--feature-gates=MachinePool=true,ClusterTopology=false",
}

// createCoreController makes a minimal capi-controller-manager Deployment
// with clusterctl's labels, as clusterctl Init installs it. No controller
// runs it.
func createCoreController(ctx context.Context, c ctrlclient.Client) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: coreControllerNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	labels := map[string]string{
		clusterctlv1.ClusterctlLabel: "",
		clusterv1.ProviderNameLabel:  "cluster-api",
		"control-plane":              "controller-manager",
	}
	selector := map[string]string{"cluster.x-k8s.io/provider": "cluster-api", "control-plane": "controller-manager"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: coreControllerNamespace, Name: coreControllerName, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:    "manager",
					Image:   "registry.k8s.io/cluster-api/cluster-api-controller:v1.14.2",
					Command: []string{"/manager"},
					Args:    slices.Clone(coreControllerArgs),
				}}},
			},
		},
	}
	if err := c.Create(ctx, d); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// testSyncMachineLabels are the site's spec.syncMachineLabels in the
// tests; wantSyncArg the one arg they make.
var (
	testSyncMachineLabels = []string{`nvidia\.com/.*`, `example\.org/gpu-.*`}
	wantSyncArg           = SyncMachineLabelsFlag + `=nvidia\.com/.*,example\.org/gpu-.*`
)

// coreController reads the fake core controller's Deployment and checks
// that its manager has the default args plus exactly the site's flag.
func coreController(t *testing.T, cfg *rest.Config, role string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := newClient(t, cfg).Get(context.Background(), ctrlclient.ObjectKey{Namespace: coreControllerNamespace, Name: coreControllerName}, &d); err != nil {
		t.Fatalf("%s: core controller: %v", role, err)
	}
	want := append(slices.Clone(coreControllerArgs), wantSyncArg)
	if got := d.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, want) {
		t.Errorf("%s: core controller args %q, want %q", role, got, want)
	}
	return &d
}

// startControllers runs what reacts to the pivot on the two API servers
// of TestPivot for one cluster (opts.ManagementCluster) until stop is
// called. Cluster API's real controllers run in
// TestPivotWithClusterAPIControllers (controllers_test.go), on API servers
// of their own: a cluster takes them a minute or more to make, and some
// cases here need one that stays unprovisioned.
var startControllers = fakeCAPI

// endpointOf is an API server's address as Cluster API records it in
// Cluster.spec.controlPlaneEndpoint.
func endpointOf(t *testing.T, cfg *rest.Config) clusterv1.APIEndpoint {
	t.Helper()
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("API server %s: %v", cfg.Host, err)
	}
	return clusterv1.APIEndpoint{Host: u.Hostname(), Port: int32(port)}
}

// fakeCAPI plays Cluster API's controllers for one cluster on the
// ephemeral API server, and Flux's kustomize-controller on the target.
func fakeCAPI(ctx context.Context, t *testing.T, e testEnvs, opts Options) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	eph, tgt := newClient(t, e.eph.Config), newClient(t, e.tgt.Config)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := provision(ctx, eph, opts.ManagementCluster, opts.CredentialsSecret, e.tgt.Kubeconfig, endpointOf(t, e.tgt.Config)); err != nil && ctx.Err() == nil {
				t.Logf("fake CAPI: %v", err)
			}
			if err := fluxReady(ctx, tgt); err != nil && ctx.Err() == nil {
				t.Logf("fake Flux: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// The kinds of charts/openstack-cluster that Cluster API's controllers
// give an owner reference to the Cluster: the infrastructure cluster, the
// control plane, the MachineDeployments, and the templates and health
// checks (the MachineDeployment, KubeadmControlPlane and MachineHealthCheck
// controllers adopt them). clusterctl's move follows these references.
var ownedByCluster = []schema.GroupVersionKind{
	{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackCluster"},
	{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackMachineTemplate"},
	{Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmConfigTemplate"},
	{Group: "controlplane.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmControlPlane"},
	{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "MachineDeployment"},
	{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "MachineHealthCheck"},
}

// provision does what the providers do once the chart's objects exist:
// owner references, one Machine (and OpenStackMachine) per control plane
// and MachineDeployment, the kubeconfig and CA secrets, and status written
// through the status subresource so that the cluster looks provisioned
// (OpenStackCluster ready, MachineDeployments available, Machines with a
// node, the Cluster's initialization and conditions). No controller
// runs; the chart's objects themselves are as Helm created them.
func provision(ctx context.Context, c ctrlclient.Client, name, credentials string, kubeconfig []byte, endpoint clusterv1.APIEndpoint) error {
	ns := resolve.ClusterNamespace(name)
	var cl clusterv1.Cluster
	if err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &cl); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if ptr.Deref(cl.Spec.Paused, false) || ptr.Deref(cl.Status.Initialization.InfrastructureProvisioned, false) {
		return nil
	}
	// Helm applies the chart's objects one by one; the controllers here act
	// once, so they wait until the release is deployed (all objects exist).
	var storage corev1.SecretList
	if err := c.List(ctx, &storage, ctrlclient.InNamespace(ns), ctrlclient.MatchingLabels{"owner": "helm", "name": name, "status": "deployed"}); err != nil {
		return err
	}
	if len(storage.Items) == 0 {
		return nil
	}
	clusterOwner := metav1.OwnerReference{APIVersion: clusterv1.GroupVersion.String(), Kind: "Cluster", Name: name, UID: cl.UID}
	var kcps, mds []metav1.OwnerReference
	for _, gvk := range ownedByCluster {
		var list unstructured.UnstructuredList
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, &list, ctrlclient.InNamespace(ns)); err != nil {
			return err
		}
		for i := range list.Items {
			u := &list.Items[i]
			if len(u.GetOwnerReferences()) == 0 {
				base := u.DeepCopy()
				u.SetOwnerReferences([]metav1.OwnerReference{clusterOwner})
				if err := c.Patch(ctx, u, ctrlclient.MergeFrom(base)); err != nil {
					return err
				}
			}
			ref := metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: u.GetName(), UID: u.GetUID()}
			switch gvk.Kind {
			case "KubeadmControlPlane":
				kcps = append(kcps, ref)
			case "MachineDeployment":
				mds = append(mds, ref)
			case "OpenStackCluster":
				// CAPO reports the network and the API server's load
				// balancer through status; ready is what Cluster API reads.
				base := u.DeepCopy()
				_ = unstructured.SetNestedField(u.Object, true, "status", "ready")
				_ = unstructured.SetNestedField(u.Object, true, "status", "initialization", "provisioned")
				if err := c.Status().Patch(ctx, u, ctrlclient.MergeFrom(base)); err != nil {
					return err
				}
			}
		}
	}
	if len(kcps) != 1 || len(mds) == 0 {
		return fmt.Errorf("the chart made %d KubeadmControlPlane(s) and %d MachineDeployment(s)", len(kcps), len(mds))
	}
	create := func(obj ctrlclient.Object) error {
		if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return nil
	}
	secrets := []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resolve.KubeconfigSecretName(name), OwnerReferences: []metav1.OwnerReference{clusterOwner}}, Data: map[string][]byte{"value": kubeconfig}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-ca", OwnerReferences: []metav1.OwnerReference{kcps[0]}}, Data: map[string][]byte{"tls.crt": []byte("ca")}},
		// Created by the operator before bootstrap: linked to nothing, so the
		// pivot labels it for move.
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: credentials}, Data: map[string][]byte{"clouds.yaml": []byte("clouds: {}"), "cloud.conf": []byte(testCloudConf), "cloud-conf-values.yaml": []byte(testCloudConfValues)}},
	}
	for _, s := range secrets {
		if err := create(s); err != nil {
			return err
		}
	}
	for _, owner := range append(kcps, mds...) {
		mname := owner.Name + "-0"
		labels := map[string]string{clusterv1.ClusterNameLabel: name}
		if owner.Kind == "KubeadmControlPlane" {
			labels[clusterv1.MachineControlPlaneLabel] = ""
		} else {
			labels[clusterv1.MachineDeploymentNameLabel] = owner.Name
		}
		machine := &clusterv1.Machine{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: mname, Labels: labels, OwnerReferences: []metav1.OwnerReference{owner}},
			Spec: clusterv1.MachineSpec{
				ClusterName:       name,
				Version:           "v1.36.1",
				Bootstrap:         clusterv1.Bootstrap{DataSecretName: ptr.To(mname + "-bootstrap")},
				InfrastructureRef: clusterv1.ContractVersionedObjectReference{APIGroup: "infrastructure.cluster.x-k8s.io", Kind: "OpenStackMachine", Name: mname},
			},
		}
		if err := create(machine); err != nil {
			return err
		}
		if err := c.Get(ctx, ctrlclient.ObjectKeyFromObject(machine), machine); err != nil {
			return err
		}
		osm := &unstructured.Unstructured{}
		osm.SetAPIVersion("infrastructure.cluster.x-k8s.io/v1beta1")
		osm.SetKind("OpenStackMachine")
		osm.SetNamespace(ns)
		osm.SetName(mname)
		osm.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: clusterv1.GroupVersion.String(), Kind: "Machine", Name: mname, UID: machine.UID}})
		osm.Object["spec"] = map[string]any{"flavor": "standard.large"}
		if err := create(osm); err != nil {
			return err
		}
		base := machine.DeepCopy()
		machine.Status.NodeRef = clusterv1.MachineNodeReference{Name: mname}
		if err := c.Status().Patch(ctx, machine, ctrlclient.MergeFrom(base)); err != nil {
			return err
		}
	}
	now := metav1.Now()
	cond := func(t string) metav1.Condition {
		return metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: "Fake", LastTransitionTime: now}
	}
	for _, ref := range mds {
		var md clusterv1.MachineDeployment
		if err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: ref.Name}, &md); err != nil {
			return err
		}
		mdBase := md.DeepCopy()
		md.Status.ReadyReplicas = md.Spec.Replicas
		md.Status.Conditions = []metav1.Condition{cond(clusterv1.MachineDeploymentAvailableCondition)}
		if err := c.Status().Patch(ctx, &md, ctrlclient.MergeFrom(mdBase)); err != nil {
			return err
		}
	}
	// The Cluster last: its status is what says "provisioned". Cluster API
	// copies the infrastructure's API server address into the Cluster and
	// writes the kubeconfig for it.
	if !cl.Spec.ControlPlaneEndpoint.IsValid() {
		base := cl.DeepCopy()
		cl.Spec.ControlPlaneEndpoint = endpoint
		if err := c.Patch(ctx, &cl, ctrlclient.MergeFrom(base)); err != nil {
			return err
		}
	}
	clBase := cl.DeepCopy()
	cl.Status.Initialization.InfrastructureProvisioned = ptr.To(true)
	cl.Status.Initialization.ControlPlaneInitialized = ptr.To(true)
	cl.Status.Conditions = []metav1.Condition{
		cond(clusterv1.ClusterControlPlaneInitializedCondition),
		cond(clusterv1.ClusterControlPlaneAvailableCondition),
		cond(clusterv1.ClusterAvailableCondition),
	}
	return c.Status().Patch(ctx, &cl, ctrlclient.MergeFrom(clBase))
}

const testCloudConf = "[Global]\nauth-url=https://keystone.example.org:5000\n"

// testCloudConfValues is the same [Global] as the cloud controller chart's
// values.
const testCloudConfValues = "cloudConfig:\n  global:\n    auth-url: https://keystone.example.org:5000\n"

// fluxReady marks the root Kustomization Ready, as kustomize-controller
// would once it has applied the tree.
func fluxReady(ctx context.Context, c ctrlclient.Client) error {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
	u.SetKind("Kustomization")
	if err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: fluxNamespace, Name: "flux-system"}, u); err != nil {
		if apierrors.IsNotFound(err) || isNoMatch(err) {
			return nil
		}
		return err
	}
	if _, ok, _ := unstructured.NestedSlice(u.Object, "status", "conditions"); ok {
		return nil
	}
	base := u.DeepCopy()
	_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{
		"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:fake",
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	}}, "status", "conditions")
	return c.Status().Patch(ctx, u, ctrlclient.MergeFrom(base))
}

// snapshot maps every object the pivot cares about on the target to its
// resourceVersion, plus the Helm revision.
type snapshot map[string]string

func diffSnapshots(a, b snapshot) string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		if a[k] != b[k] {
			out = append(out, fmt.Sprintf("%s: %q -> %q", k, a[k], b[k]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// expectedInventory lists what must move for cluster name: the objects of
// the chart's release manifest (on the target) that clusterctl moves, the
// Machines and OpenStackMachines the fake made for the control plane and
// each MachineDeployment (or, with real controllers, made: what they made,
// listed on the source before the move), the kubeconfig, CA and
// credentials Secrets and the release's first storage Secret.
func expectedInventory(t *testing.T, e testEnvs, name string, made []string) []string {
	t.Helper()
	ns := resolve.ClusterNamespace(name)
	ac, err := helmConfig(e.tgt.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := lastRelease(ac, name)
	if err != nil || rel == nil {
		t.Fatalf("release %s on the target: %v", name, err)
	}
	objs, err := decodeObjects([]byte(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	ephClient, tgtClient := newClient(t, e.eph.Config), newClient(t, e.tgt.Config)
	want := []string{
		"Secret " + ns + "/" + exampleSite(t).CredentialsSecret,
		"Secret " + ns + "/" + name + "-ca",
		"Secret " + ns + "/" + name + "-kubeconfig",
		"Secret " + ns + "/sh.helm.release.v1." + name + ".v1",
	}
	kinds := map[string]int{}
	for _, o := range objs {
		gk := o.GroupVersionKind().GroupKind()
		if !strings.HasSuffix(gk.Group, "cluster.x-k8s.io") {
			// Not moved by clusterctl (the autoscaler's Deployment and
			// RBAC): verify's upgrade makes them on the target and they
			// are deleted from the ephemeral cluster.
			u := o.DeepCopy()
			u.SetNamespace(ns)
			if err := tgtClient.Get(context.Background(), ctrlclient.ObjectKeyFromObject(u), u); err != nil {
				t.Errorf("on the target: %s %s: %v", gk, u.GetName(), err)
			}
			if err := ephClient.Get(context.Background(), ctrlclient.ObjectKeyFromObject(u), u); !apierrors.IsNotFound(err) {
				t.Errorf("left on the ephemeral cluster: %s %s (%v)", gk, u.GetName(), err)
			}
			continue
		}
		kinds[gk.Kind]++
		want = append(want, inventoryEntry(gk, ns, o.GetName()))
		if made == nil && (gk.Kind == "KubeadmControlPlane" || gk.Kind == "MachineDeployment") {
			want = append(want,
				"Machine.cluster.x-k8s.io "+ns+"/"+o.GetName()+"-0",
				"OpenStackMachine.infrastructure.cluster.x-k8s.io "+ns+"/"+o.GetName()+"-0")
		}
	}
	// edi-mgmt: one node group, autohealing on.
	for kind, n := range map[string]int{"Cluster": 1, "OpenStackCluster": 1, "KubeadmControlPlane": 1, "OpenStackMachineTemplate": 2, "KubeadmConfigTemplate": 1, "MachineDeployment": 1, "MachineHealthCheck": 2} {
		if kinds[kind] != n {
			t.Errorf("the chart made %d %s, want %d", kinds[kind], kind, n)
		}
	}
	return union(want, made)
}

// assertPivoted checks the end state of a pivot of cluster name and
// returns a snapshot of the target.
func assertPivoted(t *testing.T, e testEnvs, name string) snapshot {
	t.Helper()
	return assertPivotedWith(t, e, name, nil)
}

// assertPivotedWith is assertPivoted where real controllers made the
// cluster's objects: made lists them (see expectedInventory).
func assertPivotedWith(t *testing.T, e testEnvs, name string, made []string) snapshot {
	t.Helper()
	ctx := context.Background()
	eph, tgt := newClient(t, e.eph.Config), newClient(t, e.tgt.Config)
	ns := resolve.ClusterNamespace(name)
	snap := snapshot{}

	st, ok, err := loadState(ctx, tgt, name)
	if err != nil || !ok {
		t.Fatalf("no bootstrap state on the target: %v", err)
	}
	if st.Phase != phaseComplete {
		t.Errorf("phase %q, want %q", st.Phase, phaseComplete)
	}
	// Every object the chart and the fake providers made must have moved:
	// the inventory is compared against an independent expectation, read
	// from the release's manifest.
	want := expectedInventory(t, e, name, made)
	if missing := difference(want, st.Inventory); len(missing) > 0 {
		t.Errorf("the recorded inventory lacks %v", missing)
	}
	all := union(want, st.Inventory)
	for _, entry := range all {
		u, err := entryObject(tgt, entry)
		if err != nil {
			t.Fatal(err)
		}
		if err := tgt.Get(ctx, ctrlclient.ObjectKeyFromObject(u), u); err != nil {
			t.Errorf("on the target: %s: %v", entry, err)
			continue
		}
		snap[entry] = u.GetResourceVersion()
		if exists, err := entryExists(ctx, eph, entry); err != nil || exists {
			t.Errorf("still on the ephemeral cluster: %s (%v)", entry, err)
		}
	}
	var cl clusterv1.Cluster
	if err := tgt.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &cl); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(cl.Spec.Paused, false) {
		t.Errorf("Cluster %s is paused on the target", name)
	}

	// Adoption: one release, on the target, upgraded in place once by
	// verify (revision 2), with no storage of that name anywhere else.
	ac, err := helmConfig(e.tgt.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	last, err := lastRelease(ac, name)
	if err != nil || last == nil {
		t.Fatalf("release %s on the target: %v", name, err)
	}
	// The chart was installed once on the ephemeral cluster (revision 1,
	// moved); adoption is a second revision installed on the target, seen
	// in Helm's storage there, not the number the pivot recorded.
	if last.Version != 2 || last.Info.Status != "deployed" || st.VerifiedRevision != 2 {
		t.Errorf("release revision %d (%s), verified %d; want 2 (the moved revision 1, upgraded once on the target)", last.Version, last.Info.Status, st.VerifiedRevision)
	}
	for rev, status := range map[int]string{1: "superseded", 2: "deployed"} {
		var storage corev1.Secret
		if err := tgt.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: fmt.Sprintf("sh.helm.release.v1.%s.v%d", name, rev)}, &storage); err != nil {
			t.Errorf("Helm storage of revision %d on the target: %v", rev, err)
		} else if storage.Labels["status"] != status {
			t.Errorf("Helm storage of revision %d on the target: status %q, want %q", rev, storage.Labels["status"], status)
		}
	}
	if last.ApplyMethod != "ssa" {
		t.Errorf("release apply method %q, want ssa", last.ApplyMethod)
	}
	snap["helm revision"] = fmt.Sprint(last.Version)
	if dups, err := duplicateReleases(ctx, tgt, name, ns); err != nil || len(dups) > 0 {
		t.Errorf("duplicate releases: %v %v", dups, err)
	}
	if dups, err := duplicateReleases(ctx, eph, name, ns); err != nil || len(dups) > 0 {
		t.Errorf("release storage left on the ephemeral cluster: %v %v", dups, err)
	}
	var clusters clusterv1.ClusterList
	if err := tgt.List(ctx, &clusters); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range clusters.Items {
		if c.Name == name {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d Clusters named %s on the target, want 1", n, name)
	}

	// Base platform under the addon releases' identities (the resolved
	// namespaces, release names prefixed by the cluster's for the test).
	for _, a := range exampleSite(t).BasePlatform {
		rel := name + "-" + a.ReleaseName
		ac, err := helmConfig(e.tgt.Config, a.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		r, err := lastRelease(ac, rel)
		if err != nil || r == nil {
			t.Errorf("addon release %s/%s: %v", a.Namespace, rel, err)
			continue
		}
		snap["addon "+rel] = fmt.Sprint(r.Version)
		// The cloud controller's cloud.conf came from the credentials
		// Secret (valuesFrom), not from the options.
		for _, vf := range a.ValuesFrom {
			if vf.TargetPath == "" {
				cc, _ := r.Config["cloudConfig"].(map[string]any)
				g, _ := cc["global"].(map[string]any)
				if g["auth-url"] != "https://keystone.example.org:5000" || cc["loadBalancer"] == nil {
					t.Errorf("addon release %s: cloudConfig = %v, want the Secret's global beside the site's loadBalancer", rel, cc)
				}
				continue
			}
			if got := r.Config[vf.TargetPath]; got != testCloudConf {
				t.Errorf("addon release %s: value %s = %q, want the Secret's %s", rel, vf.TargetPath, got, vf.Key)
			}
		}
	}
	// Flux: its CRDs, the deploy key and the site's objects.
	var key corev1.Secret
	if err := tgt.Get(ctx, ctrlclient.ObjectKey{Namespace: fluxNamespace, Name: "flux-system"}, &key); err != nil {
		t.Errorf("deploy key: %v", err)
	} else {
		snap["deploy key"] = key.ResourceVersion
	}
	// The site's age key, for kustomize-controller to decrypt with.
	var ageSecret corev1.Secret
	if err := tgt.Get(ctx, ctrlclient.ObjectKey{Namespace: fluxNamespace, Name: AgeKeySecret}, &ageSecret); err != nil {
		t.Errorf("age key: %v", err)
	} else {
		ids, err := age.ParseIdentities(bytes.NewReader(ageSecret.Data[AgeKeyKey]))
		if err != nil || len(ids) != 1 || len(ageSecret.Data) != 1 {
			t.Errorf("age key secret holds keys %v, not the age key file as %s", slices.Collect(maps.Keys(ageSecret.Data)), AgeKeyKey)
		}
		snap["age key"] = ageSecret.ResourceVersion
	}
	for _, kind := range []string{"GitRepository", "Kustomization"} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(map[string]string{"GitRepository": "source.toolkit.fluxcd.io/v1", "Kustomization": "kustomize.toolkit.fluxcd.io/v1"}[kind])
		u.SetKind(kind)
		if err := tgt.Get(ctx, ctrlclient.ObjectKey{Namespace: fluxNamespace, Name: "flux-system"}, u); err != nil {
			t.Errorf("flux %s: %v", kind, err)
			continue
		}
		snap["flux "+kind] = u.GetResourceVersion()
	}
	return snap
}

func testPreflight(ctx context.Context, t *testing.T, e testEnvs) {
	name := "mgmt-p"
	opts := testOptions(t, e, name)
	o := opts
	o.StopAfter = StepClusterChart
	if err := Run(ctx, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run until %s: %v", StepClusterChart, err)
	}
	// No fake CAPI here: the cluster stays unprovisioned. Add a secret
	// nothing links to and a provider CRD without clusterctl's label.
	eph := newClient(t, e.eph.Config)
	// <cluster>-foo is named after the Cluster but with a purpose
	// clusterctl does not know: it stays behind like any stray secret;
	// <cluster>-etcd is linked by name.
	for _, n := range []string{"stray", name + "-foo", name + "-etcd"} {
		stray := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: n}}
		if err := eph.Create(ctx, stray); err != nil {
			t.Fatal(err)
		}
	}
	crd := envtestutil.ReadCRDs(t, filepath.Join("testdata", "crds", "openstack.yaml"), nil)[0].DeepCopy()
	crd.Name = "widgets.infrastructure.cluster.x-k8s.io"
	crd.Spec.Names.Kind, crd.Spec.Names.ListKind, crd.Spec.Names.Plural, crd.Spec.Names.Singular = "Widget", "WidgetList", "widgets", "widget"
	crd.Labels = nil
	if err := eph.Create(ctx, crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eph.Delete(context.Background(), crd) })

	r := &runner{opts: opts, id: identityOf(opts), timeouts: opts.Timeouts.withDefaults()}
	defer r.close()
	r.opts.InjectTarget = e.tgt.Config
	err := stepPreflight(ctx, r)
	if err == nil {
		t.Fatal("preflight passed")
	}
	for _, want := range []string{
		"CustomResourceDefinition widgets.infrastructure.cluster.x-k8s.io lacks the label",
		"Secret " + name + "/stray is linked to no Cluster",
		"Secret " + name + "/" + name + "-foo is linked to no Cluster",
		"Cluster " + name + "/" + name + " is still provisioning its infrastructure",
		"Cluster " + name + "/" + name + ": the control plane is not initialized",
		// The real chart's templates are named after a hash of their content.
		"OpenStackMachineTemplate.infrastructure.cluster.x-k8s.io " + name + "/" + name + "-md-0-",
		"MachineHealthCheck.cluster.x-k8s.io " + name + "/" + name + "-control-plane is linked to no Cluster",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("preflight error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), name+"-etcd") {
		t.Errorf("preflight flags %s-etcd, which clusterctl links to the Cluster by name:\n%v", name, err)
	}
	if strings.Contains(err.Error(), "cloud-credentials") || strings.Contains(err.Error(), "sh.helm.release") {
		t.Errorf("preflight flags secrets the next step labels:\n%v", err)
	}
}

// testNoUnpauseAfterDeletion: a failed move whose target lacks objects
// unpauses the source only when nothing was deleted from it yet.
func testNoUnpauseAfterDeletion(ctx context.Context, t *testing.T, e testEnvs) {
	name := "mgmt-u"
	opts := testOptions(t, e, name)
	opts.InjectTarget = e.tgt.Config
	eph := newClient(t, e.eph.Config)
	if err := eph.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	cl := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: name}, Spec: clusterv1.ClusterSpec{Paused: ptr.To(true), ClusterNetwork: clusterv1.ClusterNetwork{ServiceDomain: "cluster.local"}}}
	if err := eph.Create(ctx, cl); err != nil {
		t.Fatal(err)
	}
	marked := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "marked", Annotations: map[string]string{clusterctlv1.DeleteForMoveAnnotation: ""}}}
	if err := eph.Create(ctx, marked); err != nil {
		t.Fatal(err)
	}
	inv := []string{
		"Cluster.cluster.x-k8s.io " + name + "/" + name,
		"ConfigMap " + name + "/marked",
		"ConfigMap " + name + "/gone",
	}
	r := &runner{opts: opts, id: identityOf(opts), timeouts: opts.Timeouts.withDefaults()}
	defer r.close()
	src, err := r.ephemeralCluster(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := r.targetCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paused := func() bool {
		var got clusterv1.Cluster
		if err := eph.Get(ctx, ctrlclient.ObjectKeyFromObject(cl), &got); err != nil {
			t.Fatal(err)
		}
		return ptr.Deref(got.Spec.Paused, false)
	}

	unpaused, err := r.unpauseSourceAfterFailure(ctx, src, tgt, inv, name)
	if err == nil || unpaused {
		t.Fatalf("after deletions began: unpaused %t, err %v; want an error", unpaused, err)
	}
	for _, want := range []string{
		"missing on the management cluster (3)",
		"deleted from the ephemeral cluster (1):\n  ConfigMap " + name + "/gone",
		"on the ephemeral cluster (1):\n  ConfigMap " + name + "/marked",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !paused() {
		t.Errorf("the source was unpaused after the move had begun deleting it")
	}

	// Nothing deleted yet (every object there, none marked): unpause.
	gone := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "gone"}}
	if err := eph.Create(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := eph.Patch(ctx, marked, ctrlclient.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":null}}`))); err != nil {
		t.Fatal(err)
	}
	unpaused, err = r.unpauseSourceAfterFailure(ctx, src, tgt, inv, name)
	if err != nil || !unpaused {
		t.Fatalf("nothing deleted yet: unpaused %t, err %v; want unpaused", unpaused, err)
	}
	if paused() {
		t.Errorf("the source is still paused")
	}
}

// testVerifyNegative: verify fails, keeping the ephemeral cluster, when an
// object the move brought is missing on the target, when a release record
// of the same name exists in another namespace (even without Helm's
// labels), and when an object of the release was recreated after the move
// (same name, another UID: not the moved object).
func testVerifyNegative(ctx context.Context, t *testing.T, e testEnvs) {
	name := "mgmt-v"
	opts := testOptions(t, e, name)
	stop := startControllers(ctx, t, e, opts)
	defer stop()
	o := opts
	o.StopAfter = StepFlux
	if err := Run(ctx, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run until %s: %v", StepFlux, err)
	}
	tgt := newClient(t, e.tgt.Config)
	var templates unstructured.UnstructuredList
	templates.SetGroupVersionKind(schema.GroupVersionKind{Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmConfigTemplateList"})
	if err := tgt.List(ctx, &templates, ctrlclient.InNamespace(name)); err != nil || len(templates.Items) == 0 {
		t.Fatalf("KubeadmConfigTemplates on the target: %d, %v", len(templates.Items), err)
	}
	victim := templates.Items[0].DeepCopy()
	entry := inventoryEntry(victim.GroupVersionKind().GroupKind(), name, victim.GetName())
	if err := tgt.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	dupNS := "dup-" + name
	if err := tgt.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dupNS}}); err != nil {
		t.Fatal(err)
	}
	dup := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dupNS, Name: "sh.helm.release.v1." + name + ".v1"}}
	if err := tgt.Create(ctx, dup); err != nil {
		t.Fatal(err)
	}
	notComplete := func() {
		t.Helper()
		st, _, err := loadState(ctx, tgt, name)
		if err != nil || st.Phase == phaseComplete || st.VerifiedRevision != 0 {
			t.Errorf("verify recorded completion: %+v %v", st, err)
		}
	}

	// A rerun's move step would already notice the missing object; verify
	// must not rely on it.
	r := &runner{opts: opts, id: identityOf(opts), timeouts: opts.Timeouts.withDefaults()}
	defer r.close()
	err := stepVerify(ctx, r)
	if err == nil {
		t.Fatal("verify passed with a moved object deleted and a second release")
	}
	for _, want := range []string{
		"missing on the management cluster: " + entry,
		"storage Secret " + dupNS + "/" + dup.Name,
		"the ephemeral cluster is kept",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("verify error lacks %q:\n%v", want, err)
		}
	}
	notComplete()

	// The object is back under its name, but it is not the one the move
	// brought.
	if err := tgt.Delete(ctx, dup); err != nil {
		t.Fatal(err)
	}
	again := victim.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"} {
		unstructured.RemoveNestedField(again.Object, "metadata", f)
	}
	delete(again.Object, "status")
	if err := tgt.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	err = Run(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), entry+" is not the object the move brought") || !strings.Contains(err.Error(), "the ephemeral cluster is kept") {
		t.Errorf("verify with a recreated object: got %v, want it named as not the moved object", err)
	}
	notComplete()
}
