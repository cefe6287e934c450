// Package v1alpha1 holds capiform's definition kinds: the Site and the
// Cluster that operators write under clusters/<site>/.
//
// They live in capiform's own API group so that a kind: Cluster of ours is
// never mistaken for a Cluster API Cluster.
package v1alpha1

// Group is the API group of every definition kind.
const Group = "capiform.dev"

// Version is the version of the kinds in this package.
const Version = "v1alpha1"

// APIVersion is the apiVersion written in every definition.
const APIVersion = Group + "/" + Version

// Kinds of definitions.
const (
	KindSite    = "Site"
	KindCluster = "Cluster"
)

// ObjectMeta is the part of metadata a definition may carry.
type ObjectMeta struct {
	// Name is a DNS label; for a Cluster it is unique within its site.
	Name string `json:"name"`
	// Annotations are free-form notes; capiform ignores them.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Site describes one OpenStack site and the management cluster that runs it.
type Site struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       SiteSpec   `json:"spec"`
}

// SiteSpec is what a site offers and requires.
type SiteSpec struct {
	// ManagementCluster names the Cluster of this site that is the
	// self-managed Cluster API management cluster.
	ManagementCluster string `json:"managementCluster"`
	// Production tightens policy (for example an HA control plane).
	Production bool `json:"production,omitempty"`
	// Cloud is how clusters reach the OpenStack cloud.
	Cloud Cloud `json:"cloud"`
	// Images maps Kubernetes versions to Glance images.
	Images []Image `json:"images"`
	// Flavors are the Nova flavors on offer, with their sizes (scale from
	// zero needs them).
	Flavors []Flavor `json:"flavors"`
	// Networks are the existing Neutron networks clusters may join.
	Networks []string `json:"networks,omitempty"`
	// Networking is what the site's network offers: load balancer
	// providers, networks for extra ports.
	Networking *SiteNetworking `json:"networking,omitempty"`
	// Placement is what the site's compute hosts allow.
	Placement *SitePlacement `json:"placement,omitempty"`
	// KubernetesVersions is the supported window of versions.
	KubernetesVersions VersionWindow `json:"kubernetesVersions"`
	// Quotas limit the machines of each cluster and of the whole site.
	Quotas *Quotas `json:"quotas,omitempty"`
	// RequiredPlatforms are the platforms every cluster must have.
	RequiredPlatforms []string `json:"requiredPlatforms,omitempty"`
	// SyncMachineLabels are regular expressions of node labels that the
	// site's Cluster API controller copies from Machines to Nodes on top of
	// its default domains (its --additional-sync-machine-labels flag).
	SyncMachineLabels []string `json:"syncMachineLabels,omitempty"`
	// AllowedCredentials are values the credential check takes for
	// credentials but that are not, each with the reason why.
	AllowedCredentials []AllowedCredential `json:"allowedCredentials,omitempty"`
	// ClusterDefaults are the lifecycle settings every cluster of the site
	// gets where its definition is silent (remediation, health checks,
	// rollouts, etcd, certificates).
	ClusterDefaults *ClusterDefaults `json:"clusterDefaults,omitempty"`
	// Secrets keeps the Secrets clusters need (cloud credentials,
	// registry credentials, the deploy key) in the repository, encrypted
	// with SOPS for the site's age recipients, under
	// clusters/<site>/secrets/<cluster>/. Without it they are created on
	// the management cluster by hand.
	Secrets *Secrets `json:"secrets,omitempty"`
	// Flux turns on reconcile on merge and the multi-tenancy lockdown
	// (tools/api/v1alpha1/flux.go).
	Flux *Flux `json:"flux,omitempty"`
	// Nodes are the node settings of every cluster of the site
	// (registries, trust, proxy, kubelet) and what its clusters may set.
	Nodes *SiteNodes `json:"nodes,omitempty"`
	// Storage is the site's Cinder: volume types and how Cinder CSI
	// treats volumes (storage.go).
	Storage *SiteStorage `json:"storage,omitempty"`
	// Git is the repository the site's Flux syncs.
	Git GitSource `json:"git"`
	// Bootstrap pins what the pivot installs.
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
}

// Secrets are the settings of a site's encrypted Secrets.
type Secrets struct {
	// AgeRecipients are the age public keys (age1...) every encrypted
	// file of the site is encrypted for: exactly these, no more, no fewer.
	// The private key of one of them is the sops-age Secret in flux-system
	// on the management cluster (bootstrap puts it there), with which
	// kustomize-controller decrypts.
	AgeRecipients []string `json:"ageRecipients"`
}

// AllowedCredential lets one value pass the credential check: a site's
// reviewed exception for a false positive. It lives in site.yaml, a
// definition, and not in the site's policy.cue, which may only tighten the
// base policy.
type AllowedCredential struct {
	// File is the file the value is in, relative to the repository root;
	// a pattern where * matches within a folder name and ** across folders. A site's entry covers the site's own files and,
	// together with the same entry in every other site, the platform
	// catalogue and chart values files that all sites share.
	File string `json:"file"`
	// Path is the key path of the value, like
	// spec.platforms[0].values.app.tokenPattern; a pattern where * matches
	// within one key and ** across keys (brackets are literal).
	Path string `json:"path"`
	// Reason says why the value is not a credential. Required: an entry
	// without one is an error and allows nothing.
	Reason string `json:"reason"`
}

// Cloud holds the OpenStack settings shared by every cluster of a site.
type Cloud struct {
	// CredentialsSecret is the name of the Secret, in each cluster's
	// namespace on the management cluster, that holds the cloud
	// credentials: key "clouds.yaml" for the OpenStack provider, and its
	// [Global] section of cloud.conf as key "cloud.conf" (Cinder CSI) and
	// key "cloud-conf-values.yaml" (the cloud controller's chart values).
	// Definitions only name it; the Secret itself never lives in git in
	// clear.
	CredentialsSecret string `json:"credentialsSecret"`
	// CloudName is the entry of clouds.yaml to use; default "openstack".
	CloudName string `json:"cloudName,omitempty"`
	// Region is the OpenStack region.
	Region string `json:"region,omitempty"`
	// ExternalNetworkID is the Neutron network of floating IPs.
	ExternalNetworkID string `json:"externalNetworkId"`
	// AvailabilityZones are the Nova availability zones for machines.
	AvailabilityZones []string `json:"availabilityZones,omitempty"`
	// DNSNameservers are given to new node networks.
	DNSNameservers []string `json:"dnsNameservers,omitempty"`
	// SSHKeyName is the default Nova keypair of the site's machines.
	SSHKeyName string `json:"sshKeyName,omitempty"`
	// PrivateCA says that the cloud's endpoints have certificates of a
	// private CA, whose bundle is key "cacert" of each cluster's
	// credentials Secret (`capiform secrets create --cacert`). The
	// OpenStack provider reads it there; with PrivateCA every machine
	// also trusts it (written from the Secret by the bootstrap provider,
	// as a trusted CA named openstack-cloud), and the cloud controller
	// and Cinder CSI read it from the machine (cloud.conf's ca-file).
	PrivateCA bool `json:"privateCA,omitempty"`
}

// Image is one entry of the image catalogue.
type Image struct {
	// KubernetesVersion is the version baked into the image, like v1.36.1.
	KubernetesVersion string `json:"kubernetesVersion"`
	// Name is the Glance image name; Name or ID is required.
	Name string `json:"name,omitempty"`
	// ID is the Glance image ID; when set it is used instead of the name.
	ID string `json:"id,omitempty"`
}

// Flavor is one Nova flavor on offer.
type Flavor struct {
	Name string `json:"name"`
	// VCPUs is the number of virtual CPUs.
	VCPUs int `json:"vcpus"`
	// RAMMiB is the memory in MiB.
	RAMMiB int `json:"ramMiB"`
	// DiskGiB is the root disk in GiB (0 when volumes are used).
	DiskGiB int `json:"diskGiB,omitempty"`
	// GPUs is the number of GPUs passed through.
	GPUs int `json:"gpus,omitempty"`
	// SRIOV says the flavor's hosts have SR-IOV NICs: machines of it may
	// have direct (virtual function) ports.
	SRIOV bool `json:"sriov,omitempty"`
}

// VersionWindow is an inclusive range of Kubernetes versions.
type VersionWindow struct {
	Min string `json:"min"`
	Max string `json:"max"`
}

// Quotas limit machines; an autoscaled group counts at its maximum.
type Quotas struct {
	MachinesPerCluster int `json:"machinesPerCluster,omitempty"`
	MachinesPerSite    int `json:"machinesPerSite,omitempty"`
}

// GitSource is the repository Flux syncs on the management cluster.
type GitSource struct {
	URL string `json:"url"`
	// Branch defaults to main.
	Branch string `json:"branch,omitempty"`
	// SecretName is the Secret with the deploy key (in flux-system).
	SecretName string `json:"secretName,omitempty"`
	// Interval is how often Flux polls; default 1m.
	Interval string `json:"interval,omitempty"`
}

// Bootstrap pins what `capiform bootstrap` installs.
type Bootstrap struct {
	// KindNodeImage is the kind node image of the ephemeral cluster.
	KindNodeImage string `json:"kindNodeImage,omitempty"`
	// Providers are the Cluster API provider versions.
	Providers Providers `json:"providers"`
	// ProviderRepository is a local clusterctl provider repository folder
	// (relative to the repository root) for air-gapped sites.
	ProviderRepository string `json:"providerRepository,omitempty"`
	// FluxVersion is the Flux release installed on the management cluster.
	FluxVersion string `json:"fluxVersion,omitempty"`
	// FluxManifests is a local folder of Flux's install manifests for
	// air-gapped sites.
	FluxManifests string `json:"fluxManifests,omitempty"`
}

// Providers are clusterctl provider versions.
type Providers struct {
	Core           string `json:"core"`
	Bootstrap      string `json:"bootstrap"`
	ControlPlane   string `json:"controlPlane"`
	Infrastructure string `json:"infrastructure"`
}

// Cluster describes one Kubernetes cluster of a site.
type Cluster struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   ObjectMeta  `json:"metadata"`
	Spec       ClusterSpec `json:"spec"`
}

// ClusterSpec is the desired shape of a cluster.
type ClusterSpec struct {
	// KubernetesVersion of the control plane, like v1.36.1; the image comes
	// from the site's catalogue.
	KubernetesVersion string `json:"kubernetesVersion"`
	// SSHKeyName overrides the site's Nova keypair.
	SSHKeyName string `json:"sshKeyName,omitempty"`
	// ControlPlane sizes the control plane.
	ControlPlane ControlPlane `json:"controlPlane"`
	// NodeGroups are the worker groups.
	NodeGroups []NodeGroup `json:"nodeGroups,omitempty"`
	// Autohealing adds MachineHealthChecks; default true.
	Autohealing *bool `json:"autohealing,omitempty"`
	// APIServer is how the API server is exposed.
	APIServer *APIServer `json:"apiServer,omitempty"`
	// Network holds the cluster's networking.
	Network *Network `json:"network,omitempty"`
	// OIDC configures the API server's OIDC authentication.
	OIDC *OIDC `json:"oidc,omitempty"`
	// Etcd puts etcd on a volume of its own.
	Etcd *Etcd `json:"etcd,omitempty"`
	// Platforms are the addon bundles the cluster uses.
	Platforms []PlatformRef `json:"platforms,omitempty"`
	// HealthCheck tunes the MachineHealthChecks (over the site default).
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Certificates says when the control plane rolls ahead of its
	// certificates' expiry (over the site default).
	Certificates *Certificates `json:"certificates,omitempty"`
	// SecurityGroups are the cluster's security groups and extra rules.
	SecurityGroups *SecurityGroups `json:"securityGroups,omitempty"`
	// DeletionProtection keeps the cluster from being removed from git;
	// default true. A cluster can only be deleted by a change whose base
	// revision already has it false (policy.deletion-protection); the
	// management cluster's is never false (policy.management-kept).
	DeletionProtection *bool `json:"deletionProtection,omitempty"`
	// Adopt takes over a Helm release that exists under another identity.
	Adopt *Adopt `json:"adopt,omitempty"`
	// Nodes override the site's node settings (registries, trust, proxy,
	// kubelet).
	Nodes *NodeSettings `json:"nodes,omitempty"`
	// Storage chooses the cluster's storage classes among the site's
	// volume types (storage.go).
	Storage *ClusterStorage `json:"storage,omitempty"`
	// KubeadmPatches are kubeadm patches, the escape hatch for what no
	// field covers; the site must allow them.
	KubeadmPatches []KubeadmPatch `json:"kubeadmPatches,omitempty"`
}

// ControlPlane sizes the control plane.
type ControlPlane struct {
	Flavor string `json:"flavor"`
	// Replicas defaults to 3 on a production site and 1 elsewhere.
	Replicas *int `json:"replicas,omitempty"`
	// RootVolume boots machines from a Cinder volume.
	RootVolume *Volume `json:"rootVolume,omitempty"`
	// Remediation limits how the control plane replaces unhealthy
	// machines (over the site default).
	Remediation *Remediation `json:"remediation,omitempty"`
	// Kubelet tunes the control plane's kubelets (over the cluster's).
	Kubelet *Kubelet `json:"kubelet,omitempty"`
	// Labels are node labels of the control plane machines.
	Labels map[string]string `json:"labels,omitempty"`
	// Taints are added to kubeadm's control-plane taint.
	Taints []Taint `json:"taints,omitempty"`
	// MachinePlacement: server group, metadata, config drive.
	MachinePlacement
}

// NodeGroup is one group of workers.
type NodeGroup struct {
	Name   string `json:"name"`
	Flavor string `json:"flavor"`
	// Replicas is a fixed size; exclusive with Autoscale.
	Replicas *int `json:"replicas,omitempty"`
	// Autoscale lets the cluster-autoscaler size the group.
	Autoscale *Autoscale `json:"autoscale,omitempty"`
	// Labels are Kubernetes node labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Taints are Kubernetes node taints.
	Taints []Taint `json:"taints,omitempty"`
	// RootVolume boots machines from a Cinder volume.
	RootVolume *Volume `json:"rootVolume,omitempty"`
	// KubernetesVersion lets a group lag the control plane during an upgrade.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// AvailabilityZone places the group's machines in one of the site's
	// availability zones (the MachineDeployment's failure domain). Unset,
	// Nova places them; to spread a workload over zones, give it one group
	// a zone.
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// Rollout is how the group's machines are replaced (over the site
	// default).
	Rollout *Rollout `json:"rollout,omitempty"`
	// Kubelet tunes the group's kubelets (over the cluster's).
	Kubelet *Kubelet `json:"kubelet,omitempty"`
	// MachinePlacement: server group, metadata, config drive.
	MachinePlacement
	// MachineAttachments: extra volumes and ports.
	MachineAttachments
}

// Autoscale bounds an autoscaled group; Min may be 0.
type Autoscale struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Volume is a Cinder volume.
type Volume struct {
	// SizeGiB is the volume size.
	SizeGiB int `json:"sizeGiB"`
	// Type is the Cinder volume type.
	Type string `json:"type,omitempty"`
	// AvailabilityZone is the Cinder availability zone.
	AvailabilityZone string `json:"availabilityZone,omitempty"`
}

// APIServer is how the API server is exposed.
type APIServer struct {
	// LoadBalancer puts an Octavia load balancer in front; default true.
	LoadBalancer *bool `json:"loadBalancer,omitempty"`
	// FloatingIP gives the API server a floating IP; default true.
	FloatingIP *bool `json:"floatingIP,omitempty"`
	// AllowedCIDRs restrict who reaches the API server's load balancer.
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`
	// PodSecurity are the Pod Security admission's defaults.
	PodSecurity *PodSecurity `json:"podSecurity,omitempty"`
	// Audit turns on the audit log.
	Audit *Audit `json:"audit,omitempty"`
	// LoadBalancerProvider is the Octavia provider of the API load
	// balancer, one the site offers; unset, Octavia's default. Fixed when
	// the cluster is made (the OpenStack provider refuses a change).
	LoadBalancerProvider string `json:"loadBalancerProvider,omitempty"`
	// FloatingIPAddress is a fixed floating IP for the API server (made
	// if it does not exist); unset, a new one is allocated.
	FloatingIPAddress string `json:"floatingIPAddress,omitempty"`
}

// Network holds the cluster's networking.
type Network struct {
	// PodCIDRs default to 172.16.0.0/13.
	PodCIDRs []string `json:"podCIDRs,omitempty"`
	// ServiceCIDRs default to 172.24.0.0/13.
	ServiceCIDRs []string `json:"serviceCIDRs,omitempty"`
	// NodeCIDR is the subnet of a new node network; default 192.168.3.0/24.
	NodeCIDR string `json:"nodeCIDR,omitempty"`
	// Existing joins an existing Neutron network instead of making one.
	Existing *ExistingNetwork `json:"existing,omitempty"`
}

// ExistingNetwork names an existing Neutron network and subnet.
type ExistingNetwork struct {
	Network string `json:"network"`
	Subnet  string `json:"subnet,omitempty"`
}

// OIDC configures the API server's OIDC authentication.
type OIDC struct {
	IssuerURL      string `json:"issuerURL"`
	ClientID       string `json:"clientID"`
	UsernameClaim  string `json:"usernameClaim,omitempty"`
	UsernamePrefix string `json:"usernamePrefix,omitempty"`
	GroupsClaim    string `json:"groupsClaim,omitempty"`
	GroupsPrefix   string `json:"groupsPrefix,omitempty"`
}

// Etcd puts etcd on a volume of its own and tunes it.
type Etcd struct {
	// Volume is a Cinder volume for etcd's data on each control plane
	// machine.
	Volume *Volume `json:"volume,omitempty"`
	// Encryption encrypts Secrets at rest with a key from a Secret.
	Encryption *EtcdEncryption `json:"encryption,omitempty"`
	// EtcdTuning overrides the site's etcd defaults.
	EtcdTuning
}

// PlatformRef chooses a platform and overrides its components' values.
type PlatformRef struct {
	Name string `json:"name"`
	// Values overrides component values, keyed by component name.
	Values map[string]map[string]any `json:"values,omitempty"`
	// Releases give components, by name, the release identity they run
	// under already (adoption).
	Releases map[string]ReleaseOverride `json:"releases,omitempty"`
}
