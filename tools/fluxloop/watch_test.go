package fluxloop

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// moments are the resourceVersions at which one object was first seen,
// first Ready, started to go and was gone: one etcd orders every write of
// the API server, where clocks (to the second) and polling cannot.
type moments struct{ added, ready, deleting, gone uint64 }

// recorder watches kinds in every namespace and records the moments of
// each object, keyed Kind/namespace/name.
type recorder struct {
	mu     sync.Mutex
	seen   map[string]*moments
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func record(t testing.TB, cfg *rest.Config, kinds ...schema.GroupVersionKind) *recorder {
	t.Helper()
	wc, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{seen: map[string]*moments{}, cancel: cancel}
	t.Cleanup(r.stop)
	for _, gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		w, err := wc.Watch(ctx, list)
		if err != nil {
			t.Fatalf("watching %s: %v", gvk.Kind, err)
		}
		r.wg.Go(func() {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					if o, ok := ev.Object.(*unstructured.Unstructured); ok {
						r.note(gvk.Kind, ev.Type, o)
					}
				}
			}
		})
	}
	return r
}

func (r *recorder) note(kind string, typ watch.EventType, o *unstructured.Unstructured) {
	rv, _ := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	k := kind + "/" + o.GetNamespace() + "/" + o.GetName()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.seen[k]
	if m == nil || (m.gone != 0 && typ == watch.Added) {
		// A new object of a name seen before starts afresh.
		m = &moments{}
		r.seen[k] = m
	}
	if m.added == 0 {
		m.added = rv
	}
	if m.ready == 0 && isReady(o) {
		m.ready = rv
	}
	if m.deleting == 0 && (!o.GetDeletionTimestamp().IsZero() || typ == watch.Deleted) {
		m.deleting = rv
	}
	if typ == watch.Deleted {
		m.gone = rv
	}
}

// at returns the moments of an object (zero when never seen).
func (r *recorder) at(kind, namespace, name string) moments {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.seen[kind+"/"+namespace+"/"+name]; m != nil {
		return *m
	}
	return moments{}
}

// ready returns the moments of an object the test knows to be Ready,
// once the recorder has seen it Ready: a watch event can arrive after the
// test's own read of the object.
func (r *recorder) ready(t testing.TB, kind, namespace, name string) moments {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := r.at(kind, namespace, name)
		if m.ready != 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Errorf("the recorder never saw %s %s/%s Ready", kind, namespace, name)
			return m
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *recorder) stop() {
	r.cancel()
	r.wg.Wait()
}

// isReady is a Flux object's Ready=True.
func isReady(o *unstructured.Unstructured) bool {
	raw, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range raw {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}
