package bootstrap

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// KindProvider is the little of kind the pivot needs. The default adapter
// wraps sigs.k8s.io/kind/pkg/cluster; tests replace it.
type KindProvider interface {
	// List returns the names of the kind clusters that exist.
	List() ([]string, error)
	// Create creates a cluster and waits up to wait for its control plane.
	Create(name, nodeImage string, wait time.Duration) error
	// KubeConfig returns the cluster's kubeconfig for use from the host.
	KubeConfig(name string) (string, error)
	// Delete deletes the cluster.
	Delete(name string) error
}

// NewKindProvider returns the kind adapter over the container engine kind
// detects (docker, podman or nerdctl). It fails, saying what is missing,
// when no engine's client is installed or when the engine does not answer.
func NewKindProvider(log func(format string, args ...any)) (KindProvider, error) {
	runtime, err := kindcluster.DetectNodeProvider()
	if err != nil || runtime == nil {
		return nil, fmt.Errorf("kind: no container engine client is installed (none of docker, podman or nerdctl is on PATH): install one and start its engine")
	}
	p := kindcluster.NewProvider(runtime, kindcluster.ProviderWithLogger(kindLogger{log}))
	// kind picks an engine by its client alone (`docker -v` answers with no
	// daemon running), so ask the engine itself, with kind's own listing.
	if _, err := p.List(); err != nil {
		// The engine's own words (kind keeps them apart from its error).
		if re := kindexec.RunErrorForError(err); re != nil && len(bytes.TrimSpace(re.Output)) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.Join(strings.Fields(string(re.Output)), " "))
		}
		return nil, fmt.Errorf("kind: a container engine client is installed, but its engine does not answer (is the Docker daemon, or podman's or containerd's service, running and reachable by this user?): %w", err)
	}
	return newKindAdapter(p)
}

// kindAdapter is the default KindProvider. kind insists on writing a
// kubeconfig when it creates or deletes a cluster; it goes to a private
// folder (0700) of the adapter, removed by Close, so that neither the
// user's ~/.kube/config nor a shared, predictable file in /tmp is touched.
type kindAdapter struct {
	p   *kindcluster.Provider
	dir string
}

func newKindAdapter(p *kindcluster.Provider) (*kindAdapter, error) {
	dir, err := os.MkdirTemp("", "capiform-kind-")
	if err != nil {
		return nil, fmt.Errorf("kind: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("kind: %w", err)
	}
	return &kindAdapter{p: p, dir: dir}, nil
}

// Close removes the adapter's private folder.
func (k *kindAdapter) Close() error { return os.RemoveAll(k.dir) }

// discardKubeconfigPath is where kind writes the kubeconfig it insists on
// writing.
func (k *kindAdapter) discardKubeconfigPath() string {
	return filepath.Join(k.dir, "kind.kubeconfig")
}

func (k *kindAdapter) List() ([]string, error) { return k.p.List() }

func (k *kindAdapter) Create(name, nodeImage string, wait time.Duration) error {
	opts := []kindcluster.CreateOption{
		kindcluster.CreateWithWaitForReady(wait),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
		// Do not touch the user's kubeconfig: the pivot reads the kubeconfig
		// through KubeConfig.
		kindcluster.CreateWithKubeconfigPath(k.discardKubeconfigPath()),
	}
	if nodeImage != "" {
		opts = append(opts, kindcluster.CreateWithNodeImage(nodeImage))
	}
	return k.p.Create(name, opts...)
}

func (k *kindAdapter) KubeConfig(name string) (string, error) { return k.p.KubeConfig(name, false) }

func (k *kindAdapter) Delete(name string) error { return k.p.Delete(name, k.discardKubeconfigPath()) }

func kindExists(k KindProvider, name string) (bool, error) {
	names, err := k.List()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters: %w", err)
	}
	return slices.Contains(names, name), nil
}

// kindLogger sends kind's user-facing messages to the pivot's logger and
// drops its debug output.
type kindLogger struct{ log func(string, ...any) }

func (l kindLogger) printf(format string, args ...any) {
	if l.log != nil {
		l.log("kind: "+format, args...)
	}
}
func (l kindLogger) Warn(m string)                        { l.printf("%s", m) }
func (l kindLogger) Warnf(f string, a ...any)             { l.printf(f, a...) }
func (l kindLogger) Error(m string)                       { l.printf("%s", m) }
func (l kindLogger) Errorf(f string, a ...any)            { l.printf(f, a...) }
func (l kindLogger) V(v kindlog.Level) kindlog.InfoLogger { return kindInfo{l, v == 0} }

type kindInfo struct {
	l       kindLogger
	enabled bool
}

func (i kindInfo) Info(m string) {
	if i.enabled {
		i.l.printf("%s", m)
	}
}
func (i kindInfo) Infof(f string, a ...any) {
	if i.enabled {
		i.l.printf(f, a...)
	}
}
func (i kindInfo) Enabled() bool { return i.enabled }
