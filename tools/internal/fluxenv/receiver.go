package fluxenv

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"
)

// ReceiverGVK is notification-controller's Receiver.
var ReceiverGVK = schema.GroupVersionKind{Group: "notification.toolkit.fluxcd.io", Version: "v1", Kind: "Receiver"}

// fluxAPIVersions are the API versions notification-controller gives a
// Receiver's resource that names none.
var fluxAPIVersions = map[string]string{
	"GitRepository":  "source.toolkit.fluxcd.io/v1",
	"HelmRepository": "source.toolkit.fluxcd.io/v1",
	"HelmChart":      "source.toolkit.fluxcd.io/v1",
	"Bucket":         "source.toolkit.fluxcd.io/v1",
	"OCIRepository":  "source.toolkit.fluxcd.io/v1",
	"Kustomization":  "kustomize.toolkit.fluxcd.io/v1",
	"HelmRelease":    "helm.toolkit.fluxcd.io/v2",
}

// ReceiverServer is the notification-controller Receiver stand-in: an HTTP
// server answering on /hook/<sha256(token+name+namespace)> for every
// Receiver, as notification-controller's receiver server does. A request
// that the Receiver's type accepts (github: the X-Hub-Signature-256 HMAC
// of the body with the token and an event of spec.events; gitlab: the
// X-Gitlab-Token and event; generic: any) annotates each of
// spec.resources with reconcile.fluxcd.io/requestedAt, which makes its
// controller reconcile it at once. Other types, resourceFilter and the
// Receiver's status conditions are not done by the stand-in.
type ReceiverServer struct {
	// URL is the server's base address.
	URL string

	client client.Client
	srv    *httptest.Server
}

func newReceiverServer(c client.Client) *ReceiverServer {
	r := &ReceiverServer{client: c}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

// Close stops the server.
func (r *ReceiverServer) Close() { r.srv.Close() }

// WebhookPath returns a Receiver's path, as notification-controller
// derives it from its token, and records it in the Receiver's
// status.webhookPath as notification-controller does.
func (r *ReceiverServer) WebhookPath(ctx context.Context, namespace, name string) (string, error) {
	rcv := &unstructured.Unstructured{}
	rcv.SetGroupVersionKind(ReceiverGVK)
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, rcv); err != nil {
		return "", err
	}
	path, err := r.path(ctx, rcv)
	if err != nil {
		return "", err
	}
	patch := []byte(fmt.Sprintf(`{"status":{"webhookPath":%q}}`, path))
	if err := r.client.Status().Patch(ctx, rcv, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return "", err
	}
	return path, nil
}

func (r *ReceiverServer) token(ctx context.Context, rcv *unstructured.Unstructured) ([]byte, error) {
	name, _, _ := unstructured.NestedString(rcv.Object, "spec", "secretRef", "name")
	s := &corev1.Secret{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: rcv.GetNamespace(), Name: name}, s); err != nil {
		return nil, fmt.Errorf("Receiver %s/%s: token Secret: %w", rcv.GetNamespace(), rcv.GetName(), err)
	}
	t, ok := s.Data["token"]
	if !ok {
		return nil, fmt.Errorf("Receiver %s/%s: Secret %s has no key token", rcv.GetNamespace(), rcv.GetName(), name)
	}
	return t, nil
}

func (r *ReceiverServer) path(ctx context.Context, rcv *unstructured.Unstructured) (string, error) {
	t, err := r.token(ctx, rcv)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(string(t) + rcv.GetName() + rcv.GetNamespace()))
	return "/hook/" + hex.EncodeToString(sum[:]), nil
}

func (r *ReceiverServer) serve(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(ReceiverGVK.GroupVersion().WithKind("ReceiverList"))
	if err := r.client.List(ctx, list); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for i := range list.Items {
		rcv := &list.Items[i]
		p, err := r.path(ctx, rcv)
		if err != nil || p != req.URL.Path {
			continue
		}
		token, _ := r.token(ctx, rcv)
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if code, err := validate(rcv, token, req.Header, body); err != nil {
			http.Error(w, err.Error(), code)
			return
		} else if code != 0 {
			w.WriteHeader(code)
			return
		}
		if err := r.requestReconcile(ctx, rcv); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	http.NotFound(w, req)
}

// validate checks a request as the Receiver's type says; a status code
// without error answers without reconciling (GitHub's ping).
func validate(rcv *unstructured.Unstructured, token []byte, h http.Header, body []byte) (int, error) {
	typ, _, _ := unstructured.NestedString(rcv.Object, "spec", "type")
	events, _, _ := unstructured.NestedStringSlice(rcv.Object, "spec", "events")
	allowed := func(event string) bool {
		return len(events) == 0 || slices.ContainsFunc(events, func(e string) bool { return strings.EqualFold(e, event) })
	}
	switch typ {
	case "generic":
		return 0, nil
	case "github":
		mac := hmac.New(sha256.New, token)
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(h.Get("X-Hub-Signature-256")), []byte(want)) {
			return http.StatusBadRequest, fmt.Errorf("the GitHub payload's signature does not match the token")
		}
		event := h.Get("X-GitHub-Event")
		if event == "ping" {
			return http.StatusOK, nil
		}
		if !allowed(event) {
			return http.StatusBadRequest, fmt.Errorf("GitHub event %q is not allowed", event)
		}
		return 0, nil
	case "gitlab":
		if !hmac.Equal([]byte(h.Get("X-Gitlab-Token")), token) {
			return http.StatusBadRequest, fmt.Errorf("the GitLab token does not match")
		}
		if event := h.Get("X-Gitlab-Event"); !allowed(event) {
			return http.StatusBadRequest, fmt.Errorf("GitLab event %q is not allowed", event)
		}
		return 0, nil
	}
	return http.StatusNotImplemented, fmt.Errorf("not done by the Receiver stand-in: type %q", typ)
}

// requestReconcile annotates each of the Receiver's resources with
// reconcile.fluxcd.io/requestedAt, as notification-controller does.
func (r *ReceiverServer) requestReconcile(ctx context.Context, rcv *unstructured.Unstructured) error {
	resources, _, _ := unstructured.NestedSlice(rcv.Object, "spec", "resources")
	now := metav1.Now().String()
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, now))
	for _, x := range resources {
		res, _ := x.(map[string]any)
		kind, _ := res["kind"].(string)
		name, _ := res["name"].(string)
		ns, _ := res["namespace"].(string)
		apiVersion, _ := res["apiVersion"].(string)
		if ns == "" {
			ns = rcv.GetNamespace()
		}
		if apiVersion == "" {
			apiVersion = fluxAPIVersions[kind]
		}
		gvk := schema.FromAPIVersionAndKind(apiVersion, kind)
		var targets []client.Object
		if name == "*" {
			labels := map[string]string{}
			if ml, ok := res["matchLabels"].(map[string]any); ok {
				for k, v := range ml {
					labels[k], _ = v.(string)
				}
			}
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(kind + "List"))
			if err := r.client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
				return err
			}
			for i := range list.Items {
				targets = append(targets, &list.Items[i])
			}
		} else {
			o := &unstructured.Unstructured{}
			o.SetGroupVersionKind(gvk)
			o.SetNamespace(ns)
			o.SetName(name)
			targets = append(targets, o)
		}
		for _, o := range targets {
			if err := r.client.Patch(ctx, o, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return fmt.Errorf("%s %s/%s: %w", kind, ns, o.GetName(), err)
			}
		}
	}
	return nil
}
