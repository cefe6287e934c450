package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeKind is a KindProvider whose one "kind cluster" is the ephemeral
// envtest API server: Create and Delete only flip whether it exists.
type fakeKind struct {
	kubeconfig []byte

	mu               sync.Mutex
	exists           map[string]bool
	created, deleted []string
}

func newFakeKind(kubeconfig []byte) *fakeKind {
	return &fakeKind{kubeconfig: kubeconfig, exists: map[string]bool{}}
}

func (k *fakeKind) List() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for n, ok := range k.exists {
		if ok {
			out = append(out, n)
		}
	}
	return out, nil
}

func (k *fakeKind) Create(name, _ string, _ time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.exists[name] {
		return fmt.Errorf("kind cluster %s exists", name)
	}
	k.exists[name] = true
	k.created = append(k.created, name)
	return nil
}

func (k *fakeKind) KubeConfig(name string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.exists[name] {
		return "", fmt.Errorf("no kind cluster %s", name)
	}
	return string(k.kubeconfig), nil
}

func (k *fakeKind) Delete(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.exists[name] = false
	k.deleted = append(k.deleted, name)
	return nil
}

func (k *fakeKind) calls() (created, deleted []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.created), slices.Clone(k.deleted)
}

// logRecorder keeps the log lines of a run.
type logRecorder struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(format string, args ...any) {
	l.t.Logf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logRecorder) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = nil
}

func (l *logRecorder) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// testKindPath runs the pivot through the kind adapter (a fake over the
// ephemeral API server) with a kubeconfig file for the target: the file and
// the marker beside it are written, cleanup deletes the kind cluster, a
// rerun without it does nothing, and a rerun that has lost the kubeconfig
// refuses to start a second pivot.
func testKindPath(ctx context.Context, t *testing.T, e testEnvs) {
	name := "mgmt-k"
	opts := testOptions(t, e, name)
	logs := &logRecorder{t: t}
	opts.Log = logs.logf
	opts.InjectEphemeral = nil
	kind := newFakeKind(e.eph.Kubeconfig)
	opts.InjectKind = kind
	out := filepath.Join(t.TempDir(), "site", name+".kubeconfig")
	opts.TargetKubeconfig = out
	kindName := opts.ephemeralName()
	host := strings.TrimSuffix(e.tgt.Config.Host, "/")

	// A deploy key others can read is worth a warning.
	if err := os.Chmod(opts.Flux.DeployKeyFile, 0o644); err != nil {
		t.Fatal(err)
	}

	stop := fakeCAPI(ctx, t, e, opts)
	defer stop()
	if err := Run(ctx, opts); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !logs.contains("readable by others") {
		t.Errorf("no warning about the deploy key's mode 0644")
	}
	assertPivoted(t, e, name)
	created, deleted := kind.calls()
	if !slices.Equal(created, []string{kindName}) || !slices.Equal(deleted, []string{kindName}) {
		t.Errorf("kind clusters created %v, deleted %v; want %s once each", created, deleted, kindName)
	}

	// The kubeconfig file: private, and it reaches the target.
	st, err := os.Stat(out)
	if err != nil {
		t.Fatalf("kubeconfig out: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig out mode %v, want 0600", st.Mode().Perm())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(cfg.Host, "/") != host {
		t.Errorf("kubeconfig out names %s, want the target %s", cfg.Host, host)
	}
	// The marker beside it.
	raw, err := os.ReadFile(out + ".state")
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	var m marker
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Phase != markerComplete || strings.TrimSuffix(m.Server, "/") != host || m.Cluster != name {
		t.Errorf("marker %+v, want phase %s, server %s", m, markerComplete, host)
	}
	if st, err := os.Stat(out + ".state"); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("marker mode: %v %v", st.Mode().Perm(), err)
	}

	// The kind cluster is gone; the target is found through the file.
	r := &runner{opts: opts, id: identityOf(opts), timeouts: opts.Timeouts.withDefaults()}
	moved, err := r.movedWithoutEphemeral(ctx)
	r.close()
	if err != nil || !moved {
		t.Errorf("movedWithoutEphemeral = %t, %v; want true", moved, err)
	}
	logs.reset()
	if err := Run(ctx, opts); err != nil {
		t.Fatalf("rerun without the kind cluster: %v", err)
	}
	if !logs.contains("nothing to do") {
		t.Errorf("the rerun did not say there is nothing to do")
	}
	if created, _ := kind.calls(); len(created) != 1 {
		t.Errorf("the rerun created a kind cluster: %v", created)
	}

	// The kubeconfig is lost (another folder, deleted) but the marker is
	// kept: no second kind cluster, no second chart.
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	err = Run(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "refusing to create the kind cluster") || !strings.Contains(err.Error(), "--kubeconfig-out") || !strings.Contains(err.Error(), host) {
		t.Errorf("rerun without the kubeconfig: got %v, want a refusal naming --kubeconfig-out and the target", err)
	}
	if created, _ := kind.calls(); len(created) != 1 {
		t.Errorf("a kind cluster was created again: %v", created)
	}

	// The same with a given ephemeral cluster that does not know the
	// target either: the cluster chart is refused.
	eph := newClient(t, e.eph.Config)
	cp := &corev1.Secret{}
	if err := eph.Get(ctx, targetKubeconfigCopy(name), cp); err != nil {
		t.Fatal(err)
	}
	if err := eph.Delete(ctx, cp); err != nil {
		t.Fatal(err)
	}
	o := opts
	o.InjectKind = nil
	o.InjectEphemeral = e.eph.Config
	err = Run(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "refusing to install the cluster chart") {
		t.Errorf("rerun on another ephemeral cluster without the kubeconfig: got %v, want the cluster chart refused", err)
	}
	var storage corev1.SecretList
	if err := eph.List(ctx, &storage, ctrlclient.InNamespace(name), ctrlclient.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		t.Fatal(err)
	}
	if len(storage.Items) > 0 {
		t.Errorf("the cluster chart was installed again on the ephemeral cluster: %d storage secret(s)", len(storage.Items))
	}
}
