// Package capienv runs Cluster API's own controllers and admission webhooks
// in process against a real kube-apiserver (envtest), for tests that must
// observe what Cluster API does with the chart's objects rather than
// predict it.
//
// Running: the Cluster, MachineDeployment, MachineSet and Machine
// reconcilers of Cluster API core (and MachineHealthCheck with
// Options.Boot), the KubeadmConfig reconciler of the
// kubeadm bootstrap provider and the KubeadmControlPlane reconciler, all of
// sigs.k8s.io/cluster-api at the version in go.mod, with their ClusterCache,
// and the admission webhooks of the three (defaulting and validation) served
// by a controller-runtime webhook server that envtest registers. The CRDs
// are Cluster API's own from its module and the OpenStack provider's real
// CRDs (envtestutil.CAPOCRDDir, from cluster-api-provider-openstack),
// labelled with their contract versions as the providers' kustomizations
// label them.
//
// The one stand-in is the OpenStack provider (see openstack.go): no cloud
// is reachable here, so a minimal controller marks an OpenStackCluster
// ready with an API endpoint and an OpenStackMachine ready with a provider
// ID once its Machine has bootstrap data, and holds their deletion with a
// finalizer as CAPO does until the "cloud resources" are gone.
//
// What is not here, and what it means: no kube-controller-manager (so no
// garbage collector: objects whose owners are deleted stay, see
// Env.CollectGarbage), no Nodes and no kubeadm (so no Machine gets a Node
// and the control plane never reports itself initialized:
// KubeadmControlPlane makes its first Machine and no more, its preflight
// checks waiting for that Machine's Node; a rolling control plane fails
// its reconcile where it reads kubeadm's ConfigMap in the workload
// cluster, after it has marked its Machines UpToDate=False). Rollout
// decisions (a new MachineSet, a changed replica count, control plane
// Machines no longer UpToDate) and deletion order are made before any of
// that matters.
//
// The environment takes about half a minute to start (the CRDs) and up to
// 15 s to stop on a busy machine: a test binary starts
// one, shared by its tests (Shared), and stops it in TestMain (Main).
// Tests isolate themselves by namespace.
package capienv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	bootstrapv1beta1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta1"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1beta1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta1"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1beta1 "sigs.k8s.io/cluster-api/api/core/v1beta1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/bootstrap/kubeadm/reconcilers/kubeadmconfig"
	bootstrapadmission "sigs.k8s.io/cluster-api/bootstrap/kubeadm/webhooks/admission"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/controlplane/kubeadm/reconcilers/kubeadmcontrolplane"
	controlplaneadmission "sigs.k8s.io/cluster-api/controlplane/kubeadm/webhooks/admission"
	"sigs.k8s.io/cluster-api/core/reconcilers/cluster"
	"sigs.k8s.io/cluster-api/core/reconcilers/machine"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinedeployment"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinehealthcheck"
	"sigs.k8s.io/cluster-api/core/reconcilers/machineset"
	"sigs.k8s.io/cluster-api/core/setup"
	coreadmission "sigs.k8s.io/cluster-api/core/webhooks/admission"
	"sigs.k8s.io/cluster-api/util/kubeconfig"

	"github.com/capiform/capiform/tools/envtestutil"
)

// Contract labels: Cluster API finds the API version of a referenced kind
// from its CRD's label for the contract (internal/contract), as set by
// each provider's config/crd kustomization.
var (
	capiContract = map[string]string{"cluster.x-k8s.io/v1beta1": "v1beta1", "cluster.x-k8s.io/v1beta2": "v1beta2"}
	capoContract = map[string]string{"cluster.x-k8s.io/v1beta1": "v1beta1"}
)

// Env is a running API server with Cluster API's controllers.
type Env struct {
	// Config is an admin rest.Config of the API server.
	Config *rest.Config
	// Client reads from the API server directly (no cache), so a test
	// sees every write at once.
	Client client.Client
	// Kubeconfig is an admin kubeconfig for the API server.
	Kubeconfig []byte

	env      *envtest.Environment
	workload *rest.Config
	// workloads are the workload clusters given their own API server
	// (SetWorkload), by namespace/name of their Cluster.
	workloads sync.Map
	cancel    context.CancelFunc
	done      chan error
}

// Scheme knows the Kubernetes, CRD and Cluster API types; the OpenStack
// provider's kinds are handled as unstructured objects.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		clusterv1.AddToScheme, bootstrapv1.AddToScheme, controlplanev1.AddToScheme,
		// The webhooks' builder registers the older versions' converters.
		clusterv1beta1.AddToScheme, bootstrapv1beta1.AddToScheme, controlplanev1beta1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// Options of Start.
type Options struct {
	// ClusterAPIDir is the cluster-api module's folder (CRDs and webhook
	// manifests); CAPODir the OpenStack provider's CRDs.
	ClusterAPIDir, CAPODir string
	// Log receives the controllers' logs; nil discards them.
	Log *os.File
	// CRDLabels are added to every CRD, beside the contract labels: a
	// test of clusterctl gives clusterctl's own label
	// (clusterctl.cluster.x-k8s.io), which its move requires.
	CRDLabels map[string]string
	// Workload is the API server that plays the workload clusters: the
	// address the stand-in gives every OpenStackCluster as its control
	// plane endpoint, where KubeconfigSecret points, and where booted
	// servers register their Nodes. Nil is this environment's own.
	// Env.SetWorkload gives one cluster an API server of its own.
	Workload *rest.Config
	// Boot makes the stand-in play what a booted server does beyond the
	// cloud (see openstack.go): the kubelet registers a Ready Node with the
	// server's provider ID in the workload cluster, and the first control
	// plane server runs kubeadm init (kube-system/kubeadm-config). With it,
	// KubeadmControlPlane reports the control plane initialized, every
	// Machine gets its Node and workers are made; without, the cluster
	// stops at its first control plane Machine.
	Boot bool
}

// Start starts the API server, installs the CRDs and webhooks and runs the
// controllers until Stop.
func Start(opts Options) (_ *Env, err error) {
	logger := logr.Discard()
	if opts.Log != nil {
		logger = ctrlzap.New(ctrlzap.WriteTo(opts.Log), ctrlzap.UseDevMode(true))
	}
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	crds, err := loadCRDs(opts)
	if err != nil {
		return nil, err
	}
	hooks, err := webhookOptions(opts.ClusterAPIDir)
	if err != nil {
		return nil, err
	}
	scheme := Scheme()
	// No Scheme for envtest: it would turn the CRDs of convertible types
	// into conversion webhooks; the objects here are all of the storage
	// versions and need none.
	te := &envtest.Environment{
		CRDs:                  crds,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: hooks,
		// envtest leaves a process that does not stop in time running.
		ControlPlaneStopTimeout: time.Minute,
	}
	// On SIGTERM kube-apiserver waits for its in-flight requests, up to
	// the request timeout (1 min by default), and one of the stopped
	// controllers' requests stays in flight: a shorter timeout bounds the
	// stop, and no request here needs longer.
	te.ControlPlane.GetAPIServer().Configure().Set("request-timeout", "15s")
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	e := &Env{Config: cfg, env: te, workload: opts.Workload}
	if e.workload == nil {
		e.workload = cfg
	}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	user, err := te.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	if e.Kubeconfig, err = user.KubeConfig(); err != nil {
		return nil, err
	}
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}

	wo := te.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Client: client.Options{Cache: &client.CacheOptions{
			// As every Cluster API binary: Secrets and ConfigMaps read live.
			DisableFor:   []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}},
			Unstructured: true,
		}},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir,
		}),
		HealthProbeBindAddress: "0",
		Logger:                 logger,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if err := setupControllers(ctx, mgr, opts.Boot); err != nil {
		return nil, err
	}
	if err := setupWebhooks(mgr); err != nil {
		return nil, err
	}
	if err := setupOpenStack(mgr, e.workloadOf, opts.Boot); err != nil {
		return nil, err
	}
	e.done = make(chan error, 1)
	go func() { e.done <- mgr.Start(ctx) }()
	if err := waitForWebhooks(ctx, wo.LocalServingHost, wo.LocalServingPort); err != nil {
		return nil, err
	}
	return e, nil
}

// Stop stops the controllers and the API server.
func (e *Env) Stop() error {
	var errs []error
	if e.cancel != nil {
		e.cancel()
		if e.done != nil {
			if err := <-e.done; err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, err)
			}
		}
	}
	start := time.Now()
	errs = append(errs, e.env.Stop())
	if d := time.Since(start); d > 10*time.Second {
		fmt.Fprintf(os.Stderr, "capienv: the API server took %s to stop\n", d.Round(time.Second))
	}
	return errors.Join(errs...)
}

func loadCRDs(opts Options) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, src := range []struct {
		dir    string
		labels map[string]string
	}{
		{filepath.Join(opts.ClusterAPIDir, "core", "config", "crd", "bases"), with(capiContract, opts.CRDLabels)},
		{filepath.Join(opts.ClusterAPIDir, "bootstrap", "kubeadm", "config", "crd", "bases"), with(capiContract, opts.CRDLabels)},
		{filepath.Join(opts.ClusterAPIDir, "controlplane", "kubeadm", "config", "crd", "bases"), with(capiContract, opts.CRDLabels)},
		{opts.CAPODir, with(capoContract, opts.CRDLabels)},
	} {
		files, err := filepath.Glob(filepath.Join(src.dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("no CRDs under %s", src.dir)
		}
		for _, f := range files {
			got, err := envtestutil.DecodeCRDs(f, src.labels)
			if err != nil {
				return nil, err
			}
			crds = append(crds, got...)
		}
	}
	return crds, nil
}

func with(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// webhookOptions reads the webhook configurations that the three
// providers install (config/webhook/manifests.yaml); each provider names
// its own the same, so they are told apart by a suffix, as in Cluster
// API's own test environment.
func webhookOptions(capiDir string) (envtest.WebhookInstallOptions, error) {
	var opts envtest.WebhookInstallOptions
	for _, p := range []struct{ dir, suffix string }{
		{filepath.Join(capiDir, "core"), "core"},
		{filepath.Join(capiDir, "bootstrap", "kubeadm"), "bootstrap"},
		{filepath.Join(capiDir, "controlplane", "kubeadm"), "controlplane"},
	} {
		path := filepath.Join(p.dir, "config", "webhook", "manifests.yaml")
		raw, err := os.ReadFile(path)
		if err != nil {
			return opts, err
		}
		for _, doc := range envtestutil.SplitYAML(raw) {
			var head metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &head); err != nil {
				return opts, fmt.Errorf("%s: %w", path, err)
			}
			switch head.Kind {
			case "MutatingWebhookConfiguration":
				w := &admissionv1.MutatingWebhookConfiguration{}
				if err := yaml.UnmarshalStrict(doc, w); err != nil {
					return opts, fmt.Errorf("%s: %w", path, err)
				}
				w.Name += "-" + p.suffix
				opts.MutatingWebhooks = append(opts.MutatingWebhooks, w)
			case "ValidatingWebhookConfiguration":
				w := &admissionv1.ValidatingWebhookConfiguration{}
				if err := yaml.UnmarshalStrict(doc, w); err != nil {
					return opts, fmt.Errorf("%s: %w", path, err)
				}
				w.Name += "-" + p.suffix
				opts.ValidatingWebhooks = append(opts.ValidatingWebhooks, w)
			}
		}
	}
	if len(opts.MutatingWebhooks) == 0 || len(opts.ValidatingWebhooks) == 0 {
		return opts, fmt.Errorf("no webhook configurations under %s", capiDir)
	}
	return opts, nil
}

// setupControllers wires the reconcilers as Cluster API's three managers
// (core, kubeadm bootstrap, kubeadm control plane) wire them, in one
// manager sharing one ClusterCache.
func setupControllers(ctx context.Context, mgr ctrl.Manager, boot bool) error {
	secretClient, err := setup.CreateSecretCachingClient(mgr)
	if err != nil {
		return err
	}
	cc, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient: secretClient,
		Cache:        setup.ClusterCacheCacheOptions(),
		Client:       setup.ClusterCacheClientOptions("capienv", 20, 30),
	}, controller.Options{MaxConcurrentReconciles: 5, SkipNameValidation: ptrTo(true)})
	if err != nil {
		return fmt.Errorf("cluster cache: %w", err)
	}
	opts := controller.Options{MaxConcurrentReconciles: 5, SkipNameValidation: ptrTo(true)}
	grace := 2 * time.Minute
	for name, r := range map[string]interface {
		SetupWithManager(context.Context, ctrl.Manager, controller.Options) error
	}{
		"Cluster": &cluster.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: cc, RemoteConnectionGracePeriod: grace,
		},
		"Machine": &machine.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: cc, RemoteConditionsGracePeriod: grace,
		},
		"MachineSet": &machineset.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: cc,
			PreflightChecks: allPreflightChecks(),
		},
		"MachineDeployment": &machinedeployment.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		},
		"KubeadmConfig": &kubeadmconfig.Reconciler{
			Client: mgr.GetClient(), SecretCachingClient: secretClient, APIReader: mgr.GetAPIReader(), ClusterCache: cc,
			TokenTTL: 15 * time.Minute,
		},
		"KubeadmControlPlane": &kubeadmcontrolplane.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), SecretCachingClient: secretClient, ClusterCache: cc,
			EtcdDialTimeout: 2 * time.Second, EtcdCallTimeout: 2 * time.Second, RemoteConditionsGracePeriod: grace,
			// No etcd answers here (see openstack.go): its client's retries
			// are noise.
			EtcdLogger: zap.NewNop(),
		},
	} {
		if err := r.SetupWithManager(ctx, mgr, opts); err != nil {
			return fmt.Errorf("%s controller: %w", name, err)
		}
	}
	// The health check only where Machines get Nodes (Options.Boot):
	// elsewhere it would remediate every Machine once its node startup
	// timeout passed.
	if boot {
		r := &machinehealthcheck.Reconciler{Client: mgr.GetClient(), ClusterCache: cc}
		if err := r.SetupWithManager(ctx, mgr, opts); err != nil {
			return fmt.Errorf("MachineHealthCheck controller: %w", err)
		}
	}
	return nil
}

func setupWebhooks(mgr ctrl.Manager) error {
	for _, w := range []interface{ SetupWebhookWithManager(ctrl.Manager) error }{
		&coreadmission.Cluster{Client: mgr.GetClient()},
		&coreadmission.Machine{},
		&coreadmission.MachineSet{},
		&coreadmission.MachineDeployment{},
		&coreadmission.MachineHealthCheck{},
		&bootstrapadmission.KubeadmConfig{},
		&bootstrapadmission.KubeadmConfigTemplate{},
		&controlplaneadmission.KubeadmControlPlane{},
		&controlplaneadmission.ScaleValidator{Client: mgr.GetClient()},
	} {
		if err := w.SetupWebhookWithManager(mgr); err != nil {
			return fmt.Errorf("webhook %T: %w", w, err)
		}
	}
	return nil
}

func waitForWebhooks(ctx context.Context, host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // only whether it listens
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhook server at %s did not start: %w", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// KubeconfigSecret is the <cluster>-kubeconfig Secret that points the
// workload cluster at the workload API server (Options.Workload, by default
// this same one), as Cluster API's own tests do: it must exist before the
// control plane makes one for an endpoint that does not exist here.
func (e *Env) KubeconfigSecret(namespace, clusterName string) *corev1.Secret {
	c := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: clusterName}}
	s := kubeconfig.GenerateSecret(c, kubeconfig.FromEnvTestConfig(e.workloadOf(namespace, clusterName), c))
	// Made before the Cluster: KubeadmControlPlane adopts it (a Secret of
	// Cluster API's type) as it adopts one left by a move.
	s.OwnerReferences = nil
	return s
}

// SetWorkload gives one workload cluster its own API server, cfg, in place
// of Options.Workload: where its kubeconfig Secret points, its control
// plane endpoint, and where its booted servers register. Clusters that
// install the same addons need apart servers, as real clusters are: their
// releases share names and namespaces. Call it before KubeconfigSecret
// and before the cluster's objects are made.
func (e *Env) SetWorkload(namespace, clusterName string, cfg *rest.Config) {
	e.workloads.Store(namespace+"/"+clusterName, cfg)
}

// workloadOf is the API server of a workload cluster.
func (e *Env) workloadOf(namespace, clusterName string) *rest.Config {
	if cfg, ok := e.workloads.Load(namespace + "/" + clusterName); ok {
		return cfg.(*rest.Config)
	}
	return e.workload
}

var (
	sharedOnce sync.Once
	shared     *Env
	sharedErr  error
)

// Shared returns the environment of the test binary, starting it on first
// use; it skips the test where the envtest binaries are missing.
func Shared(tb testing.TB) *Env {
	tb.Helper()
	envtestutil.RequireAssets(tb)
	sharedOnce.Do(func() {
		var opts Options
		if opts, sharedErr = DefaultOptions(tb); sharedErr != nil {
			return
		}
		shared, sharedErr = Start(opts)
	})
	if sharedErr != nil {
		tb.Fatalf("Cluster API test environment: %v", sharedErr)
	}
	return shared
}

// DefaultOptions are the options of Shared: the CRDs of the cluster-api
// module and of testdata/crds, and the controllers' logs to the file
// named by $CAPIENV_LOG, if set.
func DefaultOptions(tb testing.TB) (Options, error) {
	tb.Helper()
	opts := Options{ClusterAPIDir: envtestutil.ModuleDir(tb, "sigs.k8s.io/cluster-api"), CAPODir: crdDir()}
	if p := os.Getenv("CAPIENV_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return opts, err
		}
		opts.Log = f
	}
	return opts, nil
}

// Main runs a test binary's tests and stops the shared environment if one
// was started: call it from TestMain as os.Exit(capienv.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the Cluster API test environment: %v\n", err)
		}
	}
	return code
}

// allPreflightChecks is the MachineSet controller's default
// (--machineset-preflight-checks=All).
func allPreflightChecks() sets.Set[clusterv1.MachineSetPreflightCheck] {
	return sets.New(clusterv1.MachineSetPreflightCheckAll)
}

// crdDir is the OpenStack provider's CRDs.
func crdDir() string { return envtestutil.CAPOCRDDir() }

func ptrTo[T any](v T) *T { return &v }
