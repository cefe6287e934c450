package fluxloop

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/gittestserver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"

	"github.com/capiform/capiform/tools/diff"
	"github.com/capiform/capiform/tools/envtestutil"
	"github.com/capiform/capiform/tools/internal/capienv"
	"github.com/capiform/capiform/tools/internal/fluxenv"
	"github.com/capiform/capiform/tools/secrets"
)

// TestMain stops the Cluster API environment the test starts.
func TestMain(m *testing.M) { os.Exit(capienv.Main(m)) }

const (
	gitUser, gitPassword = "flux", "fluxloop-git-password"
	// receiverToken is the token the site's git host signs its webhooks
	// with, kept encrypted in the fleet.
	receiverToken = "fluxloop-receiver-token"
	mgmt          = "edi-mgmt"
)

// loop is the running environment of TestFluxLoop.
type loop struct {
	// t is the running scenario's; top is TestFluxLoop's.
	t, top *testing.T
	// workloads are the workload clusters' API servers, by cluster.
	workloads map[string]*rest.Config
	capi      *capienv.Env
	flux      *fluxenv.Env
	f         *fleet
	rec       *recorder
	// head is the last commit pushed.
	head string
	// receiver is the Receiver that every push calls, as the git host's
	// webhook does.
	receiver client.ObjectKey
	// lastRequest is the reconcile.fluxcd.io/requestedAt the last call
	// of the Receiver set on the GitRepository.
	lastRequest string
}

// TestFluxLoop runs the generated tree through Flux: the real
// source-controller and kustomize-controller (v1.9.6, child processes),
// Cluster API's controllers (capienv), the helm-controller stand-in (Helm
// SDK) and the Receiver stand-in, on one envtest API server (the
// management cluster), with an API server per workload cluster, the fleet
// served by a git server (fluxcd/pkg/gittestserver) and the platforms'
// charts by the stand-in chart server (serveStandInCharts). Each scenario
// is commits pushed to that server and announced to the Receiver, as the
// git host's webhook does; they run in order, each on what the one before
// left.
func TestFluxLoop(t *testing.T) {
	crds := envtestutil.FluxCRDDir()
	envtestutil.RequireAssets(t)
	l := &loop{t: t, top: t, workloads: map[string]*rest.Config{}}
	ctx := context.Background()

	// The first build of the controllers compiles about 1900 packages
	// (tens of minutes on a loaded 2-core machine); it may take all the
	// test binary's time but the five minutes the scenarios need.
	start := time.Now()
	deadline := start.Add(50 * time.Minute)
	if d, ok := t.Deadline(); ok {
		deadline = d.Add(-5 * time.Minute)
	}
	bctx, cancel := context.WithDeadline(ctx, deadline)
	bins, err := fluxenv.Build(bctx)
	cancel()
	if err != nil {
		t.Fatalf("building the controllers (the first time: cd tools/internal/fluxenv/controllers && go tool -n %s, then the same for %s, once): %v", fluxenv.SourceController, fluxenv.KustomizeController, err)
	}
	t.Logf("built source-controller and kustomize-controller in %s", time.Since(start).Round(time.Second))

	srv, err := gittestserver.NewTempGitServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(srv.Root()) })
	srv.Auth(gitUser, gitPassword).AutoCreate()
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	l.f = newFleet(t, srv.HTTPAddress()+"/fleet.git", gitUser, gitPassword)

	// Booted servers (capienv.Options.Boot): the control plane reports
	// itself initialized, which is when a cluster's addons start.
	opts, err := capienv.DefaultOptions(t)
	if err != nil {
		t.Fatal(err)
	}
	opts.Boot = true
	if l.capi, err = capienv.Start(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.capi.Stop(); err != nil {
			t.Errorf("stopping Cluster API's controllers: %v", err)
		}
	})
	work := t.TempDir()
	l.flux, err = fluxenv.Start(ctx, fluxenv.Options{
		Config: l.capi.Config, Kubeconfig: l.capi.Kubeconfig,
		CRDDirs:           []string{controllerCRDs(t, fluxenv.SourceController), controllerCRDs(t, fluxenv.KustomizeController), crds},
		WorkDir:           work,
		Binaries:          bins,
		RequeueDependency: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"source-controller", "kustomize-controller", "helm-controller-stand-in"} {
				t.Logf("last lines of %s:\n%s", name, l.flux.Log(name, 40))
			}
		}
		if err := l.flux.Stop(); err != nil {
			t.Errorf("stopping Flux: %v", err)
		}
	})
	l.rec = record(t, l.capi.Config,
		kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind),
		helmv2.GroupVersion.WithKind(helmv2.HelmReleaseKind),
		corev1.SchemeGroupVersion.WithKind("Secret"),
		clusterv1.GroupVersion.WithKind("Cluster"),
		clusterv1.GroupVersion.WithKind("MachineDeployment"),
		controlplanev1.GroupVersion.WithKind("KubeadmControlPlane"),
		capienv.OpenStackClusterGVK,
	)
	t.Logf("environment ready in %s", time.Since(start).Round(time.Second))

	for _, sc := range []struct {
		name string
		run  func(*loop)
	}{
		{"bootstrap", (*loop).bootstrap},
		{"new cluster", (*loop).newCluster},
		{"flavor change", (*loop).flavorChange},
		{"receiver", (*loop).receiverCall},
		{"deletion", (*loop).deletion},
	} {
		began := time.Now()
		ok := t.Run(sc.name, func(t *testing.T) {
			l.t, l.f.t = t, t
			sc.run(l)
		})
		t.Logf("%s: %s", sc.name, time.Since(began).Round(time.Second))
		if !ok {
			t.Fatalf("scenario %q failed; the later ones build on it", sc.name)
		}
	}
}

// controllerCRDs is a controller module's config/crd/bases.
func controllerCRDs(t *testing.T, module string) string {
	t.Helper()
	dir, err := fluxenv.CRDDir(module)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// wait polls cond for up to timeout, failing the test with what it was
// waiting for.
func (l *loop) wait(timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) {
	l.t.Helper()
	if err := capienv.Eventually(context.Background(), timeout, cond); err != nil {
		l.t.Fatal(err)
	}
}

// push pushes the fleet's changes and calls the Receiver, as the git
// host does on a push.
func (l *loop) push(msg string) {
	l.t.Helper()
	l.head = l.f.push(msg)
	if l.receiver.Name != "" {
		l.callReceiver()
	}
}

// revision is the Flux revision of the head commit.
func (l *loop) revision() string { return "main@sha1:" + l.head }

func (l *loop) kustomization(ctx context.Context, name string) (*kustomizev1.Kustomization, error) {
	k := &kustomizev1.Kustomization{}
	return k, l.flux.Client.Get(ctx, client.ObjectKey{Namespace: fluxenv.Namespace, Name: name}, k)
}

// readyAtHead waits for Kustomizations to be Ready with the head
// revision applied.
func (l *loop) readyAtHead(timeout time.Duration, names ...string) {
	l.t.Helper()
	l.wait(timeout, func(ctx context.Context) (bool, string, error) {
		for _, n := range names {
			k, err := l.kustomization(ctx, n)
			if err != nil {
				return false, "Kustomization " + n + ": " + err.Error(), nil
			}
			if !apimeta.IsStatusConditionTrue(k.Status.Conditions, meta.ReadyCondition) || k.Status.LastAppliedRevision != l.revision() {
				return false, fmt.Sprintf("Kustomization %s Ready at %s; it is %s at %q", n, l.revision(), condition(k.Status.Conditions), k.Status.LastAppliedRevision), nil
			}
		}
		return true, "", nil
	})
}

// installed waits for a cluster's HelmRelease to be installed at the
// head revision by the stand-in and returns it.
func (l *loop) installed(timeout time.Duration, cluster string, minRevision int) *helmv2.HelmRelease {
	l.t.Helper()
	hr := &helmv2.HelmRelease{}
	l.wait(timeout, func(ctx context.Context) (bool, string, error) {
		k, err := l.kustomization(ctx, cluster)
		if err != nil {
			return false, "Kustomization " + cluster + ": " + err.Error(), nil
		}
		if k.Status.LastAttemptedRevision != l.revision() {
			return false, fmt.Sprintf("Kustomization %s applying %s; it is at %q, %s", cluster, l.revision(), k.Status.LastAttemptedRevision, condition(k.Status.Conditions)), nil
		}
		if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: fluxenv.Namespace, Name: cluster}, hr); err != nil {
			return false, "HelmRelease " + cluster + ": " + err.Error(), nil
		}
		if !apimeta.IsStatusConditionTrue(hr.Status.Conditions, meta.ReadyCondition) || hr.Status.ObservedGeneration != hr.Generation || hr.Status.LastReleaseRevision < minRevision {
			return false, fmt.Sprintf("HelmRelease %s installed (revision >= %d): %s", cluster, minRevision, condition(hr.Status.Conditions)), nil
		}
		return true, "", nil
	})
	return hr
}

func condition(cs []metav1.Condition) string {
	c := apimeta.FindStatusCondition(cs, meta.ReadyCondition)
	if c == nil {
		return "no Ready condition"
	}
	return fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
}

// bootstrap: the generated flux-system applied as `capiform bootstrap`
// applies it (with the git credentials and the age key); every
// Kustomization of the site becomes Ready at the pushed revision in
// dependsOn order, the encrypted credentials arrive decrypted in each
// cluster's namespace before its HelmRelease, and every addon is
// installed in its cluster's workload API server, after its
// dependencies, with the values its HelmRelease gives.
func (l *loop) bootstrap() {
	t := l.t
	ctx := context.Background()
	clusters := []string{mgmt, "teaching"}
	for _, c := range clusters {
		l.workloadCluster(c)
	}
	l.push("bootstrap")

	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: fluxenv.Namespace, Name: "flux-system"},
			Data: map[string][]byte{"username": []byte(gitUser), "password": []byte(gitPassword)}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: fluxenv.Namespace, Name: "sops-age"},
			Data: map[string][]byte{secrets.DecryptionKey: []byte(l.f.id.String())}},
	} {
		if err := l.flux.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	sync := l.f.read("clusters/" + site + "/generated/flux-system/gotk-sync.yaml")
	for _, doc := range envtestutil.SplitYAML([]byte(sync)) {
		o := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &o.Object); err != nil {
			t.Fatal(err)
		}
		if len(o.Object) == 0 {
			continue
		}
		if err := l.flux.Client.Patch(ctx, o, client.Apply, client.FieldOwner("capiform-bootstrap"), client.ForceOwnership); err != nil { //nolint:staticcheck // unstructured apply
			t.Fatal(err)
		}
	}

	l.readyAtHead(5*time.Minute, "flux-system")
	l.ensureReceiver()
	for _, c := range clusters {
		l.readyAtHead(3*time.Minute, c+"-secrets")
		l.installed(3*time.Minute, c, 1)
		l.clusterObjects(3*time.Minute, c)
	}

	// Decrypted: the keys are those given to capiform secrets create.
	for _, c := range clusters {
		s := &corev1.Secret{}
		if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: c, Name: site + "-cloud-credentials"}, s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.Data["clouds.yaml"], cloudsYAML) || len(s.Data["cloud.conf"]) == 0 {
			t.Errorf("%s/%s: not the decrypted credentials (keys %v)", c, s.Name, keys(s.Data))
		}
	}
	// dependsOn order, by the API server's own sequence of writes: each
	// cluster's credentials were Ready before its HelmRelease was made.
	for _, c := range clusters {
		sec := l.rec.ready(t, "Kustomization", fluxenv.Namespace, c+"-secrets")
		cred := l.rec.at("Secret", c, site+"-cloud-credentials")
		hr := l.rec.ready(t, "HelmRelease", fluxenv.Namespace, c)
		if sec.ready == 0 || cred.added == 0 || hr.added == 0 || sec.ready > hr.added || cred.added > hr.added {
			t.Errorf("%s: %s-secrets Ready at %d and the credentials made at %d, want both before the HelmRelease (made at %d)", c, c, sec.ready, cred.added, hr.added)
		}
	}
	// The addons start once the cluster is up: each cluster's
	// Kustomization turns Ready when its control plane is initialized and
	// reachable (the stand-in's servers boot and run kubeadm init), though
	// the Cluster is not Available (nothing answers for etcd here, and a
	// real cloud's Nodes wait for the CNI, an addon); then its addons'
	// Kustomization applies every addon HelmRelease, each made after that
	// Ready, and turns Ready once the helm-controller stand-in has
	// installed them all, each after its dependencies, in the workload
	// cluster, from the stand-in chart server.
	for _, c := range clusters {
		l.readyAtHead(5*time.Minute, c)
		cl := &clusterv1.Cluster{}
		if err := l.capi.Client.Get(ctx, client.ObjectKey{Namespace: c, Name: c}, cl); err != nil {
			t.Fatal(err)
		}
		if apimeta.IsStatusConditionTrue(cl.Status.Conditions, clusterv1.AvailableCondition) {
			t.Errorf("Cluster %s is Available here: this test no longer shows that its addons start before Available", c)
		}
	}
	for _, c := range clusters {
		addons := l.addonReleases(c)
		if len(addons) == 0 {
			t.Fatalf("the generated tree has no addon HelmRelease for %s", c)
		}
		l.wait(5*time.Minute, func(ctx context.Context) (bool, string, error) {
			// The first release not Ready for a reason of its own, else
			// the first waiting for a dependency.
			var waiting []string
			for _, a := range addons {
				hr := &helmv2.HelmRelease{}
				if err := l.flux.Client.Get(ctx, client.ObjectKeyFromObject(a), hr); err != nil {
					return false, "addon HelmRelease " + c + "/" + a.Name + ": " + err.Error(), nil
				}
				if !apimeta.IsStatusConditionTrue(hr.Status.Conditions, meta.ReadyCondition) || hr.Status.ObservedGeneration != hr.Generation {
					msg := "addon HelmRelease " + c + "/" + a.Name + " Ready: " + condition(hr.Status.Conditions)
					if r := apimeta.FindStatusCondition(hr.Status.Conditions, meta.ReadyCondition); r == nil || r.Reason != meta.DependencyNotReadyReason {
						return false, msg, nil
					}
					waiting = append(waiting, msg)
				}
			}
			if len(waiting) > 0 {
				return false, waiting[0], nil
			}
			return true, "", nil
		})
		l.readyAtHead(time.Minute, c+"-addons")
		up := l.rec.ready(t, "Kustomization", fluxenv.Namespace, c)
		for _, hr := range addons {
			if m := l.rec.ready(t, "HelmRelease", c, hr.Name); up.ready == 0 || m.added == 0 || m.added < up.ready {
				t.Errorf("addon HelmRelease %s/%s made at %d, want after Kustomization %s turned Ready (at %d)", c, hr.Name, m.added, c, up.ready)
			}
			l.addonInstalled(ctx, c, hr)
		}
	}

	// Every Kustomization of the site Ready at the pushed revision, and
	// each after what it depends on, by the API server's own sequence of
	// writes; each addon HelmRelease Ready after its dependencies.
	ks := &kustomizev1.KustomizationList{}
	if err := l.flux.Client.List(ctx, ks, client.InNamespace(fluxenv.Namespace)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range ks.Items {
		names = append(names, k.Name)
	}
	sort.Strings(names)
	want := l.pushedKustomizations()
	for _, c := range append([]string{""}, clusters...) {
		for _, n := range []string{c, c + "-secrets", c + "-addons"} {
			if c == "" {
				n = "flux-system"
			}
			if !slices.Contains(want, n) {
				t.Errorf("the generated tree has no Kustomization %s", n)
			}
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("Kustomizations of the site: %v, want those of the generated tree: %v", names, want)
	}
	l.readyAtHead(time.Minute, names...)
	for _, k := range ks.Items {
		m := l.rec.ready(t, "Kustomization", fluxenv.Namespace, k.Name)
		for _, d := range k.Spec.DependsOn {
			ns := cmp.Or(d.Namespace, k.Namespace)
			if dm := l.rec.ready(t, "Kustomization", ns, d.Name); dm.ready == 0 || m.ready == 0 || dm.ready > m.ready {
				t.Errorf("Kustomization %s Ready at %d, its dependency %s/%s at %d: want the dependency first", k.Name, m.ready, ns, d.Name, dm.ready)
			}
		}
	}
	for _, c := range clusters {
		for _, hr := range l.addonReleases(c) {
			m := l.rec.ready(t, "HelmRelease", c, hr.Name)
			for _, d := range hr.Spec.DependsOn {
				if dm := l.rec.ready(t, "HelmRelease", c, d.Name); dm.ready == 0 || m.ready == 0 || dm.ready > m.ready {
					t.Errorf("HelmRelease %s/%s Ready at %d, its dependency %s at %d: want the dependency first", c, hr.Name, m.ready, d.Name, dm.ready)
				}
			}
		}
	}
}

// pushedKustomizations are the names of the Flux Kustomizations in the
// pushed generated tree, sorted.
func (l *loop) pushedKustomizations() []string {
	l.t.Helper()
	var out []string
	err := filepath.WalkDir(l.f.path("clusters/"+site+"/generated"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, doc := range envtestutil.SplitYAML(b) {
			o := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &o.Object); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			// The site's own, in flux-system (a manifests component's
			// Kustomizations live in its cluster's namespace).
			if o.GetKind() == kustomizev1.KustomizationKind && o.GroupVersionKind().Group == kustomizev1.GroupVersion.Group && o.GetNamespace() == fluxenv.Namespace {
				out = append(out, o.GetName())
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// addonInstalled checks that an addon's release is in its cluster's
// workload API server, where its HelmRelease's kubeConfig points: the
// stand-in chart's ConfigMap of the chart and version the HelmRelease
// names, recording exactly the HelmRelease's values with each valuesFrom
// targetPath set to the referenced key (the decrypted cloud credentials'
// cloud.conf).
func (l *loop) addonInstalled(ctx context.Context, cluster string, hr *helmv2.HelmRelease) {
	t := l.t
	t.Helper()
	wc, err := client.New(l.workloads[cluster], client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := wc.Get(ctx, client.ObjectKey{Namespace: hr.GetReleaseNamespace(), Name: valuesConfigMap(hr.GetReleaseName())}, cm); err != nil {
		t.Errorf("addon %s of %s not installed in its workload cluster: %v", hr.Name, cluster, err)
		return
	}
	if want := hr.Spec.Chart.Spec.Chart + "-" + hr.Spec.Chart.Spec.Version; cm.Data["chart"] != want {
		t.Errorf("addon %s of %s installed from %s, want %s", hr.Name, cluster, cm.Data["chart"], want)
	}
	// As helm-controller: each valuesFrom in order (a targetPath sets
	// one value; without, the key is a values document merged in), then
	// spec.values merged over them.
	want := map[string]any{}
	for _, ref := range hr.Spec.ValuesFrom {
		if ref.Kind != "Secret" {
			t.Fatalf("addon %s: valuesFrom %+v: the test knows Secrets only", hr.Name, ref)
		}
		s := &corev1.Secret{}
		if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: hr.Namespace, Name: ref.Name}, s); err != nil {
			t.Fatal(err)
		}
		v := string(s.Data[ref.GetValuesKey()])
		if v == "" {
			t.Fatalf("addon %s: Secret %s has no %s", hr.Name, ref.Name, ref.GetValuesKey())
		}
		if ref.TargetPath != "" {
			setPath(want, ref.TargetPath, v)
			continue
		}
		doc := map[string]any{}
		if err := yaml.Unmarshal([]byte(v), &doc); err != nil {
			t.Fatalf("addon %s: Secret %s key %s is not a values document", hr.Name, ref.Name, ref.GetValuesKey())
		}
		want = mergeValues(want, doc)
	}
	if hr.Spec.Values != nil {
		own := map[string]any{}
		if err := json.Unmarshal(hr.Spec.Values.Raw, &own); err != nil {
			t.Fatal(err)
		}
		want = mergeValues(want, own)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(cm.Data["values.json"]), &got); err != nil {
		t.Fatalf("addon %s of %s: values recorded: %v", hr.Name, cluster, err)
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if !bytes.Equal(wb, gb) {
		t.Errorf("addon %s of %s was given the values\n  %s\nwant\n  %s", hr.Name, cluster, gb, wb)
	}
}

// mergeValues merges b over a, maps key by key, as Helm's values merge.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// setPath sets a dotted path (a backslash escapes a dot) in m, making the
// maps on the way.
func setPath(m map[string]any, path, value string) {
	var keys []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path):
			i++
			cur.WriteByte(path[i])
		case path[i] == '.':
			keys = append(keys, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(path[i])
		}
	}
	keys = append(keys, cur.String())
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = value
}

// addonReleases are the HelmReleases of a cluster's addons in the pushed
// tree, by name.
func (l *loop) addonReleases(cluster string) []*helmv2.HelmRelease {
	l.t.Helper()
	var out []*helmv2.HelmRelease
	for _, doc := range envtestutil.SplitYAML([]byte(l.f.read("clusters/" + site + "/generated/addons/" + cluster + "/addons.yaml"))) {
		o := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &o.Object); err != nil {
			l.t.Fatal(err)
		}
		if o.GetKind() != helmv2.HelmReleaseKind {
			continue
		}
		hr := &helmv2.HelmRelease{}
		if err := yaml.Unmarshal(doc, hr); err != nil {
			l.t.Fatal(err)
		}
		out = append(out, hr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// workloadCluster starts the API server that plays a cluster's workload
// cluster (its own, as real clusters' are: clusters install the same
// addons under the same release names) and makes the cluster's namespace
// with the kubeconfig Secret that points there.
func (l *loop) workloadCluster(name string) {
	t := l.t
	t.Helper()
	te := &envtest.Environment{ControlPlaneStopTimeout: time.Minute}
	te.ControlPlane.GetAPIServer().Configure().Set("request-timeout", "15s")
	cfg, err := te.Start()
	if err != nil {
		t.Fatalf("starting the workload API server of %s: %v", name, err)
	}
	// The test's, not the scenario's: the clusters outlive it.
	l.top.Cleanup(func() {
		if err := te.Stop(); err != nil {
			l.top.Errorf("stopping the workload API server of %s: %v", name, err)
		}
	})
	l.workloads[name] = cfg
	l.capi.SetWorkload(name, name, cfg)
	ctx := context.Background()
	if err := l.capi.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	// Provided by the user, as Cluster API allows (a Secret not of its
	// type): KubeadmControlPlane neither adopts nor rotates it. It would
	// rotate capienv's at once (envtest's client certificate is short-lived)
	// with one signed by the cluster's CA, which a real cluster's API server
	// trusts and this one does not; the addons' HelmReleases use it.
	s := l.capi.KubeconfigSecret(name, name)
	s.Type = corev1.SecretTypeOpaque
	if err := l.capi.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// clusterObjects waits for a cluster's Cluster API objects: the Cluster,
// its control plane with a first Machine, and each MachineDeployment with
// a MachineSet.
func (l *loop) clusterObjects(timeout time.Duration, cluster string) {
	l.t.Helper()
	l.wait(timeout, func(ctx context.Context) (bool, string, error) {
		c := &clusterv1.Cluster{}
		if err := l.capi.Client.Get(ctx, client.ObjectKey{Namespace: cluster, Name: cluster}, c); err != nil {
			return false, "Cluster " + cluster + ": " + err.Error(), nil
		}
		kcp := &controlplanev1.KubeadmControlPlane{}
		if err := l.capi.Client.Get(ctx, client.ObjectKey{Namespace: cluster, Name: cluster + "-control-plane"}, kcp); err != nil {
			return false, "KubeadmControlPlane: " + err.Error(), nil
		}
		mds := &clusterv1.MachineDeploymentList{}
		if err := l.capi.Client.List(ctx, mds, client.InNamespace(cluster)); err != nil {
			return false, "", err
		}
		if len(mds.Items) == 0 {
			return false, "MachineDeployments of " + cluster, nil
		}
		for _, md := range mds.Items {
			mss := &clusterv1.MachineSetList{}
			if err := l.capi.Client.List(ctx, mss, client.InNamespace(cluster), client.MatchingLabels{clusterv1.MachineDeploymentNameLabel: md.Name}); err != nil {
				return false, "", err
			}
			if len(mss.Items) == 0 {
				return false, "a MachineSet of " + md.Name, nil
			}
		}
		return true, "", nil
	})
}

// ensureReceiver waits for the generated tree's Receiver (the site's
// spec.flux.gitHost) and its token, decrypted by kustomize-controller
// from the site's encrypted flux-system Secrets.
func (l *loop) ensureReceiver() {
	l.t.Helper()
	l.wait(3*time.Minute, func(ctx context.Context) (bool, string, error) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(fluxenv.ReceiverGVK.GroupVersion().WithKind("ReceiverList"))
		if err := l.flux.Client.List(ctx, list, client.InNamespace(fluxenv.Namespace)); err != nil {
			return false, "", err
		}
		if len(list.Items) != 1 {
			return false, fmt.Sprintf("the generated tree's Receiver in %s (%d there)", fluxenv.Namespace, len(list.Items)), nil
		}
		r := list.Items[0]
		name, _, _ := unstructured.NestedString(r.Object, "spec", "secretRef", "name")
		tok := &corev1.Secret{}
		if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: fluxenv.Namespace, Name: name}, tok); err != nil {
			return false, "the Receiver's token Secret " + name + ": " + err.Error(), nil
		}
		if string(tok.Data["token"]) != receiverToken {
			return false, "the Receiver's token decrypted", nil
		}
		l.receiver = client.ObjectKey{Namespace: r.GetNamespace(), Name: r.GetName()}
		return true, "", nil
	})
	l.t.Logf("the generated tree's Receiver %s", l.receiver)
}

// callReceiver sends the git host's push event for the head commit to
// the Receiver, signed as its type says, and records the request it made.
func (l *loop) callReceiver() {
	t := l.t
	ctx := context.Background()
	path, err := l.flux.Receiver.WebhookPath(ctx, l.receiver.Namespace, l.receiver.Name)
	if err != nil {
		t.Fatal(err)
	}
	rcv := &unstructured.Unstructured{}
	rcv.SetGroupVersionKind(fluxenv.ReceiverGVK)
	if err := l.flux.Client.Get(ctx, l.receiver, rcv); err != nil {
		t.Fatal(err)
	}
	typ, _, _ := unstructured.NestedString(rcv.Object, "spec", "type")
	secretName, _, _ := unstructured.NestedString(rcv.Object, "spec", "secretRef", "name")
	tok := &corev1.Secret{}
	if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: l.receiver.Namespace, Name: secretName}, tok); err != nil {
		t.Fatal(err)
	}
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q}`, l.head))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.flux.Receiver.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	switch typ {
	case "github":
		mac := hmac.New(sha256.New, tok.Data["token"])
		mac.Write(body)
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	case "gitlab":
		req.Header.Set("X-Gitlab-Event", "Push Hook")
		req.Header.Set("X-Gitlab-Token", string(tok.Data["token"]))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the Receiver answered %s", resp.Status)
	}
	gr := &sourcev1.GitRepository{}
	if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: fluxenv.Namespace, Name: "flux-system"}, gr); err != nil {
		t.Fatal(err)
	}
	l.lastRequest = gr.GetAnnotations()[meta.ReconcileRequestAnnotation]
	if l.lastRequest == "" {
		t.Fatal("the Receiver did not annotate the GitRepository")
	}
}

// newCluster: a new cluster file (with its credentials, as
// `capiform secrets create` makes them) -> its credentials, HelmRelease,
// Cluster API objects and MachineDeployments appear.
func (l *loop) newCluster() {
	const name = "physics"
	l.workloadCluster(name)
	teaching := l.f.read("clusters/" + site + "/teaching.yaml")
	l.f.write("clusters/"+site+"/"+name+".yaml", strings.Replace(teaching, "name: teaching", "name: "+name, 1))
	l.f.createSecrets()
	l.push("add cluster " + name)
	l.readyAtHead(3*time.Minute, "flux-system", name+"-secrets")
	l.installed(3*time.Minute, name, 1)
	l.clusterObjects(3*time.Minute, name)
	s := &corev1.Secret{}
	if err := l.flux.Client.Get(context.Background(), client.ObjectKey{Namespace: name, Name: site + "-cloud-credentials"}, s); err != nil {
		l.t.Fatal(err)
	}
	if !bytes.Equal(s.Data["clouds.yaml"], cloudsYAML) {
		l.t.Errorf("%s's credentials are not decrypted", name)
	}
}

// flavorChange: a node group's flavor changes; what `capiform diff`
// predicts between the two commits is what the controllers do, compared
// as tools/diff's TestDiffPredictsTheControllers compares.
func (l *loop) flavorChange() {
	const cluster = "teaching"
	before := l.settle(cluster, true)
	hr := &helmv2.HelmRelease{}
	if err := l.flux.Client.Get(context.Background(), client.ObjectKey{Namespace: fluxenv.Namespace, Name: cluster}, hr); err != nil {
		l.t.Fatal(err)
	}
	l.f.edit("clusters/"+site+"/teaching.yaml", "{name: md-0, flavor: standard.large", "{name: md-0, flavor: standard.small")
	l.push("teaching: md-0 on standard.small")
	rep, err := diff.Run(context.Background(), diff.Options{Repo: l.f.dir, Base: "HEAD~1", Head: "HEAD"})
	if err != nil {
		l.t.Fatal(err)
	}
	predicted := predictedEffects(rep, cluster)
	l.installed(3*time.Minute, cluster, hr.Status.LastReleaseRevision+1)
	after := l.settle(cluster, false)
	observed := observedEffects(before, after)
	if strings.Join(predicted, "\n") != strings.Join(observed, "\n") || len(observed) == 0 {
		l.t.Errorf("capiform diff predicts:\n  %s\nthe controllers did:\n  %s", strings.Join(orNothing(predicted), "\n  "), strings.Join(orNothing(observed), "\n  "))
	}
}

// receiverCall: a push announced to the Receiver is fetched and applied
// at once, though the GitRepository polls every minute and the
// Kustomizations every ten: the GitRepository reports the Receiver's
// request as handled, with the new revision, within seconds.
func (l *loop) receiverCall() {
	t := l.t
	ctx := context.Background()
	gr := &sourcev1.GitRepository{}
	key := client.ObjectKey{Namespace: fluxenv.Namespace, Name: "flux-system"}
	if err := l.flux.Client.Get(ctx, key, gr); err != nil {
		t.Fatal(err)
	}
	if gr.Spec.Interval.Duration < time.Minute {
		t.Fatalf("the GitRepository polls every %s: too often to tell a Receiver's effect from a poll", gr.Spec.Interval.Duration)
	}
	l.f.edit("clusters/"+site+"/teaching.yaml", "flavor: standard.small, replicas: 3}", "flavor: standard.small, replicas: 4}")
	receiver := l.receiver
	l.receiver = client.ObjectKey{} // pushed without the call, then called
	l.push("teaching: md-0 to 4 machines")
	l.receiver = receiver
	called := time.Now()
	l.callReceiver()
	var took time.Duration
	l.wait(20*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := l.flux.Client.Get(ctx, key, gr); err != nil {
			return false, "", err
		}
		a := gr.Status.Artifact
		if a == nil || a.Revision != l.revision() || gr.Status.LastHandledReconcileAt != l.lastRequest {
			return false, fmt.Sprintf("GitRepository at %s having handled the request %q; it is at %v, handled %q", l.revision(), l.lastRequest, a, gr.Status.LastHandledReconcileAt), nil
		}
		took = time.Since(called)
		return true, "", nil
	})
	l.wait(time.Minute, func(ctx context.Context) (bool, string, error) {
		mss := &clusterv1.MachineSetList{}
		if err := l.capi.Client.List(ctx, mss, client.InNamespace("teaching"), client.MatchingLabels{clusterv1.MachineDeploymentNameLabel: "teaching-md-0"}); err != nil {
			return false, "", err
		}
		var total int32
		for _, ms := range mss.Items {
			if ms.DeletionTimestamp.IsZero() && ms.Spec.Replicas != nil {
				total += *ms.Spec.Replicas
			}
		}
		return total == 4, fmt.Sprintf("teaching-md-0's MachineSets at 4 replicas, not %d", total), nil
	})
	t.Logf("the GitRepository fetched the pushed commit %s after the Receiver's call (interval %s); 4 machines %s after the call",
		took.Round(100*time.Millisecond), gr.Spec.Interval.Duration, time.Since(called).Round(100*time.Millisecond))
}

// deletion: a cluster deleted in two changes, as the lifecycle defines:
// deletionProtection: false first (nothing goes), then the file removed;
// Flux prunes its Kustomizations and HelmReleases, the releases are
// uninstalled (the addons' from the workload cluster), and Cluster API deletes workers and control plane before
// the cluster's network; the credentials and every object of the
// management cluster stay.
func (l *loop) deletion() {
	t := l.t
	ctx := context.Background()
	const cluster = "teaching"
	mgmtBefore := l.managementObjects(ctx)
	addonsBefore := l.addonReleases(cluster)

	file := "clusters/" + site + "/" + cluster + ".yaml"
	l.f.edit(file, "\nspec:\n", "\nspec:\n  deletionProtection: false\n")
	l.push("teaching: deletable")
	l.wait(3*time.Minute, func(ctx context.Context) (bool, string, error) {
		k, err := l.kustomization(ctx, cluster)
		if err != nil {
			return false, err.Error(), nil
		}
		return k.Status.LastAttemptedRevision == l.revision(), "Kustomization " + cluster + " applying " + l.revision(), nil
	})
	c := &clusterv1.Cluster{}
	if err := l.capi.Client.Get(ctx, client.ObjectKey{Namespace: cluster, Name: cluster}, c); err != nil || !c.DeletionTimestamp.IsZero() {
		t.Fatalf("the first change deleted the cluster: %v", err)
	}

	// The credentials' folder goes with the file (render refuses
	// Secrets of a cluster that does not exist); the Secret itself stays
	// on the management cluster, as its Kustomization never prunes.
	l.f.remove(file)
	l.f.removeAll("clusters/" + site + "/secrets/" + cluster)
	l.push("teaching: removed")
	all := []schema.GroupVersionKind{
		clusterv1.GroupVersion.WithKind("Cluster"), clusterv1.GroupVersion.WithKind("MachineDeployment"),
		clusterv1.GroupVersion.WithKind("MachineSet"), clusterv1.GroupVersion.WithKind("Machine"),
		controlplanev1.GroupVersion.WithKind("KubeadmControlPlane"),
		capienv.OpenStackClusterGVK, capienv.OpenStackMachineGVK,
	}
	l.wait(5*time.Minute, func(ctx context.Context) (bool, string, error) {
		// kube-controller-manager's garbage collector, which envtest
		// has not (capienv).
		if _, err := l.capi.CollectGarbage(ctx, cluster, all...); err != nil {
			return false, "", err
		}
		var left []string
		for _, gvk := range all {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := l.capi.Client.List(ctx, list, client.InNamespace(cluster)); err != nil {
				return false, "", err
			}
			for _, o := range list.Items {
				left = append(left, gvk.Kind+"/"+o.GetName())
			}
		}
		for _, k := range []string{cluster, cluster + "-addons", cluster + "-manifests"} {
			if _, err := l.kustomization(ctx, k); !apierrors.IsNotFound(err) {
				left = append(left, "Kustomization/"+k)
			}
		}
		hr := &helmv2.HelmRelease{}
		if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: fluxenv.Namespace, Name: cluster}, hr); !apierrors.IsNotFound(err) {
			left = append(left, "HelmRelease/"+cluster)
		}
		// The addons' releases, under the stand-in's finalizer.
		addons := &helmv2.HelmReleaseList{}
		if err := l.flux.Client.List(ctx, addons, client.InNamespace(cluster)); err != nil {
			return false, "", err
		}
		for _, a := range addons.Items {
			left = append(left, "HelmRelease/"+cluster+"/"+a.Name)
		}
		sort.Strings(left)
		return len(left) == 0, "nothing of " + cluster + " left; left: " + strings.Join(left, ", "), nil
	})

	// In order: the Kustomization, then the HelmRelease, then the
	// Cluster; workers and control plane gone before the network starts
	// to go.
	ks := l.rec.at("Kustomization", fluxenv.Namespace, cluster)
	hr := l.rec.at("HelmRelease", fluxenv.Namespace, cluster)
	cl := l.rec.at("Cluster", cluster, cluster)
	osc := l.rec.at("OpenStackCluster", cluster, cluster)
	if !(ks.deleting != 0 && ks.deleting < hr.deleting && hr.deleting < cl.deleting && cl.deleting <= osc.deleting) {
		t.Errorf("deletion order (resourceVersions): Kustomization %d, HelmRelease %d, Cluster %d, OpenStackCluster %d; want increasing", ks.deleting, hr.deleting, cl.deleting, osc.deleting)
	}
	kcp := l.rec.at("KubeadmControlPlane", cluster, cluster+"-control-plane")
	md := l.rec.at("MachineDeployment", cluster, cluster+"-md-0")
	if kcp.gone == 0 || md.gone == 0 || kcp.gone >= osc.deleting || md.gone >= osc.deleting {
		t.Errorf("the control plane (gone at %d) and md-0 (gone at %d) must be gone before the OpenStackCluster starts to go (%d)", kcp.gone, md.gone, osc.deleting)
	}
	// The addons uninstalled from the workload cluster while it was there.
	wc, err := client.New(l.workloads[cluster], client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addonsBefore {
		cm := &corev1.ConfigMap{}
		if err := wc.Get(ctx, client.ObjectKey{Namespace: a.GetReleaseNamespace(), Name: valuesConfigMap(a.GetReleaseName())}, cm); !apierrors.IsNotFound(err) {
			t.Errorf("addon %s of %s was not uninstalled (%v)", a.Name, cluster, err)
		}
	}
	// Kept: the credentials (the teardown needs them), and the management
	// cluster's objects, untouched.
	s := &corev1.Secret{}
	if err := l.flux.Client.Get(ctx, client.ObjectKey{Namespace: cluster, Name: site + "-cloud-credentials"}, s); err != nil {
		t.Errorf("the credentials of %s were pruned: %v", cluster, err)
	}
	after := l.managementObjects(ctx)
	for k, uid := range mgmtBefore {
		if after[k] != uid {
			t.Errorf("%s of the management cluster was deleted or replaced", k)
		}
		parts := strings.SplitN(k, "/", 3)
		if m := l.rec.at(parts[0], parts[1], parts[2]); m.deleting != 0 {
			t.Errorf("%s of the management cluster started to go", k)
		}
	}
}

// managementObjects maps the management cluster's Flux and Cluster API
// objects (Kind/namespace/name) to their UIDs.
func (l *loop) managementObjects(ctx context.Context) map[string]string {
	l.t.Helper()
	out := map[string]string{}
	for _, o := range []struct {
		kind string
		obj  client.Object
		c    client.Client
		key  client.ObjectKey
	}{
		{"Kustomization", &kustomizev1.Kustomization{}, l.flux.Client, client.ObjectKey{Namespace: fluxenv.Namespace, Name: mgmt}},
		{"Kustomization", &kustomizev1.Kustomization{}, l.flux.Client, client.ObjectKey{Namespace: fluxenv.Namespace, Name: mgmt + "-secrets"}},
		{"HelmRelease", &helmv2.HelmRelease{}, l.flux.Client, client.ObjectKey{Namespace: fluxenv.Namespace, Name: mgmt}},
		{"Cluster", &clusterv1.Cluster{}, l.capi.Client, client.ObjectKey{Namespace: mgmt, Name: mgmt}},
		{"KubeadmControlPlane", &controlplanev1.KubeadmControlPlane{}, l.capi.Client, client.ObjectKey{Namespace: mgmt, Name: mgmt + "-control-plane"}},
	} {
		if err := o.c.Get(ctx, o.key, o.obj); err != nil {
			l.t.Fatalf("%s %s of the management cluster: %v", o.kind, o.key, err)
		}
		out[o.kind+"/"+o.key.Namespace+"/"+o.key.Name] = string(o.obj.GetUID())
	}
	return out
}

// state is what the controllers made of a cluster (as in tools/diff's
// controller test).
type state struct {
	machineSets map[string]map[string]int32
	cpReplicas  int32
	cpMachines  map[string]bool
}

// settle waits until every controller has seen the current generation of
// the objects it owns and returns what they made; first also waits for
// the first control plane Machine, up to date.
func (l *loop) settle(cluster string, first bool) state {
	l.t.Helper()
	var s state
	l.wait(3*time.Minute, func(ctx context.Context) (bool, string, error) {
		s = state{machineSets: map[string]map[string]int32{}, cpMachines: map[string]bool{}}
		kcp := &controlplanev1.KubeadmControlPlane{}
		if err := l.capi.Client.Get(ctx, client.ObjectKey{Namespace: cluster, Name: cluster + "-control-plane"}, kcp); err != nil {
			return false, "", err
		}
		if kcp.Spec.Replicas != nil {
			s.cpReplicas = *kcp.Spec.Replicas
		}
		machines := &clusterv1.MachineList{}
		if err := l.capi.Client.List(ctx, machines, client.InNamespace(cluster), client.MatchingLabels{clusterv1.MachineControlPlaneLabel: ""}); err != nil {
			return false, "", err
		}
		for i := range machines.Items {
			m := &machines.Items[i]
			c := conditions.Get(m, clusterv1.MachineUpToDateCondition)
			if c == nil {
				return false, "UpToDate condition of " + m.Name, nil
			}
			s.cpMachines[m.Name] = c.Status == "True"
		}
		if first && (len(s.cpMachines) == 0 || !allTrue(s.cpMachines)) {
			return false, "the first control plane Machine, up to date", nil
		}
		if kcp.Status.ObservedGeneration != kcp.Generation && allTrue(s.cpMachines) {
			return false, "KubeadmControlPlane observes its generation", nil
		}
		mds := &clusterv1.MachineDeploymentList{}
		if err := l.capi.Client.List(ctx, mds, client.InNamespace(cluster)); err != nil {
			return false, "", err
		}
		if len(mds.Items) == 0 {
			return false, "MachineDeployments", nil
		}
		for _, md := range mds.Items {
			if md.Status.ObservedGeneration != md.Generation {
				return false, "MachineDeployment " + md.Name + " observes its generation", nil
			}
			mss := &clusterv1.MachineSetList{}
			if err := l.capi.Client.List(ctx, mss, client.InNamespace(cluster), client.MatchingLabels{clusterv1.MachineDeploymentNameLabel: md.Name}); err != nil {
				return false, "", err
			}
			group := md.Labels[diff.LabelNodeGroup]
			s.machineSets[group] = map[string]int32{}
			for _, ms := range mss.Items {
				if ms.DeletionTimestamp.IsZero() && ms.Spec.Replicas != nil {
					s.machineSets[group][ms.Name] = *ms.Spec.Replicas
				}
			}
			if len(s.machineSets[group]) == 0 {
				return false, "a MachineSet of " + md.Name, nil
			}
		}
		return true, "", nil
	})
	return s
}

// predictedEffects are the diff's statements on one cluster's machines,
// in the terms of observedEffects.
func predictedEffects(rep *diff.Report, cluster string) []string {
	var out []string
	for _, c := range rep.Clusters {
		if c.Cluster != cluster {
			continue
		}
		if cp := c.ControlPlane; cp != nil {
			switch {
			case cp.Replace:
				out = append(out, "control plane: rollout")
			case cp.Scale != nil:
				out = append(out, fmt.Sprintf("control plane: replicas %d -> %d", deref(cp.Scale.From), deref(cp.Scale.To)))
			}
		}
		for _, g := range c.NodeGroups {
			switch {
			case g.Replace:
				out = append(out, g.Name+": rollout")
			case g.Scale != nil:
				out = append(out, fmt.Sprintf("%s: replicas %d -> %d", g.Name, deref(g.Scale.From), deref(g.Scale.To)))
			}
		}
	}
	sort.Strings(out)
	return out
}

// observedEffects compares two states in the terms of predictedEffects.
func observedEffects(a, b state) []string {
	var out []string
	for m, upToDate := range b.cpMachines {
		if _, existed := a.cpMachines[m]; existed && !upToDate {
			out = append(out, "control plane: rollout")
			break
		}
	}
	if len(out) == 0 && a.cpReplicas != b.cpReplicas {
		out = append(out, fmt.Sprintf("control plane: replicas %d -> %d", a.cpReplicas, b.cpReplicas))
	}
	for group, sets := range b.machineSets {
		old := a.machineSets[group]
		rolled := false
		for name := range sets {
			if _, ok := old[name]; !ok {
				rolled = true
			}
		}
		switch {
		case rolled:
			out = append(out, group+": rollout")
		case len(sets) == 1 && len(old) == 1:
			for name, n := range sets {
				if old[name] != n {
					out = append(out, fmt.Sprintf("%s: replicas %d -> %d", group, old[name], n))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func orNothing(s []string) []string {
	if len(s) == 0 {
		return []string{"nothing"}
	}
	return s
}

func allTrue(m map[string]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
