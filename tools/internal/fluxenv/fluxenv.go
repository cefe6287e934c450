// Package fluxenv runs Flux on a test API server (capienv's envtest, with
// Cluster API's controllers), so that tests watch Flux fetch, build,
// decrypt, apply, health-check and prune a generated tree instead of
// predicting it.
//
// Real: source-controller and kustomize-controller v1.9.6 (Flux v2.9),
// built by the go command from their own modules (the module under
// controllers/, which pins them with the replacements of their own go.mod
// files) and run as child processes of the test against the API server.
// They cannot run in the test's process: their reconcilers are in their
// modules' internal/ packages, which Go lets no other module import, and
// their only other package is main. Their CRDs are installed from the
// same modules' config/crd/bases. Two deviations from a Flux install:
// source-controller is built with fluxcd/pkg/artifact v0.18.0, as the Go
// module proxy does not serve the v0.18.3 it requires (controllers/go.mod);
// kustomize-controller runs with the feature gate
// CancelHealthCheckOnNewRevision, as no Cluster becomes Available here
// (see Start).
//
// Stand-ins, each named so where it acts:
//   - helm-controller: its module is not on the Go module proxy. The
//     stand-in (helmrelease.go) does for each HelmRelease what
//     helm-controller does on the happy path: it makes the HelmChart of
//     spec.chart (or takes spec.chartRef's), lets the real
//     source-controller build the chart's artifact, waits for
//     spec.dependsOn, and installs or upgrades the release with the Helm
//     SDK exactly as the spec says, on the cluster of spec.kubeConfig
//     (values, valuesFrom and their targetPath included); what it does
//     not do, it refuses by name. Its CRD is helm-controller's own, from
//     the shared CRD folder.
//   - notification-controller's Receiver: its module is not on the proxy
//     either. The stand-in (receiver.go) serves /hook/<digest> as the
//     controller does, checks the request as the Receiver's type says and
//     annotates the Receiver's resources with
//     reconcile.fluxcd.io/requestedAt.
//
// The environment costs the build of the two controllers the first time
// (about 1900 packages: tens of minutes on a loaded 2-core machine; the go
// command caches the executables after) and seconds to start them.
package fluxenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
)

// Namespace is where Flux runs, as flux install puts it.
const Namespace = "flux-system"

// The controllers' packages, as main packages of the modules that
// controllers/go.mod pins.
const (
	SourceController    = "github.com/fluxcd/source-controller"
	KustomizeController = "github.com/fluxcd/kustomize-controller"
)

// Scheme knows the Kubernetes and Flux types the stand-ins and tests use.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme, helmv2.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// Options of Start.
type Options struct {
	// Config and Kubeconfig are an admin's of the API server.
	Config     *rest.Config
	Kubeconfig []byte
	// CRDDirs hold the CRDs to install: source-controller's and
	// kustomize-controller's, helm-controller's and
	// notification-controller's.
	CRDDirs []string
	// WorkDir holds the controllers' storage, kubeconfig and logs.
	WorkDir string
	// Binaries maps SourceController and KustomizeController to their
	// executables (see Build).
	Binaries map[string]string
	// RequeueDependency is how often kustomize-controller looks again at
	// a Kustomization whose dependencies are not ready (its
	// --requeue-dependency; Flux's default is 30s).
	RequeueDependency time.Duration
}

// Env is Flux running on an API server.
type Env struct {
	// Client reads from the API server directly.
	Client client.Client
	// Receiver is the Receiver stand-in's webhook server.
	Receiver *ReceiverServer
	// LogDir holds each controller's output (<name>.log).
	LogDir string

	cancel context.CancelFunc
	procs  []*proc
	wg     sync.WaitGroup
	mgrErr chan error
}

// ModuleDir is the folder of the module that pins the controllers.
func ModuleDir() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "controllers")
}

// Build builds the controllers from their modules and returns their
// executables by package. They are the go command's module tools
// (`go tool -n` builds one and prints its path): it keeps the linked
// executables in its build cache, so only the first run pays for the
// build.
func Build(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, pkg := range []string{SourceController, KustomizeController} {
		cmd := exec.CommandContext(ctx, "go", "tool", "-n", pkg)
		cmd.Dir = ModuleDir()
		// The controllers' module is not capiform's: a GOFLAGS=-mod=vendor
		// or a go.work of the caller must not apply to it.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go tool -n %s: %w\n%s", pkg, err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		out[pkg] = strings.TrimSpace(lines[len(lines)-1])
	}
	return out, nil
}

// CRDDir is the config/crd/bases folder of a controller's module, at the
// version the controllers' module pins (in the module cache once Build
// has run).
func CRDDir(module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = ModuleDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache", module)
	}
	return filepath.Join(dir, "config", "crd", "bases"), nil
}

// Start installs the CRDs, starts the two controllers and the stand-ins,
// and returns once the controllers report ready.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	scheme := Scheme()
	c, err := client.New(opts.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if _, err := envtest.InstallCRDs(opts.Config, envtest.CRDInstallOptions{
		Paths: opts.CRDDirs, ErrorIfPathMissing: true, Scheme: scheme,
	}); err != nil {
		return nil, fmt.Errorf("installing the Flux CRDs: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}

	e := &Env{Client: c, LogDir: filepath.Join(opts.WorkDir, "logs")}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	if err := os.MkdirAll(e.LogDir, 0o755); err != nil {
		return nil, err
	}
	storageDir := filepath.Join(opts.WorkDir, "storage")
	if err := os.MkdirAll(storageDir, 0o755); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(opts.WorkDir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, opts.Kubeconfig, 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	storage := "127.0.0.1:" + strconv.Itoa(ports[0])
	requeue := opts.RequeueDependency
	if requeue == 0 {
		requeue = 30 * time.Second
	}
	common := func(health int) []string {
		return []string{
			"--enable-leader-election=false",
			"--metrics-addr=0",
			"--health-addr=127.0.0.1:" + strconv.Itoa(health),
			"--log-level=debug",
			"--log-encoding=console",
		}
	}
	for _, p := range []struct {
		name, pkg string
		health    int
		args      []string
	}{
		{"source-controller", SourceController, ports[1], []string{
			"--storage-path=" + storageDir,
			"--storage-addr=" + storage, "--storage-adv-addr=" + storage,
		}},
		{"kustomize-controller", KustomizeController, ports[2], []string{
			"--no-remote-bases=true",
			"--requeue-dependency=" + requeue.String(),
			// No Cluster becomes Available on this API server (no
			// Nodes, no kubeadm), so a cluster's Kustomization waits in
			// its health check until its timeout (1h), holding a worker:
			// a new revision cancels that wait (a Flux feature gate, off
			// by default), and more workers than clusters keep the rest
			// going.
			"--feature-gates=CancelHealthCheckOnNewRevision=true",
			"--concurrent=10",
		}},
	} {
		bin := opts.Binaries[p.pkg]
		if bin == "" {
			return nil, fmt.Errorf("no executable for %s", p.pkg)
		}
		if err := e.run(p.name, bin, append(common(p.health), p.args...), kubeconfig, opts.WorkDir); err != nil {
			return nil, err
		}
		if err := waitReady(ctx, e.procs[len(e.procs)-1], "http://127.0.0.1:"+strconv.Itoa(p.health)+"/readyz"); err != nil {
			return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(e.LogDir, p.name+".log"))
		}
	}

	mctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if e.mgrErr, err = startHelmStandIn(mctx, opts.Config, scheme, &e.wg, filepath.Join(e.LogDir, "helm-controller-stand-in.log")); err != nil {
		return nil, err
	}
	e.Receiver = newReceiverServer(c)
	return e, nil
}

// run starts one controller as a child process, its output in its log.
func (e *Env) run(name, bin string, args []string, kubeconfig, workDir string) error {
	logf, err := os.Create(filepath.Join(e.LogDir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+kubeconfig,
		// Where the controllers look for their own namespace (events,
		// the global age key); they run in Flux's.
		"RUNTIME_NAMESPACE="+Namespace,
		"TMPDIR="+workDir,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	e.procs = append(e.procs, p)
	return nil
}

// proc is a running controller.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	// err is cmd.Wait's, once exited is closed.
	err error
}

// Stop stops the stand-ins, then each controller: SIGTERM, and SIGKILL
// after 15 s.
func (e *Env) Stop() error {
	var errs []error
	if e.Receiver != nil {
		e.Receiver.Close()
	}
	if e.cancel != nil {
		e.cancel()
		e.wg.Wait()
		if err := <-e.mgrErr; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	for _, p := range e.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			errs = append(errs, fmt.Errorf("%s did not stop on SIGTERM within 15s", p.name))
		}
	}
	e.procs = nil
	return errors.Join(errs...)
}

// Log returns the last n lines of a controller's log, for a failing
// test's message.
func (e *Env) Log(name string, n int) string {
	b, err := os.ReadFile(filepath.Join(e.LogDir, name+".log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls a controller's readiness endpoint for up to two
// minutes, failing at once when the process exits.
func waitReady(ctx context.Context, p *proc, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready: %v", p.name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after 2m", p.name)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePorts returns n ports free on the loopback interface now.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
