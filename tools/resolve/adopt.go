package resolve

import (
	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/load"
)

// AdoptedIdentity is the release identity of a cluster whose definition
// may adopt an existing release: ReleaseIdentity with the overrides of
// spec.adopt. The Flux HelmRelease keeps its name and namespace (it is
// new either way); the Helm release's name, target namespace and storage
// namespace become the existing release's, so that helm-controller
// upgrades it.
func AdoptedIdentity(site, cluster string, adopt *v1alpha1.Adopt) Identity {
	id := ReleaseIdentity(site, cluster)
	if adopt == nil {
		return id
	}
	if adopt.ReleaseName != "" {
		id.ReleaseName = adopt.ReleaseName
	}
	if adopt.Namespace != "" {
		id.TargetNamespace = adopt.Namespace
		id.StorageNamespace = adopt.Namespace
	}
	if adopt.StorageNamespace != "" {
		id.StorageNamespace = adopt.StorageNamespace
	}
	return id
}

// Namespace is the namespace on the management cluster of a cluster's
// Cluster API objects, kubeconfig Secret, addon HelmReleases and
// encrypted Secrets: the adopted namespace, else ClusterNamespace.
func Namespace(c *load.Cluster) string {
	if a := c.Spec.Adopt; a != nil && a.Namespace != "" {
		return a.Namespace
	}
	return ClusterNamespace(c.Metadata.Name)
}

// Naming is the chart's naming value of a cluster: its style and, for
// capi-helm-charts, the label domain that chart used.
type Naming struct {
	Style         string `json:"style"`
	ProjectPrefix string `json:"projectPrefix,omitempty"`
}

// naming returns the chart's naming value, nil for capiform's own (so
// that the values of every cluster that adopts nothing stay as they were).
func naming(adopt *v1alpha1.Adopt) *Naming {
	if adopt == nil || adopt.Naming != v1alpha1.NamingCapiHelmCharts {
		return nil
	}
	return &Naming{Style: v1alpha1.NamingCapiHelmCharts, ProjectPrefix: or(adopt.ProjectPrefix, v1alpha1.DefaultProjectPrefix)}
}
