// Package platform reads the catalogue of addon platforms under platforms/
// and renders, for one cluster, the Flux objects that install the platforms
// the cluster opts into inside the workload cluster: one HelmRepository per
// chart repository and one HelmRelease per chart component; for components
// of plain manifests, one GitRepository of this repository and one Flux
// Kustomization per component. All are in the cluster's namespace on the
// management cluster, each reaching the workload cluster through the
// cluster's Cluster API kubeconfig secret.
package platform

// KindPlatform is the kind of a platform definition.
const KindPlatform = "Platform"

// Dir is the folder of the catalogue at the repository root.
const Dir = "platforms"

// File is the file name of a platform's definition.
const File = "platform.yaml"

// Platform is a named bundle of components, read from
// platforms/<name>/platform.yaml.
type Platform struct {
	APIVersion string       `yaml:"apiVersion" json:"apiVersion"`
	Kind       string       `yaml:"kind" json:"kind"`
	Metadata   Metadata     `yaml:"metadata" json:"metadata"`
	Spec       PlatformSpec `yaml:"spec" json:"spec"`
}

// Metadata is the part of metadata a platform carries.
type Metadata struct {
	// Name is the platform's name; it equals its folder's name.
	Name string `yaml:"name" json:"name"`
	// Annotations are free-form notes; capiform ignores them.
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

// PlatformSpec lists a platform's components.
type PlatformSpec struct {
	// Description says what the platform gives a cluster.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Components are installed in the order their dependsOn give.
	Components []Component `yaml:"components" json:"components"`
}

// Component is one Helm release of a platform. Either it names its chart
// itself (Release inline), or it offers Variants of which the cluster
// chooses one through the override value named by Select; or it is a folder
// of plain manifests (Manifests), with at most a Namespace.
type Component struct {
	// Name is unique in the whole catalogue: it names the HelmRelease in
	// the cluster's namespace and the Helm release in the workload cluster.
	Name string `yaml:"name" json:"name"`
	// Description says what the component does.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// CNI marks the catalogue's one network plugin: every other component
	// depends on it implicitly, and it depends on nothing.
	CNI bool `yaml:"cni,omitempty" json:"cni,omitempty"`
	// DependsOn names the components (of this platform or another) that
	// must be ready first.
	DependsOn []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty"`

	// Manifests marks a component of plain manifests: the YAML files under
	// platforms/<platform>/<component>/, applied into the workload cluster
	// by a Flux Kustomization (into Namespace, when set). It has no chart,
	// values, facts, cloud credentials or variants, and no chart component
	// may depend on it.
	Manifests bool `yaml:"manifests,omitempty" json:"manifests,omitempty"`
	// FollowsVariant names a component with variants (like cni) whose
	// choice picks what a manifests component applies: the subfolder
	// platforms/<platform>/<component>/<variant>/ of the variant the
	// cluster runs, one subfolder per variant. It depends on that
	// component, like on a dependsOn.
	FollowsVariant string `yaml:"followsVariant,omitempty" json:"followsVariant,omitempty"`

	Release `yaml:",inline" json:",inline"`

	// Select is the key of a cluster's override values that chooses one of
	// Variants, like "provider" for values {cni: {provider: cilium}}.
	Select string `yaml:"select,omitempty" json:"select,omitempty"`
	// Default is the variant used when the cluster does not choose.
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	// Variants are the alternatives of a component with Select.
	Variants []Variant `yaml:"variants,omitempty" json:"variants,omitempty"`
}

// Variant is one alternative of a component.
type Variant struct {
	// Name is what the cluster writes to choose it.
	Name    string `yaml:"name" json:"name"`
	Release `yaml:",inline" json:",inline"`
}

// Release is what a component installs: a chart at an exact version into a
// namespace of the workload cluster, with values.
type Release struct {
	// Chart is the chart and where it comes from.
	Chart *Chart `yaml:"chart,omitempty" json:"chart,omitempty"`
	// Namespace of the workload cluster that the release installs into and
	// that holds its Helm storage.
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	// Values are the chart values every cluster gets.
	Values map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
	// Facts set values from facts of the cluster: value path -> fact name,
	// like "installation.calicoNetwork.ipPools[0].cidr: podCIDR".
	Facts map[string]string `yaml:"facts,omitempty" json:"facts,omitempty"`
	// CloudCredentials passes the site's cloud credentials Secret to the
	// chart through valuesFrom, never through values.
	CloudCredentials *CloudCredentials `yaml:"cloudCredentials,omitempty" json:"cloudCredentials,omitempty"`
	// Kubernetes is the range of Kubernetes minors the chart's upstream
	// says it supports. A cluster outside it is refused (or warned, see
	// KubernetesSupport.Newer). Every chart of this repository's catalogue
	// records one (a test holds it to that).
	Kubernetes *KubernetesSupport `yaml:"kubernetes,omitempty" json:"kubernetes,omitempty"`
	// Retired, when set, says why upstream no longer maintains the
	// release and what replaces it: a cluster that chooses it is warned.
	Retired string `yaml:"retired,omitempty" json:"retired,omitempty"`
	// Provides names the pieces the chart can deploy that a cluster must
	// run only once, each with the value path of the boolean that turns
	// it on in this chart, like node-feature-discovery: nfd.enabled (two
	// installations of one piece conflict). See ShareProvided.
	Provides map[string]string `yaml:"provides,omitempty" json:"provides,omitempty"`
}

// KubernetesSupport is what a chart's upstream claims about the
// Kubernetes versions it runs on, by minor ("1.35"). Write where the claim
// comes from in a comment beside it.
type KubernetesSupport struct {
	// Min is the oldest minor upstream supports; empty only when upstream
	// states no range at all (say so in the comment: kubernetes: {}).
	Min string `yaml:"min,omitempty" json:"min,omitempty"`
	// Max is the newest minor upstream has tested or claims; empty when
	// upstream states only a floor (like a chart's kubeVersion ">= 1.25").
	Max string `yaml:"max,omitempty" json:"max,omitempty"`
	// Newer is what a cluster above Max gets: "refuse" (the default) or
	// "warn", for an upstream that says untested newer versions rely on
	// Kubernetes' own compatibility, or that has not caught up yet.
	Newer string `yaml:"newer,omitempty" json:"newer,omitempty"`
}

// What a cluster above KubernetesSupport.Max gets.
const (
	NewerRefuse = "refuse"
	NewerWarn   = "warn"
)

// Chart names a chart at an exact version.
type Chart struct {
	// Repository is the URL of a Helm repository (https://...) or of an OCI
	// registry path (oci://...) without the chart's name.
	Repository string `yaml:"repository" json:"repository"`
	// Name is the chart's name in the repository.
	Name string `yaml:"name" json:"name"`
	// Version is exact: x.y.z with an optional leading v, no ranges.
	Version string `yaml:"version" json:"version"`
}

// CloudCredentials says where the chart expects the cloud.conf of the site's
// credentials Secret (spec.cloud.credentialsSecret).
type CloudCredentials struct {
	// Key of the Secret; default cloud.conf. cloud-conf-values.yaml holds
	// the same [Global] section as a values document for a chart that
	// writes cloud.conf itself (cloudConfig.global).
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// TargetPath is the chart value the key's content is set to, verbatim
	// (the HelmRelease's valuesFrom is literal), at a path in Helm's --set
	// syntax (escape dots in keys: secret.data.cloud\.conf); empty when Key
	// is a values document, merged whole under the values.
	TargetPath string `yaml:"targetPath,omitempty" json:"targetPath,omitempty"`
}

// DefaultCredentialsKey is the key of the site's credentials Secret that
// holds the OpenStack cloud.conf of the cloud controller and CSI.
const DefaultCredentialsKey = "cloud.conf"
