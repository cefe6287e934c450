package importer

import (
	"maps"
	"slices"
	"sort"
	"strings"

	v1 "github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/resolve"
)

// valuesReason says why a subtree of openstack-cluster values is left
// out, where there is more to say than "no equivalent". Paths are generic
// (list indices dropped).
func valuesReason(path string) (string, bool) {
	switch path {
	case "clouds":
		return "inline cloud credentials are never written to git: capiform reads them from the Secret the site names (spec.cloud.credentialsSecret)", true
	case "additionalPackages":
		return "capiform's chart installs no extra packages on the machines: bake them into the site's images", true
	case "controlPlane.kubeadmConfigSpec", "nodeGroupDefaults.kubeadmConfigSpec", "nodeGroups[].kubeadmConfigSpec":
		return "capiform's chart fixes the kubeadm configuration (external cloud provider, kubelet settings)", true
	case "controlPlane.healthCheck.spec", "nodeGroupDefaults.healthCheck.spec", "nodeGroups[].healthCheck.spec":
		return "health checks are tuned per cluster with spec.healthCheck (timeouts in seconds), not as a MachineHealthCheck spec", true
	case "controlPlane.machineNetworking", "nodeGroupDefaults.machineNetworking", "nodeGroups[].machineNetworking":
		return "machines join the cluster's network only; extra ports are not supported", true
	case "controlPlane.nodeLabels":
		return "control plane nodes carry no extra labels in capiform", true
	case "controlPlane.failureDomains", "controlPlane.omitFailureDomain":
		return "the control plane is placed by Nova; capiform spreads it over no failure domains", true
	case "autoscaler":
		return "capiform's chart deploys the cluster-autoscaler with its own image and settings", true
	case "apiServer.floatingIP", "apiServer.fixedIP":
		return "capiform lets OpenStack allocate the API server's addresses; after the hand-over the address may change", true
	case "apiServer.loadBalancerProvider":
		return "the Octavia provider is the cloud's default in capiform", true
	case "apiServer.admissionConfiguration", "apiServer.logLevel":
		return "the API server's admission and log settings are fixed by capiform's chart", true
	case "etcd.encryption":
		return "encryption of secrets at rest is not configured by capiform's chart", true
	case "etcd.dataDir", "etcd.extraArgs":
		return "etcd's data folder and flags are set by capiform (spec.etcd tunes heartbeat, election timeout and quota)", true
	case "authWebhook", "azimuthAuthorizationWebhook":
		return "capiform configures OIDC (spec.oidc) but no authentication webhook", true
	case "clusterAnnotations", "projectPrefix", "machineMetadata":
		return "capiform sets its own labels and annotations", true
	case "osDistro":
		return "capiform's chart builds Ubuntu-style kubeadm machines; the image comes from the site's catalogue", true
	case "controlPlane.machineImage", "controlPlane.machineImageId", "nodeGroupDefaults.machineImage", "nodeGroupDefaults.machineImageId", "nodeGroups[].machineImage", "nodeGroups[].machineImageId":
		return "images come from the site's catalogue by Kubernetes version, for every machine alike", true
	case "controlPlane.serverGroupId", "nodeGroupDefaults.serverGroupId", "nodeGroups[].serverGroupId":
		return "capiform places machines in no server group", true
	case "controlPlane.rolloutStrategy":
		return "the control plane rolls one machine at a time (maxSurge 1)", true
	case "controlPlane.nodeDrainTimeout", "controlPlane.nodeVolumeDetachTimeout", "controlPlane.nodeDeletionTimeout",
		"nodeGroupDefaults.nodeDrainTimeout", "nodeGroupDefaults.nodeVolumeDetachTimeout", "nodeGroupDefaults.nodeDeletionTimeout",
		"nodeGroups[].nodeDrainTimeout", "nodeGroups[].nodeVolumeDetachTimeout", "nodeGroups[].nodeDeletionTimeout":
		return "drain, volume detach and deletion timeouts are fixed by capiform's chart", true
	case "kubeNetwork.serviceDomain":
		return "the service domain is cluster.local in capiform", true
	case "clusterNetworking.manageSecurityGroups", "clusterNetworking.allowAllInClusterTraffic":
		return "capiform's chart always manages the security groups, allowing traffic within the cluster", true
	case "oidc.signingAlgs":
		return "the API server accepts RS256 tokens only", true
	}
	if strings.HasPrefix(path, "addons.") {
		return "capiform has no platform for this addon setting; add a platform (platforms/) or a component's values", true
	}
	return "", false
}

// chartDefaults are values the chart (and its values.yaml) sets when a
// values file is silent and capiform's defaults differ: a silent file
// must import as the cluster it made.
const (
	defaultControlPlaneCount = 3
	defaultNodeGroupCount    = 3
)

// values maps openstack-cluster values onto the cluster (and site).
func (b *builder) values(top val) {
	c := &b.cluster.Spec
	s := &b.site.Spec
	if v, ok := top.get("kubernetesVersion").str(); ok {
		c.KubernetesVersion = kubeVersion(v)
	}
	for _, key := range []string{"machineImage", "machineImageId"} {
		v, ok := top.get(key).str()
		if !ok || v == "" {
			continue
		}
		img := v1.Image{KubernetesVersion: c.KubernetesVersion, Name: v}
		field := "name"
		if key == "machineImageId" {
			img = v1.Image{KubernetesVersion: c.KubernetesVersion, ID: v}
			field = "id"
		}
		b.images = append(b.images, img)
		if b.opts.Site == "" {
			b.r.warn(top.get(key).pos(), "import.site", "%s: capiform takes the image from the site's catalogue: add {kubernetesVersion: %s, %s: %s} to spec.images of the site (or import with --site)", top.get(key).path, c.KubernetesVersion, field, v)
		}
	}
	if v, ok := top.get("machineSSHKeyName").str(); ok {
		c.SSHKeyName = v
	}
	b.siteSetting(top.get("cloudCredentialsSecretName"), func(v string) { s.Cloud.CredentialsSecret = v }, "spec.cloud.credentialsSecret")
	if ca := top.get("cloudCACert"); ca.ok() {
		// The bundle is a credential's key, never in git; the site says
		// that there is one.
		ca.use()
		if v, ok := ca.str(); !ok || strings.TrimSpace(v) != "" {
			s.Cloud.PrivateCA = true
			b.r.warn(ca.pos(), "import.cloud-ca", "cloudCACert: the site says spec.cloud.privateCA: true (the machines, the cloud controller and Cinder CSI trust the cloud's CA); the bundle itself is never written to git: give it to `capiform secrets create SITE --cluster CLUSTER --clouds clouds.yaml --cacert ca.pem`")
		}
	}
	if v, ok := top.get("cloudName").str(); ok && v != "openstack" {
		b.siteSetting(top.get("cloudName"), func(v string) { s.Cloud.CloudName = v }, "spec.cloud.cloudName")
	}
	net := top.get("clusterNetworking")
	b.siteSetting(net.get("externalNetworkId"), func(v string) { s.Cloud.ExternalNetworkID = v }, "spec.cloud.externalNetworkId")
	if dns := net.get("dnsNameservers").strings(); len(dns) > 0 {
		s.Cloud.DNSNameservers = dns
		if b.opts.Site == "" {
			b.r.warn(net.get("dnsNameservers").pos(), "import.site", "clusterNetworking.dnsNameservers: a site setting in capiform (spec.cloud.dnsNameservers): import with --site or add it to the site")
		}
	}
	network := &v1.Network{}
	internal := net.get("internalNetwork")
	if id, name := internal.at("networkFilter.id"), internal.at("networkFilter.name"); id.ok() || name.ok() {
		network.Existing = &v1.ExistingNetwork{}
		if v, ok := id.str(); ok {
			network.Existing.Network = v
		} else if v, ok := name.str(); ok {
			network.Existing.Network = v
		}
		if v, ok := internal.at("subnetFilter.id").str(); ok {
			network.Existing.Subnet = v
		} else if v, ok := internal.at("subnetFilter.name").str(); ok {
			network.Existing.Subnet = v
		}
	}
	if v, ok := internal.get("nodeCidr").str(); ok && v != "192.168.3.0/24" && network.Existing == nil {
		network.NodeCIDR = v
	} else if ok {
		internal.get("nodeCidr").use()
	}
	if p := top.at("kubeNetwork.pods.cidrBlocks").strings(); len(p) > 0 && strings.Join(p, ",") != "172.16.0.0/13" {
		network.PodCIDRs = p
	}
	if p := top.at("kubeNetwork.services.cidrBlocks").strings(); len(p) > 0 && strings.Join(p, ",") != "172.24.0.0/13" {
		network.ServiceCIDRs = p
	}
	if v, ok := top.at("kubeNetwork.serviceDomain").peek(); ok && v == "cluster.local" {
		top.at("kubeNetwork.serviceDomain").use()
	}
	if network.Existing != nil || network.NodeCIDR != "" || network.PodCIDRs != nil || network.ServiceCIDRs != nil {
		c.Network = network
	}
	c.Nodes = b.nodeSettings(top)
	b.apiServer(top.get("apiServer"))
	b.oidc(top.get("oidc"))
	b.etcd(top.get("etcd"))
	b.controlPlane(top.get("controlPlane"))
	b.nodeGroups(top.get("nodeGroupDefaults"), top.get("nodeGroups"))
	b.addons(top.get("addons"))
	// Settings equal to the chart's defaults, and capiform's, are no
	// settings of the operator's.
	for path, def := range map[string]string{"apiServer.port": "6443", "osDistro": "ubuntu", "projectPrefix": "capi.stackhpc.com", "cloudName": "openstack", "oidc.signingAlgs": "RS256"} {
		if v, ok := top.at(path).peek(); ok && v == def {
			top.at(path).use()
		}
	}
}

// siteSetting reads a setting of the site: into the skeleton, or a
// warning when no skeleton was asked for.
func (b *builder) siteSetting(v val, set func(string), field string) {
	s, ok := v.str()
	if !ok || s == "" {
		return
	}
	set(s)
	if b.opts.Site == "" {
		b.r.warn(v.pos(), "import.site", "%s: a site setting in capiform (%s): import with --site, or check that the site says %q", v.path, field, s)
	}
}

func (b *builder) apiServer(v val) {
	if !v.isMap() {
		return
	}
	api := &v1.APIServer{}
	if lb, ok := v.get("enableLoadBalancer").boolean(); ok && !lb {
		api.LoadBalancer = ptr(false)
	}
	if fip, ok := v.get("associateFloatingIP").boolean(); ok && !fip {
		api.FloatingIP = ptr(false)
	}
	for _, key := range []string{"allowedCIDRs", "allowedCidrs"} {
		api.AllowedCIDRs = append(api.AllowedCIDRs, v.get(key).strings()...)
	}
	if api.LoadBalancer != nil || api.FloatingIP != nil || api.AllowedCIDRs != nil {
		b.cluster.Spec.APIServer = api
	}
}

func (b *builder) oidc(v val) {
	issuer, ok := v.get("issuerUrl").str()
	if !ok || issuer == "" {
		return
	}
	o := &v1.OIDC{IssuerURL: issuer}
	o.ClientID, _ = v.get("clientId").str()
	// The chart's defaults, written out: capiform's differ (none).
	o.UsernameClaim, o.UsernamePrefix, o.GroupsClaim, o.GroupsPrefix = "sub", "oidc:", "groups", "oidc:"
	for key, dst := range map[string]*string{"usernameClaim": &o.UsernameClaim, "usernamePrefix": &o.UsernamePrefix, "groupsClaim": &o.GroupsClaim, "groupsPrefix": &o.GroupsPrefix} {
		if s, ok := v.get(key).str(); ok {
			*dst = s
		}
	}
	if o.ClientID == "" {
		b.r.fail(v.get("clientId").pos(), "import.missing", "%s: OIDC needs a client ID", v.join("clientId"))
	}
	b.cluster.Spec.OIDC = o
}

func (b *builder) etcd(v val) {
	bd := v.get("blockDevice")
	if !bd.isMap() {
		return
	}
	size, ok := bd.get("size").integer()
	if !ok {
		return
	}
	if t, ok := bd.get("type").str(); ok && t != "Volume" {
		b.r.warn(bd.get("type").pos(), "import.left-out", "%s: etcd on local ephemeral storage (%s) is not supported: imported as a Cinder volume of %d GiB", bd.join("type"), t, size)
	}
	vol := &v1.Volume{SizeGiB: size}
	vol.Type, _ = bd.get("volumeType").str()
	vol.AvailabilityZone, _ = bd.get("availabilityZone").str()
	b.cluster.Spec.Etcd = etcdOn(vol)
}

func rootVolume(v val) *v1.Volume {
	size, ok := v.get("diskSize").integer()
	if !ok || size == 0 {
		return nil
	}
	vol := &v1.Volume{SizeGiB: size}
	vol.Type, _ = v.get("volumeType").str()
	vol.AvailabilityZone, _ = v.get("availabilityZone").str()
	return vol
}

func (b *builder) controlPlane(v val) {
	cp := &b.cluster.Spec.ControlPlane
	if f, ok := v.get("machineFlavor").str(); ok {
		cp.Flavor = f
		b.flavors = append(b.flavors, f)
	}
	n, ok := v.get("machineCount").integer()
	if !ok {
		n = defaultControlPlaneCount
	}
	cp.Replicas = ptr(n)
	cp.RootVolume = rootVolume(v.get("machineRootVolume"))
	if k, ok := v.get("kubernetesVersion").str(); ok && kubeVersion(k) != b.cluster.Spec.KubernetesVersion {
		b.cluster.Spec.KubernetesVersion = kubeVersion(k)
	}
	if hc, ok := v.at("healthCheck.enabled").boolean(); ok && !hc {
		b.cluster.Spec.Autohealing = ptr(false)
	}
}

// nodeGroups reads the groups, each over nodeGroupDefaults as the chart
// merges them.
func (b *builder) nodeGroups(defaults, groups val) {
	list := groups.items()
	if !groups.ok() && b.groupsElsewhere {
		return
	}
	if !groups.ok() {
		// The chart's default: one group md-0 of 3 machines.
		b.cluster.Spec.NodeGroups = []v1.NodeGroup{b.nodeGroup(defaults, val{d: defaults.d, path: "nodeGroups[0]"}, "md-0")}
		return
	}
	for _, g := range list {
		name, _ := g.get("name").str()
		b.cluster.Spec.NodeGroups = append(b.cluster.Spec.NodeGroups, b.nodeGroup(defaults, g, name))
	}
	if hc, ok := defaults.at("healthCheck.enabled").boolean(); ok && !hc {
		b.cluster.Spec.Autohealing = ptr(false)
	}
}

// first returns the group's own setting, else the default's.
func first(g, defaults val, key string) val {
	if v := g.get(key); v.ok() {
		defaults.get(key).use()
		return v
	}
	return defaults.get(key)
}

func (b *builder) nodeGroup(defaults, g val, name string) v1.NodeGroup {
	ng := v1.NodeGroup{Name: name}
	if name == "" {
		b.r.fail(g.pos(), "import.missing", "%s: a node group needs a name", g.path)
	}
	if f, ok := first(g, defaults, "machineFlavor").str(); ok {
		ng.Flavor = f
		b.flavors = append(b.flavors, f)
	} else {
		b.r.fail(g.pos(), "import.missing", "%s: node group %s has no machineFlavor, nor has nodeGroupDefaults", g.path, name)
	}
	autoscale, _ := first(g, defaults, "autoscale").boolean()
	if autoscale {
		lo, okLo := first(g, defaults, "machineCountMin").integer()
		hi, okHi := first(g, defaults, "machineCountMax").integer()
		if !okLo || !okHi {
			b.r.fail(g.pos(), "import.missing", "%s: node group %s autoscales but lacks machineCountMin or machineCountMax", g.path, name)
		}
		ng.Autoscale = &v1.Autoscale{Min: lo, Max: hi}
		first(g, defaults, "machineCount").use()
	} else {
		n, ok := first(g, defaults, "machineCount").integer()
		if !ok {
			n = defaultNodeGroupCount
		}
		ng.Replicas = ptr(n)
		first(g, defaults, "machineCountMin").use()
		first(g, defaults, "machineCountMax").use()
	}
	labels := map[string]string{}
	for k, v := range defaults.get("nodeLabels").stringMap() {
		labels[k] = v
	}
	for k, v := range g.get("nodeLabels").stringMap() {
		labels[k] = v
	}
	if len(labels) > 0 {
		ng.Labels = labels
	}
	if az, ok := first(g, defaults, "failureDomain").str(); ok {
		ng.AvailabilityZone = az
	}
	ng.RootVolume = rootVolume(first(g, defaults, "machineRootVolume"))
	if k, ok := g.get("kubernetesVersion").str(); ok {
		ng.KubernetesVersion = kubeVersion(k)
	}
	// Taints are kubeadm's: the one part of kubeadmConfigSpec capiform
	// expresses.
	taints := g.at("kubeadmConfigSpec.joinConfiguration.nodeRegistration.taints")
	for _, t := range taints.items() {
		key, _ := t.get("key").str()
		value, _ := t.get("value").str()
		effect, _ := t.get("effect").str()
		ng.Taints = append(ng.Taints, v1.Taint{Key: key, Value: value, Effect: effect})
	}
	if rs := first(g, defaults, "rolloutStrategy"); rs.isMap() {
		if t, _ := rs.get("type").peek(); t == "RollingUpdate" {
			rs.get("type").use()
		}
	}
	return ng
}

// addonDefaults are the cluster-addons chart's defaults for the addons
// that map onto a platform: a values file that is silent installs them.
var addonDefaults = map[string]bool{
	"enabled": true, "cni.enabled": true, "openstack.enabled": true, "metricsServer.enabled": true,
	"monitoring.enabled": false, "ingress.enabled": false, "ingress.nginx.enabled": false,
	"headlamp.enabled": false, "kubernetesDashboard.enabled": false,
	"nvidiaGPUOperator.enabled": true, "mellanoxNetworkOperator.enabled": true,
}

// addons maps the addons section onto platforms.
func (b *builder) addons(v val) {
	on := func(path string) bool {
		if x, ok := v.at(path).boolean(); ok {
			return x
		}
		return addonDefaults[path]
	}
	base := v1.PlatformRef{Name: "base"}
	if !on("enabled") {
		b.r.warn(v.get("enabled").pos(), "import.addons", "addons.enabled: false: capiform always installs the base platform (CNI, cloud controller, Cinder CSI, metrics-server); the hand-over installs them unless the cluster has them under the same release names")
	}
	if !on("cni.enabled") {
		b.r.warn(v.at("cni.enabled").pos(), "import.addons", "addons.cni.enabled: false: capiform always installs a CNI (base platform)")
	}
	if t, ok := v.at("cni.type").str(); ok {
		switch t {
		case "calico":
		case "cilium":
			base.Values = map[string]map[string]any{"cni": {"provider": "cilium"}}
		default:
			b.r.warn(v.at("cni.type").pos(), "import.addons", "addons.cni.type: %q is not a CNI of the base platform (calico, cilium): imported as calico", t)
		}
	}
	for _, path := range []string{"openstack.enabled", "openstack.ccm.enabled", "openstack.csiCinder.enabled", "metricsServer.enabled"} {
		if x, ok := v.at(path).boolean(); ok && !x {
			b.r.warn(v.at(path).pos(), "import.addons", "addons.%s: false: the base platform always installs the OpenStack cloud controller, Cinder CSI and metrics-server", path)
		}
	}
	platforms := []v1.PlatformRef{base}
	add := func(name string, paths ...string) {
		for _, p := range paths {
			if !on(p) {
				return
			}
		}
		platforms = append(platforms, v1.PlatformRef{Name: name})
	}
	add("monitoring", "monitoring.enabled")
	if on("ingress.enabled") {
		if on("ingress.nginx.enabled") {
			b.r.warn(v.get("ingress").pos(), "import.addons", "addons.ingress.nginx: imported as the ingress platform, whose controller is Traefik (ingress-nginx is retired upstream); to keep ingress-nginx, which policy warns about, give the platform values {ingress: {controller: ingress-nginx}}")
		}
		platforms = append(platforms, v1.PlatformRef{Name: "ingress"})
	}
	add("gpu", "nvidiaGPUOperator.enabled")
	add("network", "mellanoxNetworkOperator.enabled")
	if on("headlamp.enabled") || on("kubernetesDashboard.enabled") {
		if on("kubernetesDashboard.enabled") {
			b.r.warn(v.get("kubernetesDashboard").pos(), "import.addons", "addons.kubernetesDashboard: imported as the dashboard platform, which is Headlamp")
		}
		platforms = append(platforms, v1.PlatformRef{Name: "dashboard"})
	}
	// The settings read above, and the ones of addons that map to a
	// platform whole (their chart and release settings are the
	// platform's), are used; what else the section sets is left out.
	for _, path := range []string{"enabled", "cni.enabled", "cni.type", "openstack.enabled", "openstack.ccm.enabled", "openstack.csiCinder.enabled",
		"metricsServer.enabled", "monitoring.enabled", "ingress.enabled", "ingress.nginx.enabled", "ingress.traefik.enabled",
		"nvidiaGPUOperator.enabled", "mellanoxNetworkOperator.enabled", "headlamp.enabled", "kubernetesDashboard.enabled"} {
		v.at(path).use()
	}
	// An addon switched off is no setting to warn of.
	if v.isMap() {
		for i := 0; i+1 < len(v.n.Content); i += 2 {
			a := v.get(v.n.Content[i].Value)
			if x, ok := a.get("enabled").peek(); ok && x == "false" {
				a.use()
			}
		}
	}
	sort.SliceStable(platforms[1:], func(i, j int) bool { return platforms[1+i].Name < platforms[1+j].Name })
	b.cluster.Spec.Platforms = platforms
}

// nodeSettings maps registryMirrors and trustedCAs onto the cluster's
// spec.nodes; nil when there are none. A mirror's upstream that is not
// the registry's own server, or capabilities other than pull and resolve,
// cannot be expressed: each is a warning.
func (b *builder) nodeSettings(top val) *v1.NodeSettings {
	var n v1.NodeSettings
	mirrors := top.get("registryMirrors")
	for _, registry := range mirrors.keys() {
		e := mirrors.get(registry)
		var endpoints []string
		if e.isMap() {
			e.d.used[e.n] = true
			if up := e.get("upstream"); up.ok() {
				server := resolve.RegistryServer(registry)
				if v, ok := up.str(); ok && strings.TrimSuffix(v, "/") != server {
					if server == "" {
						server = "none for _default"
					}
					b.r.warn(up.pos(), "import.left-out", "%s: capiform's containerd falls back to the registry itself (%s) after the mirrors: left out", up.path, server)
				}
			}
			for _, m := range e.get("mirrors").items() {
				if m.isMap() {
					m.d.used[m.n] = true
					if u, ok := m.get("url").str(); ok && u != "" {
						endpoints = append(endpoints, u)
					}
					if caps := m.get("capabilities"); caps.ok() {
						got := caps.strings()
						if slices.Equal(slices.Sorted(slices.Values(got)), []string{"pull", "resolve"}) {
							continue
						}
						b.r.warn(caps.pos(), "import.left-out", "%s: capiform's mirrors pull and resolve (capabilities [pull, resolve]): left out", caps.path)
					}
				} else if u, ok := m.str(); ok && u != "" {
					endpoints = append(endpoints, u)
				}
			}
		} else {
			endpoints = e.strings()
		}
		if len(endpoints) > 0 {
			if n.Registries == nil {
				n.Registries = &v1.Registries{}
			}
			n.Registries.Mirrors = append(n.Registries.Mirrors, v1.RegistryMirror{Registry: registry, Endpoints: endpoints})
		}
	}
	cas := top.get("trustedCAs").stringMap()
	for _, name := range slices.Sorted(maps.Keys(cas)) {
		if strings.TrimSpace(cas[name]) != "" {
			n.TrustedCAs = append(n.TrustedCAs, v1.TrustedCA{Name: name, PEM: cas[name]})
		}
	}
	if n.Registries == nil && n.TrustedCAs == nil {
		return nil
	}
	return &n
}
