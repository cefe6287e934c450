// Package importer turns what operators run today into capiform
// definitions: capi-helm-charts openstack-cluster values (a values file, a
// Flux HelmRelease, or `helm get values` output), a Magnum cluster template
// and cluster as the OpenStack CLI prints them in JSON, and an Azimuth
// Kubernetes cluster (with its cluster template). It is a pure function
// from bytes to a Cluster definition, an optional Site skeleton, and a
// warning for every setting that capiform cannot express, naming the
// file, the key and the reason. It never prints and writes nothing.
package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	v1 "github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

// Formats an input is read as.
const (
	FormatValues      = "capi-helm-charts values"
	FormatHelmRelease = "Flux HelmRelease"
	FormatMagnum      = "Magnum cluster template and cluster"
	FormatAzimuth     = "Azimuth cluster"
)

// Input is one file given to Import: its name as the user gave it (for
// messages) and its content.
type Input struct {
	Name string
	Data []byte
}

// Options of Import.
type Options struct {
	// Name is the cluster's name; default the name the input gives (the
	// HelmRelease's release name or name, the Magnum cluster's, the
	// Azimuth cluster's). A values file names no cluster: then required.
	Name string
	// ChartVersion is the openstack-cluster chart version a values file
	// (or `helm get values` output) was installed with; a HelmRelease
	// names its own. Versions this importer does not know are refused.
	ChartVersion string
	// KubernetesVersion is used when the input names none (an Azimuth
	// cluster given without its template).
	KubernetesVersion string
	// Site, when not empty, asks for a Site skeleton of that name holding
	// what the input says of the cloud: credentials, external network,
	// images, flavors (their sizes to fill in).
	Site string
}

// Result is an import.
type Result struct {
	// Format is what the inputs were read as.
	Format string
	// Cluster is the definition written.
	Cluster *v1.Cluster
	// Site is the skeleton, when Options.Site was given.
	Site *v1.Site
	// Warnings name every setting left out, each with its file, key and
	// reason, sorted.
	Warnings diag.List
}

// KnownChartVersions is the range of capi-helm-charts openstack-cluster
// versions whose values this importer reads: the layout of
// node groups, OIDC, etcd block devices and addons it knows.
const KnownChartVersions = ">=0.10.0 <0.28.0"

var chartVersionRE = regexp.MustCompile(`^v?0\.(\d+)\.(\d+)$`)

// knownChart reports whether v is an exact version in KnownChartVersions.
func knownChart(v string) bool {
	m := chartVersionRE.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	var minor int
	fmt.Sscan(m[1], &minor)
	return minor >= 10 && minor < 28
}

// Import reads inputs and returns the definitions. Input that cannot be
// read, or that names a chart version the importer does not know, is a
// diag.List of errors (file, line and key); nothing is returned then.
func Import(inputs []Input, opts Options) (*Result, error) {
	r := &run{}
	var docs []*doc
	for _, in := range inputs {
		docs = append(docs, parse(in, r)...)
	}
	if len(r.errs) > 0 {
		return nil, r.errs.Sorted()
	}
	if len(docs) == 0 {
		return nil, errors.New("no input: give a values file, a HelmRelease, Magnum JSON or an Azimuth cluster")
	}
	b := &builder{r: r, opts: opts}
	format, err := b.dispatch(docs)
	if err != nil {
		return nil, err
	}
	b.finish()
	if len(r.errs) > 0 {
		return nil, r.errs.Sorted()
	}
	res := &Result{Format: format, Cluster: b.cluster, Warnings: r.warnings.Sorted()}
	if opts.Site != "" {
		res.Site = b.site
	}
	return res, nil
}

// parse splits an input into its YAML (or JSON) documents. `helm get
// values` prints a first line USER-SUPPLIED VALUES: (or COMPUTED VALUES:
// with -a), which is dropped.
func parse(in Input, r *run) []*doc {
	data := in.Data
	if first, rest, ok := bytes.Cut(data, []byte("\n")); ok {
		switch strings.TrimSpace(string(first)) {
		case "USER-SUPPLIED VALUES:", "COMPUTED VALUES:":
			// Keep the line count: positions stay those of the file.
			data = append([]byte("\n"), rest...)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*doc
	for i := 0; i < 64; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.fail(yamlPos(in.Name, err), "import.unreadable", "%s cannot be read as YAML or JSON: %s", in.Name, yamlMsg(err))
			return nil
		}
		if len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind != yaml.MappingNode {
			r.fail(diag.Pos{File: in.Name, Line: root.Line, Col: root.Column}, "import.unreadable", "%s: the document is a %s, want a mapping of settings", in.Name, kindName(root))
			return nil
		}
		out = append(out, &doc{file: in.Name, root: root, used: map[*yaml.Node]bool{}, r: r})
	}
	return out
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlPos(file string, err error) diag.Pos {
	p := diag.Pos{File: file}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscan(m[1], &p.Line)
	}
	return p
}

func yamlMsg(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "yaml: "), "unmarshal errors:\n  ")
}

// builder assembles the definitions.
type builder struct {
	r       *run
	opts    Options
	cluster *v1.Cluster
	site    *v1.Site
	// nameFrom is where the cluster's name came from, for its error.
	nameFrom diag.Pos
	// flavors are the flavors the cluster uses, for the site skeleton.
	flavors []string
	images  []v1.Image
	// groupsElsewhere: the node groups come from another input (an
	// Azimuth cluster over its template's values), so that values
	// without any are not given the chart's default group.
	groupsElsewhere bool
}

func kindOf(d *doc) (apiVersion, kind string) {
	a, _ := d.top().get("apiVersion").peek()
	k, _ := d.top().get("kind").peek()
	return a, k
}

// peek reads a scalar without marking it read.
func (v val) peek() (string, bool) {
	if v.n == nil || v.n.Kind != yaml.ScalarNode {
		return "", false
	}
	return v.n.Value, true
}

func (b *builder) dispatch(docs []*doc) (string, error) {
	b.cluster = &v1.Cluster{APIVersion: v1.APIVersion, Kind: v1.KindCluster}
	b.site = &v1.Site{APIVersion: v1.APIVersion, Kind: v1.KindSite}
	var (
		azCluster, azTemplate, release *doc
		magTemplate, magCluster        *doc
		values                         []*doc
	)
	for _, d := range docs {
		api, kind := kindOf(d)
		top := d.top()
		switch {
		case strings.HasPrefix(api, "azimuth.stackhpc.com/") && kind == "Cluster":
			azCluster = d
		case strings.HasPrefix(api, "azimuth.stackhpc.com/") && kind == "ClusterTemplate":
			azTemplate = d
		case strings.HasPrefix(api, "helm.toolkit.fluxcd.io/") && kind == "HelmRelease":
			release = d
		case top.get("coe").ok() && !top.get("cluster_template_id").ok():
			magTemplate = d
		case top.get("cluster_template_id").ok():
			magCluster = d
		case api != "" || kind != "":
			b.r.fail(top.get("kind").pos(), "import.kind", "%s: %s %s is not a kind capiform imports: give openstack-cluster values, a Flux HelmRelease, Magnum JSON or an Azimuth Cluster", d.file, api, kind)
		default:
			values = append(values, d)
		}
	}
	if len(b.r.errs) > 0 {
		return "", b.r.errs.Sorted()
	}
	switch {
	case azCluster != nil:
		b.azimuth(azCluster, azTemplate)
		return FormatAzimuth, nil
	case magTemplate != nil || magCluster != nil:
		if magTemplate == nil || magCluster == nil {
			return "", fmt.Errorf("a Magnum import needs both the cluster template (openstack coe cluster template show -f json) and the cluster (openstack coe cluster show -f json)")
		}
		b.magnum(magTemplate, magCluster)
		return FormatMagnum, nil
	case release != nil:
		b.helmRelease(release)
		return FormatHelmRelease, nil
	case len(values) == 1:
		b.chartVersion(b.opts.ChartVersion, diag.Pos{File: values[0].file}, "--chart-version")
		b.nameFromOptions(values[0], "")
		b.values(values[0].top())
		values[0].top().leftovers("import.left-out", valuesReason)
		return FormatValues, nil
	default:
		return "", fmt.Errorf("give one values file per import (%d given): merge them as Helm would, or import each cluster on its own", len(values))
	}
}

// chartVersion refuses a chart version the importer does not know.
func (b *builder) chartVersion(v string, pos diag.Pos, key string) {
	if v == "" {
		b.r.warn(pos, "import.chart-version", "%s: no chart version given: read as openstack-cluster values of %s; give --chart-version to have it checked", pos.File, KnownChartVersions)
		return
	}
	if !knownChart(v) {
		b.r.fail(pos, "import.chart-version", "%s: openstack-cluster chart version %q is not one this importer knows (%s, exact): upgrade the release first, or import with a newer capiform", key, v, KnownChartVersions)
	}
}

// nameFromOptions sets the cluster's name: the option wins over name.
func (b *builder) nameFromOptions(d *doc, name string) {
	pos := diag.Pos{File: d.file}
	if b.opts.Name != "" {
		name = b.opts.Name
		pos = diag.Pos{File: "--name"}
	}
	if name == "" {
		b.r.fail(pos, "import.name", "%s names no cluster: give --name", d.file)
		return
	}
	if !load.IsDNSLabel(name) || len(name) > 40 {
		b.r.fail(pos, "import.name", "cluster name %q is not a DNS label of at most 40 characters: give --name", name)
		return
	}
	b.cluster.Metadata.Name = name
	b.nameFrom = pos
}

// finish fills the site skeleton and checks what every definition needs.
func (b *builder) finish() {
	c := b.cluster
	if c.Spec.KubernetesVersion == "" && len(b.r.errs) == 0 {
		b.r.fail(diag.Pos{File: "(input)"}, "import.missing", "no Kubernetes version in the input: give --kubernetes-version")
	}
	if c.Spec.ControlPlane.Flavor == "" && len(b.r.errs) == 0 {
		b.r.fail(diag.Pos{File: "(input)"}, "import.missing", "no control plane flavor in the input")
	}
	if api := c.Spec.APIServer; len(b.r.errs) == 0 && (api == nil || (api.AllowedCIDRs == nil && (api.FloatingIP == nil || *api.FloatingIP))) {
		b.r.warn(diag.Pos{File: b.nameFrom.File}, "import.open-api-server", "the API server is on a floating IP open to everyone, which capiform's policy refuses: set spec.apiServer.allowedCIDRs (or floatingIP: false) before validating")
	}
	if len(c.Spec.Platforms) == 0 || c.Spec.Platforms[0].Name != "base" {
		c.Spec.Platforms = append([]v1.PlatformRef{{Name: "base"}}, c.Spec.Platforms...)
	}
	if b.opts.Site == "" {
		return
	}
	s := b.site
	s.Metadata.Name = b.opts.Site
	s.Spec.ManagementCluster = b.opts.Site + "-mgmt"
	s.Spec.RequiredPlatforms = []string{"base"}
	if s.Spec.Cloud.CredentialsSecret == "" {
		s.Spec.Cloud.CredentialsSecret = b.opts.Site + "-cloud-credentials"
	}
	if s.Spec.Cloud.ExternalNetworkID == "" {
		s.Spec.Cloud.ExternalNetworkID = "00000000-0000-0000-0000-000000000000"
	}
	seen := map[string]bool{}
	for _, f := range b.flavors {
		if f != "" && !seen[f] {
			seen[f] = true
			s.Spec.Flavors = append(s.Spec.Flavors, v1.Flavor{Name: f, VCPUs: 1, RAMMiB: 1024})
		}
	}
	s.Spec.Images = b.images
	if len(s.Spec.Images) == 0 && c.Spec.KubernetesVersion != "" {
		s.Spec.Images = []v1.Image{{KubernetesVersion: c.Spec.KubernetesVersion, Name: "ubuntu-kube-" + c.Spec.KubernetesVersion}}
	}
	if v := c.Spec.KubernetesVersion; v != "" {
		s.Spec.KubernetesVersions = v1.VersionWindow{Min: v, Max: v}
	}
	s.Spec.Git = v1.GitSource{URL: "ssh://git@git.example.org/platform/fleet.git", SecretName: "flux-system"}
}

// kubeVersion writes a Kubernetes version with its leading v.
func kubeVersion(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "v") {
		return s
	}
	return "v" + s
}

func ptr[T any](v T) *T { return &v }
