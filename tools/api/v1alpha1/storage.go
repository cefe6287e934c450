package v1alpha1

// Cloud controller and Cinder: the non-secret sections of cloud.conf and
// the storage classes, made from the site (docs/storage.md). The secret
// [Global] section comes from the site's encrypted credentials.

// ServiceLoadBalancers are how the OpenStack cloud controller makes the
// Octavia load balancers of Services of type LoadBalancer: cloud.conf's
// [LoadBalancer] section of every cluster of the site. Their floating IPs
// come from the site's spec.cloud.externalNetworkId.
type ServiceLoadBalancers struct {
	// Provider is the Octavia provider: amphora or ovn, one of the site's
	// networking.loadBalancerProviders; unset, amphora (the cloud
	// controller's default).
	Provider string `json:"provider,omitempty"`
	// Method is the balancing algorithm: ROUND_ROBIN, LEAST_CONNECTIONS,
	// SOURCE_IP or SOURCE_IP_PORT. The ovn provider supports only
	// SOURCE_IP_PORT, which is its default; amphora's default is
	// ROUND_ROBIN.
	Method string `json:"method,omitempty"`
	// CreateMonitor gives every load balancer a health monitor, so that a
	// node that stops serving is taken out of the pool.
	CreateMonitor bool `json:"createMonitor,omitempty"`
}

// SiteStorage is the site's Cinder: its volume types, each a storage class
// of the clusters, and how Cinder CSI treats volumes (cloud.conf's
// [BlockStorage] section).
type SiteStorage struct {
	// VolumeTypes are the Cinder volume types clusters get a storage class
	// for; at most one is the default. Unset, clusters get Cinder CSI's
	// two classes of Cinder's default type (csi-cinder-sc-delete, the
	// default, and csi-cinder-sc-retain).
	VolumeTypes []VolumeType `json:"volumeTypes,omitempty"`
	// IgnoreVolumeAZ makes Cinder CSI create volumes without the node's
	// availability zone, for a site whose Cinder zones are not its Nova
	// zones (one Cinder zone for all Nova zones, for example).
	IgnoreVolumeAZ bool `json:"ignoreVolumeAZ,omitempty"`
	// RescanOnResize makes Cinder CSI rescan a volume's device after a
	// resize, for hypervisors that do not tell the guest.
	RescanOnResize bool `json:"rescanOnResize,omitempty"`
}

// VolumeType is a Cinder volume type a site offers.
type VolumeType struct {
	// Name is the Cinder volume type's name, as `openstack volume type
	// list` shows it.
	Name string `json:"name"`
	// StorageClass is the name of its storage class; unset,
	// csi-cinder-<name in lower case>.
	StorageClass string `json:"storageClass,omitempty"`
	// AvailabilityZones are the zones (as nodes carry them in
	// topology.cinder.csi.openstack.org/zone) whose nodes can use volumes
	// of the type; unset, every zone.
	AvailabilityZones []string `json:"availabilityZones,omitempty"`
	// Default makes its storage class the clusters' default.
	Default bool `json:"default,omitempty"`
}

// ClusterStorage is the cluster's choice among the site's volume types.
type ClusterStorage struct {
	// VolumeTypes are the site's volume types the cluster gets a storage
	// class for; unset, all of them.
	VolumeTypes []string `json:"volumeTypes,omitempty"`
	// DefaultVolumeType is the volume type whose class is the cluster's
	// default, one of its volume types; unset, the site's default when
	// the cluster has it.
	DefaultVolumeType string `json:"defaultVolumeType,omitempty"`
}
