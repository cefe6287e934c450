package resolve

import (
	"fmt"
	"sort"
	"strings"

	"github.com/capiform/capiform/tools/api/v1alpha1"
)

// NodePortRange is Kubernetes' default NodePort range, which
// securityGroups.nodePortsFrom opens.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// MachineValues are the chart's controlPlane.machine and
// nodeGroups[].machine values: what goes into the group's
// OpenStackMachineTemplate besides flavor, image and root volume.
type MachineValues struct {
	// ServerGroup is the name of an existing Nova server group.
	ServerGroup string `json:"serverGroup,omitempty"`
	// ServerMetadata is sorted by key (CAPO's list, keyed by key).
	ServerMetadata []MetadataItem     `json:"serverMetadata,omitempty"`
	ConfigDrive    bool               `json:"configDrive,omitempty"`
	Volumes        []ExtraVolumeValue `json:"volumes,omitempty"`
	Ports          []PortValue        `json:"ports,omitempty"`
}

// MetadataItem is one Nova metadata key and value.
type MetadataItem struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ExtraVolumeValue is one entry of machine.volumes.
type ExtraVolumeValue struct {
	Name             string `json:"name"`
	SizeGiB          int    `json:"sizeGiB"`
	Type             string `json:"type,omitempty"`
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	MountPath        string `json:"mountPath,omitempty"`
	Filesystem       string `json:"filesystem,omitempty"`
}

// PortValue is one entry of machine.ports.
type PortValue struct {
	Network             string `json:"network"`
	VNICType            string `json:"vnicType,omitempty"`
	DisablePortSecurity bool   `json:"disablePortSecurity,omitempty"`
}

// SecurityGroupValues are the chart's securityGroups value.
type SecurityGroupValues struct {
	// Managed: CAPO makes the cluster's groups, with Rules added to every
	// node's.
	Managed  bool                     `json:"managed"`
	Rules    []SecurityGroupRuleValue `json:"rules,omitempty"`
	Existing []string                 `json:"existing,omitempty"`
}

// SecurityGroupRuleValue is one of CAPO's allNodesSecurityGroupRules.
type SecurityGroupRuleValue struct {
	Name                string   `json:"name"`
	Description         string   `json:"description,omitempty"`
	Direction           string   `json:"direction"`
	EtherType           string   `json:"etherType,omitempty"`
	Protocol            string   `json:"protocol,omitempty"`
	PortRangeMin        int      `json:"portRangeMin,omitempty"`
	PortRangeMax        int      `json:"portRangeMax,omitempty"`
	RemoteIPPrefix      string   `json:"remoteIPPrefix,omitempty"`
	RemoteManagedGroups []string `json:"remoteManagedGroups,omitempty"`
}

// machineValues resolves a group's placement and attachments over the
// site's placement; nil when there is nothing to say, so that the machine
// template of a group that uses none of it keeps its name.
func machineValues(site v1alpha1.SiteSpec, p v1alpha1.MachinePlacement, a v1alpha1.MachineAttachments) *MachineValues {
	sp := v1alpha1.SitePlacement{}
	if site.Placement != nil {
		sp = *site.Placement
	}
	m := &MachineValues{ConfigDrive: sp.ConfigDrive}
	if p.ConfigDrive != nil {
		m.ConfigDrive = *p.ConfigDrive
	}
	if p.ServerGroup != nil {
		m.ServerGroup = p.ServerGroup.Name
	}
	meta := map[string]string{}
	for k, v := range sp.ServerMetadata {
		meta[k] = v
	}
	for k, v := range p.ServerMetadata {
		meta[k] = v
	}
	for k, v := range meta {
		m.ServerMetadata = append(m.ServerMetadata, MetadataItem{Key: k, Value: v})
	}
	sort.Slice(m.ServerMetadata, func(i, j int) bool { return m.ServerMetadata[i].Key < m.ServerMetadata[j].Key })
	for _, v := range a.Volumes {
		m.Volumes = append(m.Volumes, ExtraVolumeValue(v))
	}
	for _, port := range a.Ports {
		m.Ports = append(m.Ports, PortValue(port))
	}
	if m.ServerGroup == "" && len(m.ServerMetadata) == 0 && !m.ConfigDrive && len(m.Volumes) == 0 && len(m.Ports) == 0 {
		return nil
	}
	return m
}

// securityGroupValues resolves the cluster's security groups: CAPO's
// managed groups unless turned off, with the cluster's rules and a rule
// per CIDR and protocol for the NodePort range.
func securityGroupValues(sg *v1alpha1.SecurityGroups) SecurityGroupValues {
	out := SecurityGroupValues{Managed: true}
	if sg == nil {
		return out
	}
	if sg.Managed != nil {
		out.Managed = *sg.Managed
	}
	out.Existing = sg.Existing
	for _, r := range sg.Rules {
		out.Rules = append(out.Rules, SecurityGroupRuleValue(r))
	}
	for i, cidr := range sg.NodePortsFrom {
		ether := "IPv4"
		if strings.Contains(cidr, ":") {
			ether = "IPv6"
		}
		for _, proto := range []string{"tcp", "udp"} {
			out.Rules = append(out.Rules, SecurityGroupRuleValue{
				Name:           fmt.Sprintf("node-ports-%s-%d", proto, i),
				Description:    "NodePorts from " + cidr + " (load balancers that keep the client's address)",
				Direction:      "ingress",
				EtherType:      ether,
				Protocol:       proto,
				PortRangeMin:   NodePortMin,
				PortRangeMax:   NodePortMax,
				RemoteIPPrefix: cidr,
			})
		}
	}
	return out
}

// loadBalancerProvider is the cluster's own choice, else none (Octavia's
// default provider). The site's list is what it offers, not a default:
// a default would reach existing clusters, whose load balancer's provider
// the OpenStack provider refuses to change.
func loadBalancerProvider(a *v1alpha1.APIServer) string {
	if a != nil {
		return a.LoadBalancerProvider
	}
	return ""
}
