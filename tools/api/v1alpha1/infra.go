package v1alpha1

// Placement and network: where a site's machines may go and what its
// network offers (Site), and how a cluster places its machines and reaches
// its networks (Cluster). See docs/placement-and-network.md.

// SitePlacement is what the site's compute hosts allow and what every
// machine of the site carries.
type SitePlacement struct {
	// Hosts is how many compute hosts can run the site's machines. Where
	// set, policy refuses a hard anti-affinity server group with more
	// members than hosts (Nova could never place the last one).
	Hosts int `json:"hosts,omitempty"`
	// ServerMetadata is Nova metadata every machine of the site carries;
	// a cluster's own keys win.
	ServerMetadata map[string]string `json:"serverMetadata,omitempty"`
	// ConfigDrive gives every machine of the site a config drive (for a
	// metadata service that machines cannot reach); a cluster may still
	// turn it on for its own groups.
	ConfigDrive bool `json:"configDrive,omitempty"`
}

// SiteNetworking is what the site's network offers to clusters.
type SiteNetworking struct {
	// LoadBalancerProviders are the Octavia providers clusters may choose
	// for their API server's load balancer (amphora, ovn). A cluster that
	// chooses none gets Octavia's default provider. Unset, only amphora.
	LoadBalancerProviders []string `json:"loadBalancerProviders,omitempty"`
	// PortNetworks are the Neutron networks machines may have extra ports
	// on, each with the vNIC types its hosts support.
	PortNetworks []PortNetwork `json:"portNetworks,omitempty"`
	// ServiceLoadBalancers are the cloud controller's load balancers of
	// Services (storage.go).
	ServiceLoadBalancers *ServiceLoadBalancers `json:"serviceLoadBalancers,omitempty"`
}

// PortNetwork is a Neutron network a site offers for extra ports.
type PortNetwork struct {
	// Name is the Neutron network's name.
	Name string `json:"name"`
	// VNICTypes are the vNIC types ports on it may have (normal, direct,
	// direct-physical, macvtap...); unset, normal only.
	VNICTypes []string `json:"vnicTypes,omitempty"`
}

// MachinePlacement is how the machines of the control plane or of a node
// group are placed and what they carry. A change of any of it is a new
// machine template: the group rolls.
type MachinePlacement struct {
	// ServerGroup puts the machines in an existing Nova server group.
	ServerGroup *ServerGroup `json:"serverGroup,omitempty"`
	// ServerMetadata is Nova metadata on the machines, over the site's.
	ServerMetadata map[string]string `json:"serverMetadata,omitempty"`
	// ConfigDrive gives the machines a config drive; unset, the site's
	// setting (a control plane with an etcd volume always has one).
	ConfigDrive *bool `json:"configDrive,omitempty"`
}

// ServerGroup names a Nova server group. OpenStack provider v0.13 cannot
// create one: the operator creates it (openstack server group create
// --policy <policy> <name>) in the cluster's project before the machines,
// and capiform refers to it by name.
type ServerGroup struct {
	// Name is the server group's name; unique in the project.
	Name string `json:"name"`
	// Policy is the policy the group was created with: anti-affinity
	// (hard: Nova refuses a machine when every host has a member) or
	// soft-anti-affinity (Nova spreads as far as it can). capiform cannot
	// read it from the cloud; policy uses it to count hosts.
	Policy string `json:"policy"`
}

// MachineAttachments are a node group's extra volumes and ports. A change
// is a new machine template: the group rolls.
type MachineAttachments struct {
	// Volumes are extra Cinder volumes on each machine, found in the
	// guest at /dev/disk/openstack/by-tag/<name>: raw, or formatted and
	// mounted where a volume has a mountPath.
	Volumes []ExtraVolume `json:"volumes,omitempty"`
	// Ports are extra Neutron ports on each machine, after its port on the
	// cluster's network.
	Ports []Port `json:"ports,omitempty"`
}

// ExtraVolume is an extra Cinder volume of each machine of a group.
type ExtraVolume struct {
	// Name tags the block device and names the volume; unique in the
	// group.
	Name    string `json:"name"`
	SizeGiB int    `json:"sizeGiB"`
	// Type is the Cinder volume type.
	Type string `json:"type,omitempty"`
	// AvailabilityZone is the Cinder availability zone; unset, the
	// machine's.
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// MountPath formats the volume (whole disk, labelled with its name)
	// on first boot and mounts it there; unset, the volume stays raw.
	MountPath string `json:"mountPath,omitempty"`
	// Filesystem is the filesystem made with MountPath: ext4 (the
	// default) or xfs.
	Filesystem string `json:"filesystem,omitempty"`
}

// Port is an extra Neutron port of each machine of a group.
type Port struct {
	// Network is one of the site's networking.portNetworks.
	Network string `json:"network"`
	// VNICType is the port's vNIC type: normal (the default), or direct
	// for an SR-IOV virtual function (the network and the group's flavor
	// must offer it), direct-physical, macvtap...
	VNICType string `json:"vnicType,omitempty"`
	// DisablePortSecurity turns Neutron's port security (security groups,
	// anti-spoofing) off, as SR-IOV ports on most sites need.
	DisablePortSecurity bool `json:"disablePortSecurity,omitempty"`
}

// SecurityGroups are the cluster's security groups.
type SecurityGroups struct {
	// Managed: the OpenStack provider makes and updates the cluster's
	// groups (control plane and workers, with the rules Kubernetes
	// needs); default true. false: only Existing guard the machines, and
	// their rules are the operator's.
	Managed *bool `json:"managed,omitempty"`
	// Rules are added to the managed group of every node.
	Rules []SecurityGroupRule `json:"rules,omitempty"`
	// NodePortsFrom are CIDRs allowed to reach every node's NodePort
	// range (30000-32767, TCP and UDP): an OVN load balancer forwards
	// clients' packets to the nodes with the clients' addresses, and
	// checks members from an address on the node subnet, so Services of
	// type LoadBalancer behind OVN need their clients' CIDRs and the node
	// subnet here.
	NodePortsFrom []string `json:"nodePortsFrom,omitempty"`
	// Existing are Neutron security groups, by name, added to every
	// machine's port on the cluster network.
	Existing []string `json:"existing,omitempty"`
}

// SecurityGroupRule is one rule of the managed security group of every
// node (CAPO's allNodesSecurityGroupRules).
type SecurityGroupRule struct {
	// Name identifies the rule; unique in the cluster.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Direction is ingress or egress.
	Direction string `json:"direction"`
	// EtherType is IPv4 or IPv6; unset, Neutron's default (IPv4).
	EtherType string `json:"etherType,omitempty"`
	// Protocol is tcp, udp, icmp... ; unset, any.
	Protocol     string `json:"protocol,omitempty"`
	PortRangeMin int    `json:"portRangeMin,omitempty"`
	PortRangeMax int    `json:"portRangeMax,omitempty"`
	// RemoteIPPrefix is the CIDR the rule admits; exclusive with
	// RemoteManagedGroups.
	RemoteIPPrefix string `json:"remoteIPPrefix,omitempty"`
	// RemoteManagedGroups admit the cluster's own machines: controlplane,
	// worker.
	RemoteManagedGroups []string `json:"remoteManagedGroups,omitempty"`
}
