package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/capiform/capiform/tools/resolve"
)

// A fault point names a request of the move by what it hits, never by a
// count of writes: the API server (role), the verb, the resource, and the
// pause state of the Clusters at that moment, read from the API servers
// through clients outside the run. clusterctl's move pauses the source's
// Cluster, creates the object graph owner-first on the target (the Cluster,
// then what it owns, then the Machines and what they own), deletes it from
// the source in reverse order (the Cluster last) and unpauses the target.
type faultPoint struct {
	name     string
	role     string // RoleEphemeral or RoleTarget
	verb     string // HTTP method; "" is any write
	resource string // plural resource of the URL; "" is any
	// The Cluster on that side must be paused when the request is made.
	sourcePaused, targetPaused bool
	// The source's Cluster must be gone (clusterctl deletes it last).
	sourceGone bool
}

var (
	// The first write to the target once the source is paused: nothing of
	// the cluster is there yet (clusterctl makes the namespace first).
	pointAfterPause = faultPoint{name: "after the pause", role: RoleTarget, sourcePaused: true}
	// The creation of the Machines on the target: the Cluster and what it
	// owns are there, the Machines and their infrastructure are not.
	pointCreate = faultPoint{name: "creating the graph on the target", role: RoleTarget, verb: http.MethodPost, resource: "machines", sourcePaused: true}
	// The deletion of the Machines on the source: the target has
	// everything, the source has lost the OpenStackMachines.
	pointDelete = faultPoint{name: "deleting from the source", role: RoleEphemeral, verb: http.MethodDelete, resource: "machines", sourcePaused: true}
	// The unpause of the target's Cluster: the source is empty. (clusterctl
	// also patches the Cluster on the target right after creating it, while
	// the source still has its own.)
	pointUnpause = faultPoint{name: "at the unpause", role: RoleTarget, verb: http.MethodPatch, resource: "clusters", targetPaused: true, sourceGone: true}
)

// Fault kinds.
const (
	// crash: the process dies at the point: that request and every later
	// one of the run fail and the run's context is cancelled, so nothing
	// the run would do afterwards (unpausing the source) reaches a cluster.
	kindCrash = "crash"
	// transient: every request at the point fails for as long as the move
	// runs; the rest of the run works, so the pivot's handling of a failed
	// move runs. clusterctl retries each write for about 2.5 minutes; the
	// case bounds the move with Timeouts.Move (transientMove), which the
	// fault outlasts, and requires that clusterctl retried meanwhile.
	kindTransient = "transient"
	// blip: the first two requests at the point fail; clusterctl's retries
	// absorb it and the move succeeds.
	kindBlip = "blip"
)

// transientMove is Timeouts.Move in the transient cases: long enough for
// the move to reach the point on a loaded machine.
const transientMove = 25 * time.Second

// A fault case: the state the faulted run leaves (read from the API
// servers), its message and hint, and what the rerun says when it resumes.
// Cluster states are clusterAbsent, clusterPaused, clusterRunning; object
// counts are of the inventory recorded before the move: "none", "some",
// "all".
type faultCase struct {
	point              faultPoint
	kind               string
	source, target     string
	onSource, onTarget string
	message            []string
	resume             []string
}

const (
	hintUnpaused = "the source was unpaused and its controllers manage the cluster again"
	hintAgain    = "Run the same command again to move again"
	resumeMove   = "an earlier move was interrupted before the target was complete"
	resumeUnp    = "unpausing the source to move again"
	resumeFinish = "interrupted while deleting the source; finishing it"
)

var faultTable = []faultCase{
	{point: pointAfterPause, kind: kindCrash,
		source: clusterPaused, target: clusterAbsent, onSource: "all", onTarget: "none",
		message: []string{"injected crash"}, resume: []string{resumeMove, resumeUnp}},
	{point: pointAfterPause, kind: kindTransient,
		source: clusterRunning, target: clusterAbsent, onSource: "all", onTarget: "none",
		message: []string{"Timeouts.Move", hintUnpaused, "0 of ", hintAgain}},
	{point: pointCreate, kind: kindCrash,
		source: clusterPaused, target: clusterPaused, onSource: "all", onTarget: "some",
		message: []string{"injected crash"}, resume: []string{resumeMove, resumeUnp}},
	{point: pointCreate, kind: kindTransient,
		source: clusterRunning, target: clusterPaused, onSource: "all", onTarget: "some",
		message: []string{"Timeouts.Move", hintUnpaused, hintAgain}},
	{point: pointCreate, kind: kindBlip,
		source: clusterAbsent, target: clusterRunning, onSource: "none", onTarget: "all"},
	{point: pointDelete, kind: kindCrash,
		source: clusterPaused, target: clusterPaused, onSource: "some", onTarget: "all",
		message: []string{"injected crash"}, resume: []string{resumeFinish}},
	{point: pointDelete, kind: kindTransient,
		source: clusterPaused, target: clusterPaused, onSource: "some", onTarget: "all",
		message: []string{"Timeouts.Move", "Every object is on", "stays paused", "to finish deleting them and to unpause"}, resume: []string{resumeFinish}},
	{point: pointUnpause, kind: kindCrash,
		source: clusterAbsent, target: clusterPaused, onSource: "none", onTarget: "all",
		message: []string{"injected crash"}, resume: []string{"the cluster has moved already", "paused=false"}},
	{point: pointUnpause, kind: kindTransient,
		source: clusterAbsent, target: clusterPaused, onSource: "none", onTarget: "all",
		message: []string{"Timeouts.Move", "is still paused", "Run the same command again to unpause it"}, resume: []string{"the cluster has moved already", "paused=false"}},
}

// fault fails the requests of one run at one point.
type fault struct {
	point    faultPoint
	kind     string
	eph, tgt ctrlclient.Client // outside the run: read the pause state
	ns, name string
	crash    func()

	mu    sync.Mutex
	fired int    // requests failed at the point
	dead  bool   // crashed: everything fails
	first string // the first request failed at the point
}

func (f *fault) wrap(role string, rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if f.fail(role, req) {
			return nil, fmt.Errorf("injected %s fault %s: %s %s %s", f.kind, f.point.name, role, req.Method, req.URL.Path)
		}
		return rt.RoundTrip(req)
	})
}

func (f *fault) fail(role string, req *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return true
	}
	if !f.at(role, req) {
		return false
	}
	if f.fired == 0 {
		f.first = role + " " + req.Method + " " + req.URL.Path
	}
	switch f.kind {
	case kindCrash:
		f.dead = true
		f.crash()
	case kindBlip:
		if f.fired >= 2 {
			return false
		}
	}
	f.fired++
	return true
}

// at reports whether a request hits the point.
func (f *fault) at(role string, req *http.Request) bool {
	p := f.point
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if role != p.role || (p.verb != "" && req.Method != p.verb) || (p.resource != "" && resourceOf(req.URL.Path) != p.resource) {
		return false
	}
	read := func(c ctrlclient.Client) (exists, paused bool) {
		var cl clusterv1.Cluster
		err := c.Get(context.Background(), ctrlclient.ObjectKey{Namespace: f.ns, Name: f.name}, &cl)
		return err == nil, err == nil && ptr.Deref(cl.Spec.Paused, false)
	}
	srcExists, srcPaused := read(f.eph)
	_, tgtPaused := read(f.tgt)
	return (!p.sourcePaused || srcPaused) && (!p.targetPaused || tgtPaused) && (!p.sourceGone || !srcExists)
}

// resourceOf is the plural resource of an API path
// (/api/v1/namespaces/ns/secrets/x, /apis/g/v/namespaces/ns/machines,
// /api/v1/namespaces).
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) > 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) > 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return ""
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		return parts[2]
	}
	return parts[0]
}

// testFault pivots one cluster up to the move, runs the move with the
// fault, checks the state the failure leaves and its message, reruns, and
// checks the end state.
func testFault(ctx context.Context, t *testing.T, e testEnvs, tc faultCase) {
	name := "mgmt-" + map[faultPoint]string{pointAfterPause: "fp", pointCreate: "fc", pointDelete: "fd", pointUnpause: "fu"}[tc.point] + tc.kind[:1]
	opts := testOptions(t, e, name)
	stop := startControllers(ctx, t, e, opts)
	defer stop()
	testFaultWith(ctx, t, e, tc, faultRun{name: name, opts: opts, end: func() { assertPivoted(t, e, name) }})
}

// faultRun is one fault case's cluster, what reacts on the API servers
// being started by the caller: hooks run before the faulted move, after
// the failure's state is checked, and in place of the end-state check.
type faultRun struct {
	name                   string
	opts                   Options
	beforeMove, afterFault func()
	end                    func()
}

func testFaultWith(ctx context.Context, t *testing.T, e testEnvs, tc faultCase, fr faultRun) {
	name, opts := fr.name, fr.opts
	ns := resolve.ClusterNamespace(name)
	o := opts
	o.StopAfter = StepLabelForMove
	if err := Run(ctx, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run until %s: %v", StepLabelForMove, err)
	}
	if fr.beforeMove != nil {
		fr.beforeMove()
	}

	eph, tgt := newClient(t, e.eph.Config), newClient(t, e.tgt.Config)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &fault{point: tc.point, kind: tc.kind, eph: eph, tgt: tgt, ns: ns, name: name, crash: cancel}
	o = opts
	o.StopAfter = StepMove
	o.InjectWrapTransport = f.wrap
	if tc.kind == kindTransient {
		o.Timeouts.Move = transientMove
	}
	err := Run(runCtx, o)
	f.mu.Lock()
	fired, first := f.fired, f.first
	f.mu.Unlock()
	t.Logf("the faulted run: %v (failed %d request(s) at the point, the first %s)", err, fired, first)
	if fired == 0 {
		t.Fatalf("the fault %q (%s) never fired: the move never made a request there", tc.point.name, tc.kind)
	}
	switch tc.kind {
	case kindTransient:
		if fired < 3 {
			t.Errorf("the transient fault failed %d request(s): clusterctl did not retry it until the move gave up", fired)
		}
	case kindBlip:
		if !errors.Is(err, ErrStopped) {
			t.Errorf("a blip clusterctl retries must not fail the move: %v", err)
		}
	}
	if tc.kind != kindBlip {
		if err == nil || errors.Is(err, ErrStopped) {
			t.Fatalf("the faulted run succeeded: %v", err)
		}
		for _, want := range tc.message {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the faulted run's error lacks %q:\n%v", want, err)
			}
		}
	}

	// The state the failure left, read from the API servers.
	st, _, err := loadState(ctx, eph, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Inventory) == 0 {
		t.Fatal("no inventory recorded before the move")
	}
	count := func(c ctrlclient.Client) string {
		n := 0
		for _, entry := range st.Inventory {
			ok, err := entryExists(ctx, c, entry)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n++
			}
		}
		switch n {
		case 0:
			return "none"
		case len(st.Inventory):
			return "all"
		}
		return "some"
	}
	state := func(c ctrlclient.Client) string {
		var cl clusterv1.Cluster
		err := c.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &cl)
		switch {
		case apierrors.IsNotFound(err):
			return clusterAbsent
		case err != nil:
			t.Fatal(err)
		case ptr.Deref(cl.Spec.Paused, false):
			return clusterPaused
		}
		return clusterRunning
	}
	got := [4]string{state(eph), state(tgt), count(eph), count(tgt)}
	want := [4]string{tc.source, tc.target, tc.onSource, tc.onTarget}
	if got != want {
		t.Errorf("after the fault: source Cluster %s, target Cluster %s, inventory on the source %s, on the target %s; want %s, %s, %s, %s",
			got[0], got[1], got[2], got[3], want[0], want[1], want[2], want[3])
	}
	if fr.afterFault != nil {
		fr.afterFault()
	}

	// The resume.
	logs := &logRecorder{t: t}
	o = opts
	o.Log = logs.logf
	if err := Run(ctx, o); err != nil {
		t.Fatalf("Run after the fault: %v", err)
	}
	for _, want := range tc.resume {
		if !logs.contains(want) {
			t.Errorf("the rerun did not say %q", want)
		}
	}
	fr.end()
}

// refusedBeforePause checks that a refused run paused nothing and recorded
// no move.
func refusedBeforePause(t *testing.T, e testEnvs, name string) {
	t.Helper()
	ctx := context.Background()
	eph := newClient(t, e.eph.Config)
	var cl clusterv1.Cluster
	if err := eph.Get(ctx, ctrlclient.ObjectKey{Namespace: resolve.ClusterNamespace(name), Name: name}, &cl); err != nil {
		t.Fatalf("the Cluster on the ephemeral cluster: %v", err)
	}
	if ptr.Deref(cl.Spec.Paused, false) {
		t.Errorf("the refused run paused the Cluster")
	}
	if st, _, err := loadState(ctx, eph, name); err != nil || len(st.Inventory) > 0 {
		t.Errorf("the refused run began a move (inventory of %d, %v)", len(st.Inventory), err)
	}
}

// testBadInput: a site whose providers do not match the running clusters,
// a kubeconfig of the wrong cluster, and a target that already holds a
// Cluster of the same name are refused before anything is paused, saying
// what to do; once the input is right, the same pivot completes.
func testBadInput(ctx context.Context, t *testing.T, e testEnvs) {
	name := "mgmt-x"
	ns := resolve.ClusterNamespace(name)
	opts := testOptions(t, e, name)
	stop := startControllers(ctx, t, e, opts)
	defer stop()
	o := opts
	// Up to the providers on the target: each case changes what the
	// steps up to preflight have made.
	o.StopAfter = StepProvidersTarget
	if err := Run(ctx, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run until %s: %v", StepProvidersTarget, err)
	}
	tgt := newClient(t, e.tgt.Config)
	refused := func(t *testing.T, o Options, wants ...string) {
		t.Helper()
		err := Run(ctx, o)
		if err == nil || errors.Is(err, ErrStopped) {
			t.Fatalf("Run passed: %v", err)
		}
		for _, want := range wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		refusedBeforePause(t, e, name)
	}

	t.Run("the site pins other provider versions than the clusters run", func(t *testing.T) {
		o := opts
		o.Providers.Infrastructure = "v9.9.9"
		o.InjectProviderInstaller = nil // the real clusterctl is never reached
		refused(t, o, "provider openstack on the ephemeral cluster is installed at "+opts.Providers.Infrastructure,
			"the site pins v9.9.9 (spec.bootstrap.providers.infrastructure)", "pin "+opts.Providers.Infrastructure+" in the site", "clusterctl upgrade apply")
	})

	t.Run("the management cluster runs other provider versions", func(t *testing.T) {
		var p clusterctlv1.Provider
		key := ctrlclient.ObjectKey{Namespace: "infrastructure-openstack-system", Name: "infrastructure-openstack"}
		if err := tgt.Get(ctx, key, &p); err != nil {
			t.Fatal(err)
		}
		running := p.Version
		p.Version = "v0.0.1"
		if err := tgt.Update(ctx, &p); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := tgt.Get(ctx, key, &p); err != nil {
				t.Fatal(err)
			}
			p.Version = running
			if err := tgt.Update(ctx, &p); err != nil {
				t.Fatal(err)
			}
		}()
		refused(t, opts, "provider openstack on the management cluster "+name+" is installed at v0.0.1", "the site pins "+running, "clusterctl upgrade apply --infrastructure")
	})

	t.Run("the management cluster lacks a provider", func(t *testing.T) {
		// Run would install it again (providers-target); preflight, the
		// last check before the pause, must refuse on its own.
		p := &clusterctlv1.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "infrastructure-openstack-system", Name: "infrastructure-openstack"}}
		if err := tgt.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
		r := &runner{opts: opts, id: identityOf(opts), timeouts: opts.Timeouts.withDefaults()}
		defer r.close()
		err := stepPreflight(ctx, r)
		if err == nil || !strings.Contains(err.Error(), "provider openstack:"+opts.Providers.Infrastructure+" is not installed on the management cluster "+name+": run again") {
			t.Errorf("preflight with a provider missing on the target: %v", err)
		}
		refusedBeforePause(t, e, name)
	})

	t.Run("the management cluster's kubeconfig reaches another cluster", func(t *testing.T) {
		o := opts
		o.InjectTarget = e.eph.Config
		refused(t, o, "reaches the ephemeral cluster itself",
			"the management cluster's kubeconfig points at "+e.eph.Config.Host+", but Cluster "+ns+"/"+name+"'s control plane endpoint is "+endpointOf(t, e.tgt.Config).String(),
			"give the kubeconfig of "+name, "nothing was installed or paused")
	})

	t.Run("the target already holds a Cluster of the same name", func(t *testing.T) {
		if err := tgt.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		foreign := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: clusterv1.ClusterSpec{ClusterNetwork: clusterv1.ClusterNetwork{ServiceDomain: "cluster.local"}}}
		if err := tgt.Create(ctx, foreign); err != nil {
			t.Fatal(err)
		}
		refused(t, opts, "the management cluster already holds a Cluster "+ns+"/"+name+" (uid "+string(foreign.UID),
			"that no move of this bootstrap made", "Nothing was paused", "set spec.paused: true")
		if err := tgt.Delete(ctx, foreign); err != nil {
			t.Fatal(err)
		}
	})

	if err := Run(ctx, opts); err != nil {
		t.Fatalf("Run with the input put right: %v", err)
	}
	assertPivoted(t, e, name)
}

// testSecretLeftBehind: a Secret that appeared after preflight and that
// nothing labels for move stays on the ephemeral cluster; the pivot's own
// verify fails naming it (not only the test's inventory), and so does a
// rerun's move step, which says to copy it; once copied, the pivot
// completes.
func testSecretLeftBehind(ctx context.Context, t *testing.T, e testEnvs) {
	name := "mgmt-l"
	ns := resolve.ClusterNamespace(name)
	opts := testOptions(t, e, name)
	stop := startControllers(ctx, t, e, opts)
	defer stop()
	o := opts
	o.StopAfter = StepLabelForMove
	if err := Run(ctx, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run until %s: %v", StepLabelForMove, err)
	}
	eph, tgt := newClient(t, e.eph.Config), newClient(t, e.tgt.Config)
	late := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "late-credentials"}, Data: map[string][]byte{"token": []byte("x")}}
	if err := eph.Create(ctx, late); err != nil {
		t.Fatal(err)
	}
	entry := "Secret " + ns + "/" + late.Name

	r := &runner{opts: opts, id: identityOf(opts), timeouts: opts.Timeouts.withDefaults()}
	defer r.close()
	r.opts.InjectTarget = e.tgt.Config
	if err := stepMove(ctx, r); err != nil {
		t.Fatalf("move: %v", err)
	}
	err := stepVerify(ctx, r)
	if err == nil {
		t.Fatal("verify passed with a Secret left on the ephemeral cluster")
	}
	for _, want := range []string{"missing on the management cluster: " + entry, "still on the ephemeral cluster: " + entry, "the ephemeral cluster is kept"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("verify's error lacks %q:\n%v", want, err)
		}
	}
	if st, _, err := loadState(ctx, tgt, name); err != nil || st.Phase == phaseComplete {
		t.Errorf("verify recorded completion: %+v %v", st, err)
	}

	err = Run(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "copy each from the ephemeral cluster") || !strings.Contains(err.Error(), entry) {
		t.Errorf("rerun: got %v, want the move step to name %s and say to copy it", err, entry)
	}

	// The operator copies it.
	copied := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: late.Name}, Data: late.Data}
	if err := tgt.Create(ctx, copied); err != nil {
		t.Fatal(err)
	}
	if err := eph.Delete(ctx, late); err != nil {
		t.Fatal(err)
	}
	if err := Run(ctx, opts); err != nil {
		t.Fatalf("Run after copying the Secret: %v", err)
	}
	assertPivoted(t, e, name)
}
