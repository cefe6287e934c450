package diff

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/importer"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/resolve"
)

// LiveOptions of Live.
type LiveOptions struct {
	// FS is the repository with the cluster's definition (the head: the
	// work tree, usually).
	FS fs.FS
	// Site and Cluster name the definition that adopts the live cluster.
	Site, Cluster string
	// Values are the live release's values: `helm get values` output, a
	// capi-helm-charts values file or a Flux HelmRelease.
	Values importer.Input
	// ChartVersion is the capi-helm-charts openstack-cluster version the
	// values were installed with (a HelmRelease names its own).
	ChartVersion string
	// Pipeline returns the pipeline options for FS; nil is FS alone.
	Pipeline func(fsys fs.FS) pipeline.Options
}

// LiveTemplateSuffix ends the names the base side of Live gives its
// machine templates, standing for the names the live release's templates
// have (capi-helm-charts' hash of its own spec, which no values file says).
const LiveTemplateSuffix = "-live"

// Live tells what handing a running cluster over to capiform rolls: the
// head is the cluster's definition as it renders; the base is the live
// cluster, read from its release's current values with capiform import
// (the same conversion the definition was written with), resolved under
// the definition's adopted identity and expanded through this
// repository's chart, its machine templates named apart.
//
// Why this base: capi-helm-charts' chart is not in the repository, so the
// live objects cannot be rendered offline. What can be compared is what
// the values say, in one chart's terms on both sides, so that the report
// names the settings the definition changes against the running cluster
// (a flavor, a count, a version, a health check). And one thing every
// hand-over does whatever the values: this chart's machine templates
// replace capi-helm-charts' (each chart names its templates after a hash
// of its own spec), and Cluster API rolls a control plane or a
// MachineDeployment whose template changes. So the base's templates carry
// other names, and the report's rollouts are Cluster API's verdict on the
// real hand-over. What import cannot express (registry mirrors, kubeadm
// overrides, addon values...) is gone after the hand-over: each is a
// warning of the report.
func Live(ctx context.Context, opts LiveOptions) (*Report, error) {
	po := pipeline.Options{FS: opts.FS}
	if opts.Pipeline != nil {
		po = opts.Pipeline(opts.FS)
		po.FS = opts.FS
	}
	po.Sites = []string{opts.Site}
	res, err := pipeline.Render(ctx, po)
	if err != nil {
		return nil, err
	}
	rel := res.Release(opts.Site, opts.Cluster)
	site := res.Fleet.Site(opts.Site)
	if rel == nil || site == nil || site.Cluster(opts.Cluster) == nil {
		return nil, fmt.Errorf("no cluster %s/%s in the repository: write its definition first (capiform import)", opts.Site, opts.Cluster)
	}
	def := site.Cluster(opts.Cluster)

	imp, err := importer.Import([]importer.Input{opts.Values}, importer.Options{Name: opts.Cluster, ChartVersion: opts.ChartVersion})
	if err != nil {
		return nil, fmt.Errorf("reading the live values: %w", err)
	}
	live := *def
	live.Spec = imp.Cluster.Spec
	// The identity and naming are the definition's: the hand-over upgrades
	// the live release under them. Platforms do not reach the chart.
	live.Spec.Adopt = def.Spec.Adopt
	live.Spec.Platforms = def.Spec.Platforms
	liveRel, diags := resolve.Cluster(site, &live)
	if liveRel == nil {
		return nil, fmt.Errorf("the live values do not resolve against site %s: %w", opts.Site, diags.Err())
	}

	exp, err := pipeline.NewExpander(opts.FS, res)
	if err != nil {
		return nil, err
	}
	base, err := exp.Expand(ctx, liveRel)
	if err != nil {
		return nil, fmt.Errorf("expanding the live values: %w", err)
	}
	head, err := exp.Expand(ctx, rel)
	if err != nil {
		return nil, fmt.Errorf("expanding %s/%s: %w", opts.Site, opts.Cluster, err)
	}
	renameTemplates(base)

	cr := &ClusterReport{Site: opts.Site, Cluster: opts.Cluster}
	old, cur := newObjectSet(base), newObjectSet(head)
	cr.Objects = compareObjects(old, cur)
	impact(ctx, cr, old, cur)
	if cr.Action == "" {
		cr.Action = Changed
	}
	cr.Findings = append(cr.Findings, handOverFindings(def, rel, imp)...)
	sortFindings(cr.Findings)
	rep := &Report{
		Base:     Revision{Ref: "live values " + opts.Values.Name},
		Head:     Revision{},
		Clusters: []*ClusterReport{cr},
	}
	return rep, nil
}

// renameTemplates gives the machine templates, and the references to
// them, names of their own: the live release's templates are not this
// chart's.
func renameTemplates(objs []*unstructured.Unstructured) {
	for _, o := range objs {
		switch o.GetKind() {
		case "OpenStackMachineTemplate", "KubeadmConfigTemplate":
			o.SetName(o.GetName() + LiveTemplateSuffix)
		case "KubeadmControlPlane":
			suffix(o, "spec", "machineTemplate", "spec", "infrastructureRef", "name")
		case "MachineDeployment":
			suffix(o, "spec", "template", "spec", "infrastructureRef", "name")
			suffix(o, "spec", "template", "spec", "bootstrap", "configRef", "name")
		}
	}
}

func suffix(o *unstructured.Unstructured, path ...string) {
	if v, ok, _ := unstructured.NestedString(o.Object, path...); ok && v != "" {
		_ = unstructured.SetNestedField(o.Object, v+LiveTemplateSuffix, path...)
	}
}

// handOverFindings say what the hand-over itself does beside the
// machines: the identity it takes over, what the live values set that
// capiform drops, and the steps of docs/adopting.md it needs.
func handOverFindings(def *load.Cluster, rel *resolve.Release, imp *importer.Result) []Finding {
	var out []Finding
	a := def.Spec.Adopt
	if a == nil || (a.Namespace == "" && a.ReleaseName == "") {
		out = append(out, Finding{Unsafe, fmt.Sprintf("the definition adopts no release (spec.adopt): Flux would install release %s in namespace %s beside the live cluster instead of taking it over; give spec.adopt the live release's name and namespace", rel.ReleaseName, rel.TargetNamespace)})
	} else {
		out = append(out, Finding{Info, fmt.Sprintf("hand-over: Flux upgrades release %s in namespace %s (storage %s) to this chart", rel.ReleaseName, rel.TargetNamespace, rel.StorageNamespace)})
	}
	if a == nil || a.Naming != "capi-helm-charts" {
		out = append(out, Finding{Warning, "naming is not capi-helm-charts: the autoscaler Deployment's selector changes, which Kubernetes refuses, so the upgrade fails unless the Deployment is deleted first (docs/adopting.md); set spec.adopt.naming: capi-helm-charts"})
	}
	for _, w := range imp.Warnings {
		msg := w.Message
		if w.Pos.File != "" {
			msg = fmt.Sprintf("%s:%d: %s", w.Pos.File, w.Pos.Line, msg)
		}
		if w.Rule == "import.site" {
			// Both sides resolve against the site: its value is what runs
			// after the hand-over, whatever the live values said.
			out = append(out, Finding{Warning, "the site's setting applies after the hand-over: " + strings.TrimSpace(msg)})
			continue
		}
		out = append(out, Finding{Warning, "dropped at hand-over: " + strings.TrimSpace(msg)})
	}
	return out
}
