package resolve

// FluxNamespace is where the site's Flux objects and the cluster
// HelmReleases live.
const FluxNamespace = "flux-system"

// Identity is where a cluster's Helm release lives. It is a pure function
// of site and cluster: bootstrap installs the chart with exactly this
// identity so that Flux on the new management cluster upgrades the release
// it finds instead of installing a second one.
type Identity struct {
	// Site is the site's name.
	Site string
	// Cluster is the cluster's name.
	Cluster string
	// HelmReleaseName and HelmReleaseNamespace name the Flux HelmRelease.
	HelmReleaseName      string
	HelmReleaseNamespace string
	// ReleaseName is the Helm release name (at most 53 characters).
	ReleaseName string
	// TargetNamespace is where the chart's objects go: the cluster's
	// namespace on the management cluster.
	TargetNamespace string
	// StorageNamespace holds the Helm release storage secrets
	// (sh.helm.release.v1.<ReleaseName>.v<N>); it is the target namespace
	// so that the secrets move with the cluster's objects.
	StorageNamespace string
}

// ReleaseIdentity returns the release identity of a cluster of a site.
func ReleaseIdentity(site, cluster string) Identity {
	return Identity{
		Site:                 site,
		Cluster:              cluster,
		HelmReleaseName:      cluster,
		HelmReleaseNamespace: FluxNamespace,
		ReleaseName:          cluster,
		TargetNamespace:      ClusterNamespace(cluster),
		StorageNamespace:     ClusterNamespace(cluster),
	}
}

// ClusterNamespace is the namespace on the management cluster that holds a
// cluster's Cluster API objects, its kubeconfig secret and its addon
// HelmReleases.
func ClusterNamespace(cluster string) string { return cluster }

// KubeconfigSecretName is the Secret Cluster API writes with the cluster's
// admin kubeconfig (key "value").
func KubeconfigSecretName(cluster string) string { return cluster + "-kubeconfig" }
