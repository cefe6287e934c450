// Package resolve turns a site and one of its clusters into the values of
// the openstack-cluster chart and the identity of its Helm release.
package resolve

import (
	"encoding/json"
	"fmt"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

// Defaults applied where a definition is silent.
const (
	DefaultPodCIDR         = "172.16.0.0/13"
	DefaultServiceCIDR     = "172.24.0.0/13"
	DefaultNodeCIDR        = "192.168.3.0/24"
	DefaultCloudName       = "openstack"
	DefaultAPIServerPort   = 6443
	DefaultAutoscalerImage = "registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.0"
)

// Built-in etcd and certificate settings, where neither the cluster nor its
// site's clusterDefaults say otherwise (policies/rules.cue holds the same
// numbers for its bounds; a test holds them together).
const (
	// DefaultEtcdHeartbeatIntervalMs and DefaultEtcdElectionTimeoutMs are
	// 2.5 times etcd's 100 and 1000: etcd's tuning guide sets the heartbeat
	// near the members' round trip, which on network storage (Cinder)
	// includes the leader's fsync, often tens of milliseconds, and the
	// election timeout at ten heartbeats so that a slow disk does not
	// trigger elections.
	DefaultEtcdHeartbeatIntervalMs = 250
	DefaultEtcdElectionTimeoutMs   = 2500
	// DefaultEtcdQuotaBackendGiB is etcd's suggested maximum database
	// size (its default, 2 GiB, makes a busy cluster read-only early).
	DefaultEtcdQuotaBackendGiB = 8
	// DefaultEtcdDefragSchedule defragments etcd weekly, Sunday 03:00 in
	// the machines' time zone (cron syntax).
	DefaultEtcdDefragSchedule = "0 3 * * 0"
	// EtcdDefragNever turns the scheduled defragmentation off.
	EtcdDefragNever = "none"
	// DefaultCertificatesRenewBeforeDays rolls control plane machines a
	// month before kubeadm's one-year certificates expire.
	DefaultCertificatesRenewBeforeDays = 30
)

// Release is a cluster resolved against its site.
type Release struct {
	Identity
	// KubernetesVersion is the control plane's version.
	KubernetesVersion string
	// Management is true for the site's self-managed management cluster.
	Management bool
	// Values are the chart values.
	Values map[string]any
	// Machines is the most machines the cluster can have (an autoscaled
	// group at its maximum).
	Machines int
	// PeakMachines is the most machines the cluster can have while every
	// group rolls at once (without ClusterClass the control plane and the
	// node groups roll concurrently): Machines plus each group's surge and
	// the control plane's.
	PeakMachines int
	// PodCIDRs are the cluster's pod networks (the CNI's IP pools).
	PodCIDRs []string
	// Warnings are what does not stop the render but should be read.
	Warnings diag.List
}

// Image is the chart's machineImage value.
type Image struct {
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Volume is the chart's volume value.
type Volume struct {
	SizeGiB          int    `json:"sizeGiB"`
	Type             string `json:"type,omitempty"`
	AvailabilityZone string `json:"availabilityZone,omitempty"`
}

// Values are the openstack-cluster chart's values; the chart's
// values.schema.json is the contract.
type Values struct {
	ClusterName                string            `json:"clusterName"`
	Site                       string            `json:"site"`
	KubernetesVersion          string            `json:"kubernetesVersion"`
	MachineImage               Image             `json:"machineImage"`
	MachineSSHKeyName          string            `json:"machineSSHKeyName,omitempty"`
	CloudCredentialsSecretName string            `json:"cloudCredentialsSecretName"`
	CloudName                  string            `json:"cloudName"`
	AvailabilityZones          []string          `json:"availabilityZones,omitempty"`
	ExternalNetworkID          string            `json:"externalNetworkId"`
	APIServer                  APIServerValues   `json:"apiServer"`
	ClusterNetworking          NetworkingValues  `json:"clusterNetworking"`
	ControlPlane               ControlPlaneValue `json:"controlPlane"`
	Etcd                       *EtcdValues       `json:"etcd,omitempty"`
	OIDC                       *v1alpha1.OIDC    `json:"oidc,omitempty"`
	Autohealing                bool              `json:"autohealing"`
	HealthCheck                HealthCheckValues `json:"healthCheck"`
	NodeGroups                 []NodeGroupValues `json:"nodeGroups"`
	// Naming selects capi-helm-charts' selectors and labels for an adopted
	// cluster; nil is the chart's own.
	Naming            *Naming             `json:"naming,omitempty"`
	NodeConfig        *NodeConfigValues   `json:"nodeConfig,omitempty"`
	APIServerSecurity *SecurityValues     `json:"apiServerSecurity,omitempty"`
	KubeadmPatches    []KubeadmPatch      `json:"kubeadmPatches,omitempty"`
	SecurityGroups    SecurityGroupValues `json:"securityGroups"`
	// KubeProxy is set when Cilium replaces kube-proxy (KubeProxyReplaced).
	KubeProxy *KubeProxyValues `json:"kubeProxy,omitempty"`
}

// APIServerValues are the chart's apiServer values.
type APIServerValues struct {
	EnableLoadBalancer  bool     `json:"enableLoadBalancer"`
	AssociateFloatingIP bool     `json:"associateFloatingIP"`
	AllowedCIDRs        []string `json:"allowedCidrs,omitempty"`
	Port                int      `json:"port"`
	// LoadBalancerProvider is the Octavia provider; empty, Octavia's default.
	LoadBalancerProvider string `json:"loadBalancerProvider,omitempty"`
	FloatingIPAddress    string `json:"floatingIPAddress,omitempty"`
}

// NetworkingValues are the chart's clusterNetworking values.
type NetworkingValues struct {
	PodCIDRs        []string         `json:"podCidrs"`
	ServiceCIDRs    []string         `json:"serviceCidrs"`
	DNSNameservers  []string         `json:"dnsNameservers,omitempty"`
	NodeCIDR        string           `json:"nodeCidr,omitempty"`
	ExistingNetwork *ExistingNetwork `json:"existingNetwork,omitempty"`
}

// ExistingNetwork is the chart's clusterNetworking.existingNetwork value.
type ExistingNetwork struct {
	Network string `json:"network"`
	Subnet  string `json:"subnet,omitempty"`
}

// ControlPlaneValue is the chart's controlPlane value.
type ControlPlaneValue struct {
	MachineFlavor string  `json:"machineFlavor"`
	MachineCount  int     `json:"machineCount"`
	RootVolume    *Volume `json:"rootVolume,omitempty"`
	// CertificatesExpiryDays is 0 when the cluster turns it off.
	CertificatesExpiryDays int `json:"certificatesExpiryDays"`
	// Remediation limits KubeadmControlPlane's replacement of unhealthy
	// machines.
	Remediation Remediation `json:"remediation"`
	// KubeletConfig is the control plane's KubeletConfiguration patch.
	KubeletConfig map[string]any `json:"kubeletConfig,omitempty"`
	// Labels are the control plane machines' node labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Taints are added to kubeadm's control-plane taint.
	Taints  []v1alpha1.Taint `json:"taints,omitempty"`
	Machine *MachineValues   `json:"machine,omitempty"`
}

// EtcdValues is the chart's etcd value.
type EtcdValues struct {
	Volume              *Volume `json:"volume,omitempty"`
	HeartbeatIntervalMs int     `json:"heartbeatIntervalMs"`
	ElectionTimeoutMs   int     `json:"electionTimeoutMs"`
	QuotaBackendGiB     int     `json:"quotaBackendGiB"`
	// DefragSchedule is "" when the defragmentation is off.
	DefragSchedule string `json:"defragSchedule"`
}

// NodeGroupValues is one entry of the chart's nodeGroups value.
type NodeGroupValues struct {
	Name              string            `json:"name"`
	MachineFlavor     string            `json:"machineFlavor"`
	MachineCount      *int              `json:"machineCount,omitempty"`
	Autoscale         *Autoscale        `json:"autoscale,omitempty"`
	Capacity          Capacity          `json:"capacity"`
	Labels            map[string]string `json:"labels,omitempty"`
	Taints            []v1alpha1.Taint  `json:"taints,omitempty"`
	RootVolume        *Volume           `json:"rootVolume,omitempty"`
	KubernetesVersion string            `json:"kubernetesVersion,omitempty"`
	MachineImage      *Image            `json:"machineImage,omitempty"`
	AvailabilityZone  string            `json:"availabilityZone,omitempty"`
	Rollout           RolloutValues     `json:"rollout"`
	KubeletConfig     map[string]any    `json:"kubeletConfig,omitempty"`
	Machine           *MachineValues    `json:"machine,omitempty"`
}

// Autoscale is the chart's nodeGroups[].autoscale value.
type Autoscale struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Capacity is a flavor's size, for scale from zero.
type Capacity struct {
	CPU       int `json:"cpu"`
	MemoryMiB int `json:"memoryMiB"`
	GPU       int `json:"gpu"`
}

// Fleet resolves every cluster of every site; the diagnostics name each
// definition that cannot be resolved.
func Fleet(f *load.Fleet) ([]*Release, error) {
	var (
		out  []*Release
		errs diag.List
	)
	for _, s := range f.Sites {
		if s.Management() == nil {
			errs.Add(s.Pos.Of("spec.managementCluster"), "resolve.management-cluster",
				"managementCluster %q is not a cluster of site %s: add clusters/%s/%s.yaml or name an existing cluster",
				s.Spec.ManagementCluster, s.Metadata.Name, s.Metadata.Name, s.Spec.ManagementCluster)
		}
		for _, c := range s.Clusters {
			r, d := Cluster(s, c)
			errs = append(errs, d...)
			if r != nil {
				errs = append(errs, r.Warnings...)
			}
			if r != nil {
				out = append(out, r)
			}
		}
	}
	return out, errs.Err()
}

// Cluster resolves one cluster of a site. It returns nil and the reasons
// when a flavor, image or network the cluster names is not in the site.
func Cluster(s *load.Site, c *load.Cluster) (*Release, diag.List) {
	var errs diag.List
	spec := c.Spec
	site := s.Spec
	id := AdoptedIdentity(s.Metadata.Name, c.Metadata.Name, spec.Adopt)
	flavors := map[string]v1alpha1.Flavor{}
	for _, f := range site.Flavors {
		flavors[f.Name] = f
	}
	flavor := func(name, at string) v1alpha1.Flavor {
		f, ok := flavors[name]
		if !ok {
			if name == "" {
				errs.Add(c.Pos.Of(at), "resolve.flavor", "%s is required: choose one of the flavors of site %s", at, s.Metadata.Name)
			} else {
				errs.Add(c.Pos.Of(at), "resolve.flavor", "flavor %q is not offered by site %s: use one of %s", name, s.Metadata.Name, flavorNames(site.Flavors))
			}
		}
		return f
	}
	image := func(version, at string) Image {
		for _, im := range site.Images {
			if im.KubernetesVersion == version {
				if im.ID != "" {
					return Image{ID: im.ID}
				}
				return Image{Name: im.Name}
			}
		}
		errs.Add(c.Pos.Of(at), "resolve.image", "site %s has no image for Kubernetes %s: add one to its image catalogue or use one of %s", s.Metadata.Name, version, imageVersions(site.Images))
		return Image{}
	}

	v := Values{
		ClusterName:                c.Metadata.Name,
		Site:                       s.Metadata.Name,
		KubernetesVersion:          spec.KubernetesVersion,
		MachineImage:               image(spec.KubernetesVersion, "spec.kubernetesVersion"),
		MachineSSHKeyName:          or(spec.SSHKeyName, site.Cloud.SSHKeyName),
		CloudCredentialsSecretName: site.Cloud.CredentialsSecret,
		CloudName:                  or(site.Cloud.CloudName, DefaultCloudName),
		AvailabilityZones:          site.Cloud.AvailabilityZones,
		ExternalNetworkID:          site.Cloud.ExternalNetworkID,
		APIServer: APIServerValues{
			EnableLoadBalancer:  true,
			AssociateFloatingIP: true,
			Port:                DefaultAPIServerPort,
		},
		ClusterNetworking: NetworkingValues{
			PodCIDRs:       []string{DefaultPodCIDR},
			ServiceCIDRs:   []string{DefaultServiceCIDR},
			DNSNameservers: site.Cloud.DNSNameservers,
			NodeCIDR:       DefaultNodeCIDR,
		},
		Autohealing: spec.Autohealing == nil || *spec.Autohealing,
		HealthCheck: EffectiveHealthCheck(site, spec),
		OIDC:        spec.OIDC,
		NodeGroups:  []NodeGroupValues{},
		Naming:      naming(spec.Adopt),
		KubeProxy:   kubeProxy(c),
	}
	if a := spec.APIServer; a != nil {
		if a.LoadBalancer != nil {
			v.APIServer.EnableLoadBalancer = *a.LoadBalancer
		}
		if a.FloatingIP != nil {
			v.APIServer.AssociateFloatingIP = *a.FloatingIP
		}
		v.APIServer.AllowedCIDRs = a.AllowedCIDRs
		v.APIServer.FloatingIPAddress = a.FloatingIPAddress
	}
	if v.APIServer.EnableLoadBalancer {
		v.APIServer.LoadBalancerProvider = loadBalancerProvider(spec.APIServer)
	}
	v.SecurityGroups = securityGroupValues(spec.SecurityGroups)
	if n := spec.Network; n != nil {
		if len(n.PodCIDRs) > 0 {
			v.ClusterNetworking.PodCIDRs = n.PodCIDRs
		}
		if len(n.ServiceCIDRs) > 0 {
			v.ClusterNetworking.ServiceCIDRs = n.ServiceCIDRs
		}
		if n.NodeCIDR != "" {
			v.ClusterNetworking.NodeCIDR = n.NodeCIDR
		}
		if e := n.Existing; e != nil {
			v.ClusterNetworking.ExistingNetwork = &ExistingNetwork{Network: e.Network, Subnet: e.Subnet}
			v.ClusterNetworking.NodeCIDR = ""
		}
	}
	cpReplicas := 1
	if site.Production {
		cpReplicas = 3
	}
	if spec.ControlPlane.Replicas != nil {
		cpReplicas = *spec.ControlPlane.Replicas
	}
	flavor(spec.ControlPlane.Flavor, "spec.controlPlane.flavor")
	v.ControlPlane = ControlPlaneValue{
		MachineFlavor: spec.ControlPlane.Flavor,
		MachineCount:  cpReplicas,
		RootVolume:    volume(spec.ControlPlane.RootVolume),
		Remediation:   EffectiveRemediation(site, spec),
		Machine:       machineValues(site, spec.ControlPlane.MachinePlacement, v1alpha1.MachineAttachments{}),
	}
	v.ControlPlane.CertificatesExpiryDays = renewBeforeDays(site.ClusterDefaults, spec.Certificates)
	v.Etcd = etcd(site.ClusterDefaults, spec.Etcd)
	v.NodeConfig = nodeConfig(site, spec, v.ClusterNetworking)
	machines := cpReplicas
	for i, g := range spec.NodeGroups {
		at := fmt.Sprintf("spec.nodeGroups[%d]", i)
		f := flavor(g.Flavor, at+".flavor")
		ng := NodeGroupValues{
			Name:          g.Name,
			MachineFlavor: g.Flavor,
			Capacity:      Capacity{CPU: f.VCPUs, MemoryMiB: f.RAMMiB, GPU: f.GPUs},
			Labels:        g.Labels,
			Taints:        g.Taints,
			RootVolume:    volume(g.RootVolume),
			// The group's failure domain; unset, Nova places the machines.
			AvailabilityZone: g.AvailabilityZone,
			Rollout:          EffectiveRollout(site, g),
			Machine:          machineValues(site, g.MachinePlacement, g.MachineAttachments),
		}
		switch {
		case g.Autoscale != nil:
			ng.Autoscale = &Autoscale{Min: g.Autoscale.Min, Max: g.Autoscale.Max}
			machines += g.Autoscale.Max
		case g.Replicas != nil:
			n := *g.Replicas
			ng.MachineCount = &n
			machines += n
		default:
			one := 1
			ng.MachineCount = &one
			machines++
		}
		if g.KubernetesVersion != "" && g.KubernetesVersion != spec.KubernetesVersion {
			ng.KubernetesVersion = g.KubernetesVersion
			im := image(g.KubernetesVersion, at+".kubernetesVersion")
			ng.MachineImage = &im
		}
		v.NodeGroups = append(v.NodeGroups, ng)
	}
	applyKubeadmSettings(&v, site, spec)
	if len(errs) > 0 {
		return nil, errs
	}
	_, peak := MachineCounts(site, spec)
	values, err := toMap(v)
	if err != nil {
		errs.Add(c.Pos.Of(""), "resolve.values", "cannot build chart values: %v", err)
		return nil, errs
	}
	return &Release{
		Identity:          id,
		KubernetesVersion: spec.KubernetesVersion,
		Management:        s.Spec.ManagementCluster == c.Metadata.Name,
		Values:            values,
		Machines:          machines,
		PeakMachines:      peak,
		PodCIDRs:          v.ClusterNetworking.PodCIDRs,
		Warnings:          labelWarnings(s, c),
	}, nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func volume(v *v1alpha1.Volume) *Volume {
	if v == nil {
		return nil
	}
	return &Volume{SizeGiB: v.SizeGiB, Type: v.Type, AvailabilityZone: v.AvailabilityZone}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func flavorNames(fs []v1alpha1.Flavor) string {
	s := ""
	for i, f := range fs {
		if i > 0 {
			s += ", "
		}
		s += f.Name
	}
	return s
}

func imageVersions(ims []v1alpha1.Image) string {
	s := ""
	for i, im := range ims {
		if i > 0 {
			s += ", "
		}
		s += im.KubernetesVersion
	}
	return s
}
