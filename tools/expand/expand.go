// Package expand renders a HelmRelease's chart in process and offline, as
// Flux's helm-controller would install it: the Helm v4 SDK's install action in
// client-only dry-run mode (the same path as `helm template`), values checked
// against the chart's schema, then helm-controller's post-rendering (the
// origin labels) applied to every object.
package expand

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/ignore"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Labels that helm-controller's post-renderer puts on every object of a
// release, naming the HelmRelease it came from.
const (
	LabelHelmReleaseName      = "helm.toolkit.fluxcd.io/name"
	LabelHelmReleaseNamespace = "helm.toolkit.fluxcd.io/namespace"
)

// Options are the inputs of one expansion.
type Options struct {
	// Chart holds the chart directory's files, for example
	// os.DirFS("charts/openstack-cluster") or a sub-tree of a git revision.
	Chart fs.FS
	// ReleaseName is the Helm release name (HelmRelease spec.releaseName).
	ReleaseName string
	// Namespace is the release's target namespace (.Release.Namespace);
	// namespaced objects rendered without a namespace are put in it.
	Namespace string
	// Values are the release's values, merged over the chart's values.yaml
	// and validated against its values.schema.json.
	Values map[string]any
	// KubeVersion is the Kubernetes version of the cluster the release is
	// installed on (.Capabilities.KubeVersion), e.g. "v1.36.1". Empty: Helm's
	// client-only default (v1.20.0, as `helm template`), which fails charts
	// that require a newer kubeVersion: set it to the management cluster's.
	KubeVersion string
	// HelmReleaseName and HelmReleaseNamespace identify the HelmRelease;
	// when set, every object is labelled with them as helm-controller does.
	HelmReleaseName, HelmReleaseNamespace string
}

// clusterScopedKinds are the kinds that never take a namespace. A chart that
// renders other cluster-scoped kinds must set no namespace on them and is
// wrongly given one here; the list holds the kinds charts render in practice.
var clusterScopedKinds = map[string]bool{
	"Namespace":                        true,
	"Node":                             true,
	"PersistentVolume":                 true,
	"ClusterRole":                      true,
	"ClusterRoleBinding":               true,
	"CustomResourceDefinition":         true,
	"StorageClass":                     true,
	"CSIDriver":                        true,
	"VolumeSnapshotClass":              true,
	"PriorityClass":                    true,
	"IngressClass":                     true,
	"RuntimeClass":                     true,
	"APIService":                       true,
	"MutatingWebhookConfiguration":     true,
	"ValidatingWebhookConfiguration":   true,
	"ValidatingAdmissionPolicy":        true,
	"ValidatingAdmissionPolicyBinding": true,
	"PodSecurityPolicy":                true,
	"ClusterIssuer":                    true,
	"GatewayClass":                     true,
}

// Expand renders the chart with the options' values and returns its objects,
// sorted by apiVersion, kind, namespace and name. A values error carries the
// schema's message. Hooks and tests are not returned: helm-controller runs
// them, but they are not part of the release's desired state.
func Expand(ctx context.Context, opts Options) ([]*unstructured.Unstructured, error) {
	if opts.Chart == nil {
		return nil, errors.New("expand: no chart")
	}
	if opts.ReleaseName == "" {
		return nil, errors.New("expand: no release name")
	}
	if opts.Namespace == "" {
		return nil, errors.New("expand: no namespace")
	}
	chrt, err := LoadChart(opts.Chart)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = opts.ReleaseName
	install.Namespace = opts.Namespace
	// helm-controller never lets a chart choose to skip CRDs or the schema.
	install.IncludeCRDs = true
	if opts.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("expand: kube version %q: %w", opts.KubeVersion, err)
		}
		install.KubeVersion = kv
	}

	values := opts.Values
	if values == nil {
		values = map[string]any{}
	}
	rel, err := install.RunWithContext(ctx, chrt, values)
	if err != nil {
		return nil, fmt.Errorf("expand %s/%s: %w", opts.Namespace, opts.ReleaseName, err)
	}
	r, ok := rel.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("expand %s/%s: unexpected release type %T", opts.Namespace, opts.ReleaseName, rel)
	}

	objs, err := decode(r.Manifest)
	if err != nil {
		return nil, fmt.Errorf("expand %s/%s: %w", opts.Namespace, opts.ReleaseName, err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" && !clusterScopedKinds[o.GetKind()] {
			o.SetNamespace(opts.Namespace)
		}
		if opts.HelmReleaseName != "" {
			labels := o.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[LabelHelmReleaseName] = opts.HelmReleaseName
			labels[LabelHelmReleaseNamespace] = opts.HelmReleaseNamespace
			o.SetLabels(labels)
		}
	}
	Sort(objs)
	return objs, nil
}

// Sort orders objects by apiVersion, kind, namespace and name.
func Sort(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if a.GetAPIVersion() != b.GetAPIVersion() {
			return a.GetAPIVersion() < b.GetAPIVersion()
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

// decode splits a release manifest into objects, as Helm's kube client
// does: one object per YAML document, empty documents skipped, Lists
// flattened.
func decode(manifest string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	docs := releaseutil.SplitManifests(manifest)
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(names))
	for _, name := range names {
		var m map[string]any
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(docs[name]), 4096)
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				continue
			}
			return nil, fmt.Errorf("decode %s: %w", sourceOf(docs[name]), err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("decode %s: object without apiVersion or kind", sourceOf(docs[name]))
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("decode %s: %w", sourceOf(docs[name]), err)
			}
			for i := range list.Items {
				objs = append(objs, &list.Items[i])
			}
			continue
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// sourceOf returns the "# Source:" template path Helm writes above each
// document, for error messages.
func sourceOf(doc string) string {
	for _, line := range strings.Split(doc, "\n") {
		if rest, ok := strings.CutPrefix(line, "# Source: "); ok {
			return rest
		}
	}
	return "manifest"
}

// LoadChart loads a chart from the files of its directory, honouring
// .helmignore as `helm package` and Flux's source-controller do. Modification
// times are not read, so that the chart is the same whichever file system
// (work tree or git revision) it comes from.
func LoadChart(fsys fs.FS) (*chartv2.Chart, error) {
	rules := ignore.Empty()
	if data, err := fs.ReadFile(fsys, ignore.HelmIgnore); err == nil {
		r, err := ignore.Parse(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("load chart: %s: %w", ignore.HelmIgnore, err)
		}
		rules = r
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	rules.AddDefaults()

	var files []*archive.BufferedFile
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rules.Ignore(name, fi) {
				return fs.SkipDir
			}
			return nil
		}
		if rules.Ignore(name, fi) {
			return nil
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", name)
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
		files = append(files, &archive.BufferedFile{Name: path.Clean(name), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("load chart: no files")
	}
	chrt, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	if err := chrt.Validate(); err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	return chrt, nil
}
