// Package verify checks rendered and expanded objects against the Go types of
// the controllers that will read them: Cluster API (core v1beta2, kubeadm
// bootstrap and control plane v1beta2), Kubernetes core kinds and Flux, by
// strict decoding (an unknown or mistyped field is an error); and the objects
// of Cluster API Provider OpenStack, whose Go module is not a dependency,
// against the field list in capo_fields.yaml.
package verify

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	fluxcel "github.com/fluxcd/pkg/runtime/cel"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	celtypes "github.com/google/cel-go/common/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Problem is one thing wrong with one object.
type Problem struct {
	APIVersion, Kind, Namespace, Name string
	// Path is the field path, dotted from the object's root ("[]" for list
	// elements); empty when the problem is the object as a whole.
	Path    string
	Message string
}

func (p Problem) String() string {
	id := p.Kind + " " + p.Name
	if p.Namespace != "" {
		id = p.Kind + " " + p.Namespace + "/" + p.Name
	}
	if p.Path != "" {
		return fmt.Sprintf("%s: %s: %s", id, p.Path, p.Message)
	}
	return fmt.Sprintf("%s: %s", id, p.Message)
}

// Error lists every problem found, in the order of the objects.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("%d problem(s) in objects:\n  %s", len(e.Problems), strings.Join(lines, "\n  "))
}

// typed are the kinds decoded strictly into their upstream Go types.
var typed = map[schema.GroupVersionKind]func() any{
	clusterv1.GroupVersion.WithKind("Cluster"):            func() any { return &clusterv1.Cluster{} },
	clusterv1.GroupVersion.WithKind("MachineDeployment"):  func() any { return &clusterv1.MachineDeployment{} },
	clusterv1.GroupVersion.WithKind("MachineHealthCheck"): func() any { return &clusterv1.MachineHealthCheck{} },
	clusterv1.GroupVersion.WithKind("MachineSet"):         func() any { return &clusterv1.MachineSet{} },
	clusterv1.GroupVersion.WithKind("Machine"):            func() any { return &clusterv1.Machine{} },
	clusterv1.GroupVersion.WithKind("MachinePool"):        func() any { return &clusterv1.MachinePool{} },
	controlplanev1.GroupVersion.WithKind("KubeadmControlPlane"): func() any {
		return &controlplanev1.KubeadmControlPlane{}
	},
	bootstrapv1.GroupVersion.WithKind("KubeadmConfigTemplate"): func() any {
		return &bootstrapv1.KubeadmConfigTemplate{}
	},
	bootstrapv1.GroupVersion.WithKind("KubeadmConfig"): func() any { return &bootstrapv1.KubeadmConfig{} },

	corev1.SchemeGroupVersion.WithKind("Namespace"):      func() any { return &corev1.Namespace{} },
	corev1.SchemeGroupVersion.WithKind("ServiceAccount"): func() any { return &corev1.ServiceAccount{} },
	corev1.SchemeGroupVersion.WithKind("Secret"):         func() any { return &corev1.Secret{} },
	corev1.SchemeGroupVersion.WithKind("ConfigMap"):      func() any { return &corev1.ConfigMap{} },
	corev1.SchemeGroupVersion.WithKind("Service"):        func() any { return &corev1.Service{} },
	appsv1.SchemeGroupVersion.WithKind("Deployment"):     func() any { return &appsv1.Deployment{} },
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"):      func() any { return &appsv1.DaemonSet{} },
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):    func() any { return &appsv1.StatefulSet{} },
	rbacv1.SchemeGroupVersion.WithKind("Role"):           func() any { return &rbacv1.Role{} },
	rbacv1.SchemeGroupVersion.WithKind("RoleBinding"):    func() any { return &rbacv1.RoleBinding{} },
	rbacv1.SchemeGroupVersion.WithKind("ClusterRole"):    func() any { return &rbacv1.ClusterRole{} },
	rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"): func() any {
		return &rbacv1.ClusterRoleBinding{}
	},

	helmv2.GroupVersion.WithKind(helmv2.HelmReleaseKind):             func() any { return &helmv2.HelmRelease{} },
	kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind): func() any { return &kustomizev1.Kustomization{} },
	sourcev1.GroupVersion.WithKind(sourcev1.GitRepositoryKind):       func() any { return &sourcev1.GitRepository{} },
	sourcev1.GroupVersion.WithKind(sourcev1.HelmRepositoryKind):      func() any { return &sourcev1.HelmRepository{} },
	sourcev1.GroupVersion.WithKind(sourcev1.OCIRepositoryKind):       func() any { return &sourcev1.OCIRepository{} },
	sourcev1.GroupVersion.WithKind(sourcev1.HelmChartKind):           func() any { return &sourcev1.HelmChart{} },

	notificationv1.GroupVersion.WithKind(notificationv1.ReceiverKind):           func() any { return &notificationv1.Receiver{} },
	notificationv1beta3.GroupVersion.WithKind(notificationv1beta3.ProviderKind): func() any { return &notificationv1beta3.Provider{} },
	notificationv1beta3.GroupVersion.WithKind(notificationv1beta3.AlertKind):    func() any { return &notificationv1beta3.Alert{} },
}

//go:embed capo_fields.yaml
var capoFieldsYAML []byte

// CommitStatusExpr compiles a Provider's commitStatusExpr as
// notification-controller does (Flux's CEL environment, variables event,
// alert and provider, a string result), so that an expression it would
// refuse at the first event is refused here.
func CommitStatusExpr(expr string) error {
	_, err := fluxcel.NewExpression(expr,
		fluxcel.WithCompile(),
		fluxcel.WithOutputType(celtypes.StringType),
		fluxcel.WithStructVariables("event", "alert", "provider"))
	return err
}

// capoFields is capo_fields.yaml: per kind, the accepted paths and types.
type capoFields struct {
	Version    string                       `json:"version"`
	APIVersion string                       `json:"apiVersion"`
	Kinds      map[string]map[string]string `json:"kinds"`
}

var capo = mustLoadCAPOFields()

func mustLoadCAPOFields() capoFields {
	var f capoFields
	// The file is embedded: a broken file is a programming error that every
	// test run shows at once.
	if err := yaml.UnmarshalStrict(capoFieldsYAML, &f); err != nil {
		panic(fmt.Sprintf("verify: capo_fields.yaml: %v", err))
	}
	return f
}

// CAPOFields returns the field list of capo_fields.yaml: the API version
// of the OpenStack provider's kinds and, per kind, every accepted path with
// its JSON type. Tests hold it against the provider's CRDs.
func CAPOFields() (apiVersion string, kinds map[string]map[string]string) {
	kinds = make(map[string]map[string]string, len(capo.Kinds))
	for kind, fields := range capo.Kinds {
		kinds[kind] = make(map[string]string, len(fields))
		for path, typ := range fields {
			kinds[kind][path] = typ
		}
	}
	return capo.APIVersion, kinds
}

// Objects verifies every object and returns an *Error listing every problem
// at once, or nil.
func Objects(objs []*unstructured.Unstructured) error {
	var problems []Problem
	for _, o := range objs {
		problems = append(problems, object(o)...)
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

func object(o *unstructured.Unstructured) []Problem {
	at := func(path, format string, args ...any) Problem {
		return Problem{
			APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(),
			Path: path, Message: fmt.Sprintf(format, args...),
		}
	}
	gvk := o.GroupVersionKind()
	if _, encrypted := o.Object["sops"]; encrypted && gvk == corev1.SchemeGroupVersion.WithKind("Secret") {
		// A SOPS-encrypted Secret is applied only after kustomize-controller
		// decrypted it and removed its sops metadata; its values are known
		// only there. The rest of it is verified as the API server will
		// see it.
		o = o.DeepCopy()
		delete(o.Object, "sops")
		delete(o.Object, "data")
		delete(o.Object, "stringData")
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		return []Problem{at("", "cannot encode: %v", err)}
	}
	if newObj, ok := typed[gvk]; ok {
		v := newObj()
		problems := strict(data, v, at)
		if p, ok := v.(*notificationv1beta3.Provider); ok && len(problems) == 0 && p.Spec.CommitStatusExpr != "" {
			if err := CommitStatusExpr(p.Spec.CommitStatusExpr); err != nil {
				problems = append(problems, at("spec.commitStatusExpr", "%v", err))
			}
		}
		return problems
	}
	if gvk.GroupVersion().String() == capo.APIVersion {
		if fields, ok := capo.Kinds[gvk.Kind]; ok {
			return checkCAPO(o, data, fields, at)
		}
	}
	return []Problem{at("", "unknown apiVersion/kind %s %s", o.GetAPIVersion(), o.GetKind())}
}

// strict decodes data into v and reports unknown, duplicate and mistyped
// fields.
func strict(data []byte, v any, at func(path, format string, args ...any) Problem) []Problem {
	strictErrs, err := sigsjson.UnmarshalStrict(data, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	var problems []Problem
	if err != nil {
		problems = append(problems, at(fieldOfTypeError(err), "%v", err))
	}
	for _, e := range strictErrs {
		msg := e.Error()
		path := ""
		if i := strings.Index(msg, `"`); i >= 0 {
			if j := strings.LastIndex(msg, `"`); j > i {
				path = msg[i+1 : j]
				msg = strings.TrimSpace(msg[:i])
			}
		}
		problems = append(problems, at(path, "%s", msg))
	}
	return problems
}

// fieldOfTypeError returns the field path of a JSON type error, when it has one.
func fieldOfTypeError(err error) string {
	const marker = "Go struct field "
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	rest := msg[i+len(marker):]
	if j := strings.Index(rest, " of type"); j >= 0 {
		rest = rest[:j]
	}
	// "Type.path.to.field": drop the Go type name.
	if j := strings.Index(rest, "."); j >= 0 {
		rest = rest[j+1:]
	}
	return rest
}

// checkCAPO checks a CAPO object: its metadata strictly against ObjectMeta,
// every other field against the field list.
func checkCAPO(o *unstructured.Unstructured, data []byte, fields map[string]string, at func(path, format string, args ...any) Problem) []Problem {
	var problems []Problem
	var envelope struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            json.RawMessage   `json:"spec,omitempty"`
	}
	for _, p := range strict(data, &envelope, at) {
		if p.Path == "" || p.Path == "metadata" || strings.HasPrefix(p.Path, "metadata.") {
			problems = append(problems, p)
		}
	}
	keys := sortedKeys(o.Object)
	for _, k := range keys {
		switch k {
		case "apiVersion", "kind", "metadata":
			continue
		}
		problems = append(problems, walk(o.Object[k], k, fields, at)...)
	}
	return problems
}

func walk(v any, path string, fields map[string]string, at func(path, format string, args ...any) Problem) []Problem {
	want, ok := fields[path]
	if !ok {
		return []Problem{at(path, "unknown field (not in CAPO %s fields, see tools/verify/capo_fields.yaml)", capo.Version)}
	}
	if got := jsonType(v); got != want && !(want == "number" && got == "integer") {
		return []Problem{at(path, "is %s, want %s", got, want)}
	}
	var problems []Problem
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			problems = append(problems, walk(v[k], path+"."+k, fields, at)...)
		}
	case []any:
		for _, e := range v {
			problems = append(problems, walk(e, path+"[]", fields, at)...)
		}
	}
	return problems
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int32, int64:
		return "integer"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
