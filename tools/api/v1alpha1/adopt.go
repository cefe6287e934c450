package v1alpha1

// Naming styles of an adopted cluster's objects (Adopt.Naming).
const (
	// NamingCapiform is the chart's own naming and labelling.
	NamingCapiform = "capiform"
	// NamingCapiHelmCharts keeps the selectors and labels that
	// azimuth-cloud/capi-helm-charts' openstack-cluster chart gave the
	// objects Kubernetes or Cluster API never lets change (the
	// MachineDeployments' and the autoscaler Deployment's selectors), and
	// cuts derived names at 63 characters as it does.
	NamingCapiHelmCharts = "capi-helm-charts"
)

// DefaultProjectPrefix is capi-helm-charts' projectPrefix value, the
// domain of the labels it puts on every object.
const DefaultProjectPrefix = "capi.stackhpc.com"

// Adopt takes over a cluster whose Helm release already exists under
// another identity, such as one installed by capi-helm-charts with plain
// Helm, by Flux, by the Magnum CAPI Helm driver or by Azimuth: the
// cluster's HelmRelease upgrades that release in place instead of
// installing a second cluster beside it. docs/adopting.md is the runbook.
//
// The cluster's name must be the name of its Cluster API Cluster (for
// capi-helm-charts, the release name it was installed with).
type Adopt struct {
	// ReleaseName is the existing Helm release's name; default the
	// cluster's name.
	ReleaseName string `json:"releaseName,omitempty"`
	// Namespace is the namespace of the management cluster that holds the
	// cluster's Cluster API objects (the release's target namespace); its
	// addon HelmReleases and kubeconfig Secret are there too. Default the
	// cluster's name.
	Namespace string `json:"namespace,omitempty"`
	// StorageNamespace holds the release's Helm storage Secrets
	// (sh.helm.release.v1.<release>.v<N>); default Namespace, which is
	// where helm and Flux keep them unless told otherwise.
	StorageNamespace string `json:"storageNamespace,omitempty"`
	// Naming is the naming style of the chart's objects: capiform (the
	// default) or capi-helm-charts, for a release that chart installed.
	Naming string `json:"naming,omitempty"`
	// ProjectPrefix is capi-helm-charts' projectPrefix value the release
	// was installed with; default capi.stackhpc.com. Only with naming
	// capi-helm-charts.
	ProjectPrefix string `json:"projectPrefix,omitempty"`
}

// ReleaseOverride gives one component of a platform the Helm release
// identity under which it already runs in the workload cluster, so that
// Flux upgrades that release instead of installing the component again
// beside it (for example capi-helm-charts' addon provider installs Calico
// as release cni-calico in namespace tigera-operator).
type ReleaseOverride struct {
	// ReleaseName is the Helm release's name in the workload cluster;
	// default the component's name.
	ReleaseName string `json:"releaseName,omitempty"`
	// Namespace is the release's namespace in the workload cluster, which
	// also holds its Helm storage; default the component's namespace.
	Namespace string `json:"namespace,omitempty"`
}
