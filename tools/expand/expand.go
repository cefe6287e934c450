// Package expand renders a HelmRelease's chart in process and offline, as
// Flux's helm-controller would install it: the Helm v4 SDK's install action in
// client-only dry-run mode (the same path as `helm template`), values checked
// against the chart's schema, then helm-controller's post-rendering (the
// origin labels) applied to every object.
package expand

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/ignore"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/capiform/capiform/tools/internal/abandon"
	"github.com/capiform/capiform/tools/source"
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
// them, but they are not part of the release's desired state. To expand many
// releases of one chart, Load it once and call Chart.Expand.
func Expand(ctx context.Context, opts Options) ([]*unstructured.Unstructured, error) {
	if opts.Chart == nil {
		return nil, errors.New("expand: no chart")
	}
	c, err := Load(opts.Chart)
	if err != nil {
		return nil, err
	}
	return c.Expand(ctx, opts)
}

// Chart is a chart loaded once, with its values schema compiled, to expand
// any number of releases, concurrently if need be.
type Chart struct {
	chart *chartv2.Chart
	// files are the chart's files, to build a chart of its own for each
	// install: the install action changes the chart it is given (it
	// resolves dependencies in place).
	files []*archive.BufferedFile
	// schemas are the compiled values schemas of the chart and its
	// subcharts. Helm's own schema validation is never called: its loader
	// fetches URLs and reads the machine's files.
	schemas compiledSchemas
	// direct is true when the chart has no dependencies: it is then
	// rendered with Helm's engine directly (see render), else through
	// Helm's install action, which also resolves dependencies.
	direct bool
}

// Load loads the chart in fsys (see LoadChart) for Chart.Expand: it reads
// only fsys, compiles the values schemas (see compileSchema) and parses
// every template. A fault of the chart itself is a *ChartError.
func Load(fsys fs.FS) (*Chart, error) {
	files, err := chartFiles(fsys)
	if err != nil {
		return nil, err
	}
	chrt, err := loadFiles(files)
	if err != nil {
		return nil, err
	}
	c := &Chart{chart: chrt, files: files, schemas: compiledSchemas{}, direct: len(chrt.Metadata.Dependencies) == 0 && len(chrt.Dependencies()) == 0}
	if err := compileSchemas(chrt, "", c.schemas); err != nil {
		return nil, err
	}
	if err := parseTemplates(chrt); err != nil {
		return nil, err
	}
	return c, nil
}

// Metadata is the chart's Chart.yaml.
func (c *Chart) Metadata() *chartv2.Metadata { return c.chart.Metadata }

// Expand renders a release of the chart; opts.Chart is not read.
func (c *Chart) Expand(ctx context.Context, opts Options) ([]*unstructured.Unstructured, error) {
	if opts.ReleaseName == "" {
		return nil, errors.New("expand: no release name")
	}
	if opts.Namespace == "" {
		return nil, errors.New("expand: no namespace")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var kv *common.KubeVersion
	if opts.KubeVersion != "" {
		v, err := common.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("expand: kube version %q: %w", opts.KubeVersion, err)
		}
		kv = v
	}
	values := opts.Values
	if values == nil {
		values = map[string]any{}
	}
	// Helm's engine cannot be interrupted, and a template can loop for
	// ever: it runs where it can be abandoned when ctx ends.
	objs, err := abandon.Run(ctx, fmt.Sprintf("rendering chart %s for release %s/%s", c.chart.Name(), opts.Namespace, opts.ReleaseName), func(ctx context.Context) ([]*unstructured.Unstructured, error) {
		if c.direct {
			return c.render(opts, kv, values)
		}
		return c.install(ctx, opts, kv, values)
	})
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

// install renders through Helm's install action in client-only dry-run
// mode, exactly as `helm template` does. It is the reference that render
// is tested against, and the path for charts with dependencies.
func (c *Chart) install(ctx context.Context, opts Options, kv *common.KubeVersion, values map[string]any) ([]*unstructured.Unstructured, error) {
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = opts.ReleaseName
	install.Namespace = opts.Namespace
	// helm-controller never lets a chart choose to skip CRDs.
	install.IncludeCRDs = true
	install.KubeVersion = kv
	// The values are checked against the chart's schemas here, with the
	// schemas compiled at Load: Helm's own validation would compile them
	// again with its loader, which fetches URLs and reads local files.
	install.SkipSchemaValidation = true
	if err := c.validateInstall(values); err != nil {
		return nil, err
	}
	// The install action changes the chart it is given (dependencies):
	// give it one of its own.
	chrt, err := loadFiles(c.files)
	if err != nil {
		return nil, err
	}
	rel, err := install.RunWithContext(ctx, chrt, values)
	if err != nil {
		return nil, err
	}
	r, ok := rel.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("unexpected release type %T", rel)
	}
	return decode(r.Manifest)
}

// validateInstall checks values against the schemas as the install action
// would before it renders: on a chart of its own with the dependencies
// processed (conditions, tags, imported values), the values coalesced.
func (c *Chart) validateInstall(values map[string]any) error {
	chrt, err := loadFiles(c.files)
	if err != nil {
		return err
	}
	if err := chartutil.ProcessDependencies(chrt, values); err != nil {
		return fmt.Errorf("chart dependencies processing failed: %w", err)
	}
	vals, err := util.CoalesceValues(chrt, values)
	if err != nil {
		return err
	}
	if err := c.schemas.validate(chrt, vals); err != nil {
		return schemaFailed(err)
	}
	return nil
}

// render does what the install action does for a chart without
// dependencies in client-only dry-run mode, with Helm's own parts (values
// coalescing, the template engine, manifest splitting), but without its
// second YAML parse of every manifest, and with the values schema compiled
// once rather than once a release (and never with Helm's loader). Its output is the install action's
// (TestRenderMatchesInstall).
func (c *Chart) render(opts Options, kv *common.KubeVersion, values map[string]any) ([]*unstructured.Unstructured, error) {
	if err := chartutil.ValidateReleaseName(opts.ReleaseName); err != nil {
		return nil, fmt.Errorf("release name check failed: release name %q: %w", opts.ReleaseName, err)
	}
	caps := common.DefaultCapabilities.Copy()
	if kv != nil {
		caps.KubeVersion = *kv
	}
	if c.chart.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(c.chart.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c.chart.Metadata.KubeVersion, caps.KubeVersion.Version)
	}
	options := common.ReleaseOptions{Name: opts.ReleaseName, Namespace: opts.Namespace, Revision: 1, IsInstall: true}
	// Helm's schema validation is skipped (its loader fetches URLs and
	// reads local files); the schemas compiled at Load judge instead.
	top, err := util.ToRenderValuesWithSchemaValidation(c.chart, values, options, caps, true)
	if err != nil {
		return nil, err
	}
	vals, _ := top["Values"].(common.Values)
	if err := c.schemas.validate(c.chart, vals); err != nil {
		return nil, schemaFailed(err)
	}
	files, err := engine.Engine{}.Render(c.chart, top)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, crd := range c.chart.CRDObjects() {
		o, err := decode(string(crd.File.Data))
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	names := make([]string, 0, len(files))
	for name, content := range files {
		// NOTES.txt is printed, not applied; partials (_*) render nothing.
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasPrefix(path.Base(name), "_") || strings.TrimSpace(content) == "" {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o, err := decodeFile(name, files[name])
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
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
	return decodeDocs(manifest, false)
}

// decodeFile decodes a rendered template as Helm's manifest sorter and kube
// client do together: any document with a helm.sh/hook annotation is a hook
// (or an unknown hook, which Helm skips) and is left out.
func decodeFile(name, content string) ([]*unstructured.Unstructured, error) {
	objs, err := decodeDocs(content, true)
	if err != nil {
		return nil, fmt.Errorf("YAML parse error on %s: %w", name, err)
	}
	return objs, nil
}

func decodeDocs(manifest string, skipHooks bool) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, doc := range splitManifests(manifest) {
		m, err := decodeDoc(doc)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", sourceOf(doc), err)
		}
		if len(m) == 0 {
			continue
		}
		if skipHooks {
			hook, err := helmHead(m)
			if err != nil {
				return nil, fmt.Errorf("decode %s: %w", sourceOf(doc), err)
			}
			if hook {
				continue
			}
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("decode %s: object without apiVersion or kind", sourceOf(doc))
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("decode %s: %w", sourceOf(doc), err)
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

// splitManifests splits a rendered template into its documents as Helm's
// releaseutil.SplitManifests does (a document starts at a line that begins
// with "---", spaces and tabs after it dropped; blank documents skipped;
// leading white space trimmed), in order, without its regular expression,
// which was a tenth of the time of an expansion.
func splitManifests(s string) []string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	var docs []string
	add := func(d string) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, strings.TrimLeftFunc(d, unicode.IsSpace))
		}
	}
	start, from := 0, 0
	for {
		i := strings.Index(s[from:], "---")
		if i < 0 {
			break
		}
		p := from + i
		if p > 0 && s[p-1] != '\n' {
			from = p + 1
			continue
		}
		end := p + 3
		for end < len(s) && (s[end] == ' ' || s[end] == '\t') {
			end++
		}
		add(s[start:p])
		start, from = end, end
	}
	add(s[start:])
	return docs
}

// helmHead reads a document's head as Helm's manifest sorter does (its
// SimpleHead: apiVersion, kind, metadata.name and annotations, as strings):
// it fails where that fails, on an object or a list where a string is, and
// says whether the document is a hook, which Helm leaves out of the
// release (a helm.sh/hook annotation, whatever its value).
func helmHead(m map[string]any) (bool, error) {
	scalar := func(v any) bool {
		switch v.(type) {
		case map[string]any, []any:
			return false
		}
		return true
	}
	for _, k := range []string{"apiVersion", "kind"} {
		if !scalar(m[k]) {
			return false, fmt.Errorf("%s is not a string", k)
		}
	}
	if m["metadata"] == nil {
		return false, nil
	}
	md, ok := m["metadata"].(map[string]any)
	if !ok {
		return false, errors.New("metadata is not an object")
	}
	if !scalar(md["name"]) {
		return false, errors.New("metadata.name is not a string")
	}
	if md["annotations"] == nil {
		return false, nil
	}
	ann, ok := md["annotations"].(map[string]any)
	if !ok {
		return false, errors.New("metadata.annotations is not an object")
	}
	for k, v := range ann {
		if !scalar(v) {
			return false, fmt.Errorf("annotation %s is not a string", k)
		}
	}
	_, hook := ann[releasev1.HookAnnotation]
	return hook, nil
}

// decodeDoc decodes one YAML document into what Kubernetes' YAML decoder
// (sigs.k8s.io/yaml: YAML to JSON, then JSON into a map) gives, without the
// JSON in between: the same parser, the same conversion of keys, numbers
// as float64. A document that is JSON goes through Kubernetes' decoder
// itself. TestDecodeDocMatchesKubernetes holds the two together.
func decodeDoc(doc string) (map[string]any, error) {
	// JSON, and what is not plain UTF-8 (a byte order mark, UTF-16), take
	// Kubernetes' decoder itself.
	if t := strings.TrimSpace(doc); strings.HasPrefix(t, "{") || !utf8.ValidString(doc) || strings.HasPrefix(doc, "\xef\xbb\xbf") {
		var m map[string]any
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096)
		if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return m, nil
	}
	var v any
	if err := yamlv2.Unmarshal([]byte(doc), &v); err != nil {
		return nil, fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	if v == nil {
		return nil, nil
	}
	j, err := jsonValue(v)
	if err != nil {
		return nil, fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	m, ok := j.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("error unmarshaling JSON: the document is a %T, not an object", j)
	}
	return m, nil
}

// jsonValue converts what yaml.v2 decodes into what decoding its JSON
// would give, as sigs.k8s.io/yaml's conversion does for an untyped target.
func jsonValue(v any) (any, error) {
	switch t := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			var key string
			switch tk := k.(type) {
			case string:
				key = tk
			case int:
				key = strconv.Itoa(tk)
			case int64:
				key = strconv.FormatInt(tk, 10)
			case float64:
				key = strconv.FormatFloat(tk, 'g', -1, 32)
				switch key {
				case "+Inf":
					key = ".inf"
				case "-Inf":
					key = "-.inf"
				case "NaN":
					key = ".nan"
				}
			case bool:
				key = strconv.FormatBool(tk)
			default:
				return nil, fmt.Errorf("unsupported map key of type: %T, key: %#v", k, k)
			}
			cv, err := jsonValue(x)
			if err != nil {
				return nil, err
			}
			out[key] = cv
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			cv, err := jsonValue(x)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("json: unsupported value: %v", t)
		}
		return t, nil
	case string, bool, nil:
		return t, nil
	}
	// Anything else (a timestamp, binary data) takes the JSON way.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
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
// (work tree or git revision) it comes from. The chart is checked as Load
// checks it (its values schemas refer only to its own files, its templates
// parse); the chart returned is the caller's own.
func LoadChart(fsys fs.FS) (*chartv2.Chart, error) {
	c, err := Load(fsys)
	if err != nil {
		return nil, err
	}
	return loadFiles(c.files)
}

// loadFiles builds a chart from its files.
func loadFiles(files []*archive.BufferedFile) (*chartv2.Chart, error) {
	chrt, err := loader.LoadFiles(files)
	if err != nil {
		return nil, chartFault(err)
	}
	if err := chrt.Validate(); err != nil {
		return nil, chartFault(err)
	}
	return chrt, nil
}

// chartFiles reads the files of a chart's directory that `helm package`
// would take, from fsys only: Helm's loader never sees the machine's file
// system, so the chart and its .Files are the revision's files and nothing
// else. A file that is not a regular file (a symbolic link) is refused.
func chartFiles(fsys fs.FS) ([]*archive.BufferedFile, error) {
	if _, err := fs.Stat(fsys, "Chart.yaml"); errors.Is(err, fs.ErrNotExist) {
		return nil, &ChartError{File: "Chart.yaml", Rule: RuleChartMissing, Message: "the chart is missing from this revision (no Chart.yaml): restore the chart's folder"}
	}
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
		if err := source.Refused(name, d); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return &ChartError{File: name, Rule: RuleChartLoad, Message: "not a regular file (a symbolic link or a special file): a chart holds regular files only; put the file itself in the chart"}
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
		files = append(files, &archive.BufferedFile{Name: path.Clean(name), Data: data})
		return nil
	})
	var ce *ChartError
	if errors.As(err, &ce) {
		return nil, ce
	}
	// A link or a submodule in the chart is the revision's fault, named
	// by its path: a diagnostic, not a failure to run.
	if d, ok := source.Diagnostic(err); ok {
		return nil, &ChartError{File: d.File, Rule: d.Rule, Message: d.Message}
	}
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("load chart: no files")
	}
	return files, nil
}
