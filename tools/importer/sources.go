package importer

import (
	"sort"
	"strings"

	v1 "github.com/capiform/capiform/tools/api/v1alpha1"
)

// helmRelease reads a Flux HelmRelease of the openstack-cluster chart:
// its chart version, its name and its inline values.
func (b *builder) helmRelease(d *doc) {
	top := d.top()
	spec := top.get("spec")
	chart := spec.at("chart.spec")
	name, _ := chart.get("chart").str()
	if name != "" && !strings.HasSuffix(name, "openstack-cluster") {
		b.r.fail(chart.get("chart").pos(), "import.chart", "%s: chart %q is not openstack-cluster of capi-helm-charts", chart.join("chart"), name)
		return
	}
	version, _ := chart.get("version").str()
	if spec.get("chartRef").ok() {
		b.r.fail(spec.get("chartRef").pos(), "import.chart-version", "spec.chartRef: the chart's version is not in the HelmRelease: import its values with --chart-version (helm get values)")
		return
	}
	if version == "" {
		b.r.fail(chart.pos(), "import.chart-version", "%s: the HelmRelease names no chart version: give --chart-version", chart.join("version"))
	} else {
		b.chartVersion(version, chart.get("version").pos(), chart.join("version"))
	}
	release, _ := spec.get("releaseName").str()
	if release == "" {
		release, _ = top.at("metadata.name").str()
	}
	b.nameFromOptions(d, release)
	if vf := spec.get("valuesFrom"); vf.ok() {
		b.r.warn(vf.pos(), "import.left-out", "spec.valuesFrom: values from ConfigMaps and Secrets are not in the file: merge them into spec.values (or import helm get values output) to have them imported")
		vf.use()
	}
	values := spec.get("values")
	if values.ok() {
		b.values(values)
		values.leftovers("import.left-out", func(p string) (string, bool) {
			return valuesReason(strings.TrimPrefix(p, "spec.values."))
		})
	}
	// The rest of a HelmRelease is Flux's, which capiform renders itself.
	top.use()
}

// labels are Magnum's labels: the cluster's own (which Magnum merges over
// the template's when it creates the cluster), else the template's.
type labels struct {
	b         *builder
	cl, tmpl  val
	clm, tmpm map[string]string
}

func (l *labels) get(key string) (string, val, bool) {
	if v, ok := l.clm[key]; ok {
		return v, l.cl.get(key), true
	}
	if v, ok := l.tmpm[key]; ok {
		return v, l.tmpl.get(key), true
	}
	return "", l.cl, false
}

func (l *labels) boolean(key string) (bool, bool) {
	s, v, ok := l.get(key)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	l.b.r.fail(v.pos(), "import.type", "%s: %q is not true or false", v.path, s)
	return false, false
}

func (l *labels) integer(key string) (int, bool) {
	_, v, ok := l.get(key)
	if !ok {
		return 0, false
	}
	return v.integer()
}

// labelMap reads a labels field: a JSON object, or the string form
// "{'k': 'v'}" or "k=v,k=v" older clients print.
func labelMap(v val) map[string]string {
	if !v.ok() {
		return nil
	}
	if v.isMap() {
		return v.stringMap()
	}
	s, _ := v.str()
	out := map[string]string{}
	s = strings.Trim(strings.TrimSpace(s), "{}")
	for _, kv := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			k, val, ok = strings.Cut(kv, ":")
		}
		if !ok {
			continue
		}
		out[strings.Trim(strings.TrimSpace(k), `'"`)] = strings.Trim(strings.TrimSpace(val), `'"`)
	}
	return out
}

// magnumServerState are fields of `openstack coe cluster (template) show`
// that are the server's record, not settings.
var magnumServerState = map[string]bool{
	"uuid": true, "created_at": true, "updated_at": true, "status": true, "status_reason": true, "health_status": true,
	"health_status_reason": true, "stack_id": true, "api_address": true, "coe_version": true, "container_version": true,
	"discovery_url": true, "master_addresses": true, "node_addresses": true, "faults": true, "project_id": true,
	"user_id": true, "cluster_template_id": true, "labels_overridden": true, "labels_added": true, "labels_skipped": true,
	"create_timeout": true, "public": true, "hidden": true, "tags": true, "coe": true, "server_type": true,
	"cluster_distro": true, "name": true, "id": true, "links": true, "master_lb_enabled": false, "apiserver_port": false,
	"registry_enabled": true, "insecure_registry": true, "tls_disabled": true, "driver": true,
}

// magnumLabelsUsed are the labels read below.
var magnumReasons = map[string]string{
	"docker_volume_size":      "no container volume: containerd uses the root disk",
	"docker_storage_driver":   "no container volume: containerd uses the root disk",
	"volume_driver":           "Cinder CSI is in the base platform",
	"http_proxy":              "capiform's chart configures no proxies on nodes",
	"https_proxy":             "capiform's chart configures no proxies on nodes",
	"no_proxy":                "capiform's chart configures no proxies on nodes",
	"floating_ip_enabled":     "nodes get no floating IPs in capiform (the API server's load balancer does)",
	"keystone_auth_enabled":   "capiform configures OIDC (spec.oidc) but no Keystone authentication webhook",
	"capi_helm_chart_version": "the chart is capiform's own (charts/openstack-cluster)",
	"octavia_provider":        "the Octavia provider is the cloud's default in capiform",
	"container_infra_prefix":  "capiform's chart configures no registry mirror",
}

// magnum reads a Magnum cluster template and a cluster.
func (b *builder) magnum(tmpl, cl *doc) {
	t, c := tmpl.top(), cl.top()
	name, _ := c.get("name").str()
	b.nameFromOptions(cl, strings.ToLower(name))
	if coe, _ := t.get("coe").peek(); coe != "kubernetes" {
		b.r.fail(t.get("coe").pos(), "import.kind", "coe: %q: only Kubernetes cluster templates can be imported", coe)
		return
	}
	l := &labels{b: b, cl: c.get("labels"), tmpl: t.get("labels")}
	l.clm, l.tmpm = labelMap(l.cl), labelMap(l.tmpl)
	// setting reads a field of the cluster, else of the template.
	setting := func(key string) (string, val, bool) {
		if s, ok := c.get(key).str(); ok && s != "" {
			t.get(key).use()
			return s, c.get(key), true
		}
		s, ok := t.get(key).str()
		return s, t.get(key), ok && s != ""
	}
	spec := &b.cluster.Spec
	site := &b.site.Spec
	if v, _, ok := l.get("kube_tag"); ok {
		spec.KubernetesVersion = kubeVersion(v)
	} else {
		b.r.fail(l.tmpl.pos(), "import.missing", "labels.kube_tag: neither the cluster nor its template sets the Kubernetes version")
	}
	if f, _, ok := setting("master_flavor_id"); ok {
		spec.ControlPlane.Flavor = f
		b.flavors = append(b.flavors, f)
	}
	if n, ok := c.get("master_count").integer(); ok {
		spec.ControlPlane.Replicas = ptr(n)
	}
	ng := v1.NodeGroup{Name: "default-worker"}
	if f, _, ok := setting("flavor_id"); ok {
		ng.Flavor = f
		b.flavors = append(b.flavors, f)
	} else {
		b.r.fail(c.pos(), "import.missing", "flavor_id: neither the cluster nor its template names the workers' flavor")
	}
	count, _ := c.get("node_count").integer()
	if on, _ := l.boolean("auto_scaling_enabled"); on {
		lo, okLo := l.integer("min_node_count")
		hi, okHi := l.integer("max_node_count")
		if !okLo {
			lo = 1
		}
		if !okHi {
			hi = count
			b.r.warn(l.cl.pos(), "import.autoscale", "labels.max_node_count: not set: the group autoscales up to node_count (%d); set a maximum", count)
		}
		ng.Autoscale = &v1.Autoscale{Min: lo, Max: hi}
	} else {
		ng.Replicas = ptr(count)
	}
	if az, _, ok := l.get("availability_zone"); ok {
		ng.AvailabilityZone = az
	}
	if size, ok := l.integer("boot_volume_size"); ok && size > 0 {
		typ, _, _ := l.get("boot_volume_type")
		spec.ControlPlane.RootVolume = &v1.Volume{SizeGiB: size, Type: typ}
		ng.RootVolume = &v1.Volume{SizeGiB: size, Type: typ}
	}
	if size, ok := l.integer("etcd_volume_size"); ok && size > 0 {
		typ, _, _ := l.get("etcd_volume_type")
		spec.Etcd = etcdOn(&v1.Volume{SizeGiB: size, Type: typ})
	}
	spec.NodeGroups = []v1.NodeGroup{ng}
	if k, _, ok := setting("keypair"); ok {
		spec.SSHKeyName = k
		t.get("keypair_id").use()
	} else if k, _, ok := setting("keypair_id"); ok {
		spec.SSHKeyName = k
	}
	// Settings that say what capiform does anyway are no settings to
	// warn of.
	for _, d := range []val{t, c} {
		if on, ok := d.get("floating_ip_enabled").peek(); ok && on == "false" {
			d.get("floating_ip_enabled").use()
		}
	}
	api := &v1.APIServer{}
	if lb, ok := c.get("master_lb_enabled").boolean(); ok && !lb {
		api.LoadBalancer = ptr(false)
		t.get("master_lb_enabled").use()
	} else if lb, ok := t.get("master_lb_enabled").boolean(); ok && !lb {
		api.LoadBalancer = ptr(false)
	}
	if fip, ok := l.boolean("master_lb_floating_ip_enabled"); ok && !fip {
		api.FloatingIP = ptr(false)
	}
	if cidrs, _, ok := l.get("api_master_lb_allowed_cidrs"); ok {
		api.AllowedCIDRs = splitList(cidrs)
	}
	if api.LoadBalancer != nil || api.FloatingIP != nil || api.AllowedCIDRs != nil {
		spec.APIServer = api
	}
	if n, v, ok := setting("fixed_network"); ok {
		spec.Network = &v1.Network{Existing: &v1.ExistingNetwork{Network: n}}
		if s, _, ok := setting("fixed_subnet"); ok {
			spec.Network.Existing.Subnet = s
		}
		_ = v
	}
	if ext, v, ok := setting("external_network_id"); ok {
		b.siteSetting(v, func(s string) { site.Cloud.ExternalNetworkID = s }, "spec.cloud.externalNetworkId")
		_ = ext
	}
	if dns, v, ok := setting("dns_nameserver"); ok {
		site.Cloud.DNSNameservers = splitList(dns)
		if b.opts.Site == "" {
			b.r.warn(v.pos(), "import.site", "dns_nameserver: a site setting in capiform (spec.cloud.dnsNameservers): import with --site or add it to the site")
		}
	}
	if img, v, ok := setting("image_id"); ok {
		b.images = append(b.images, v1.Image{KubernetesVersion: spec.KubernetesVersion, Name: img})
		if b.opts.Site == "" {
			b.r.warn(v.pos(), "import.site", "image_id: capiform takes the image from the site's catalogue: add {kubernetesVersion: %s, name: %s} to spec.images of the site (or import with --site)", spec.KubernetesVersion, img)
		}
	}
	base := v1.PlatformRef{Name: "base"}
	if nd, v, ok := setting("network_driver"); ok {
		switch nd {
		case "calico":
		case "cilium":
			base.Values = map[string]map[string]any{"cni": {"provider": "cilium"}}
		default:
			b.r.warn(v.pos(), "import.addons", "network_driver: %q is not a CNI of the base platform (calico, cilium): imported as calico", nd)
		}
	}
	spec.Platforms = []v1.PlatformRef{base}
	if on, _ := l.boolean("monitoring_enabled"); on {
		spec.Platforms = append(spec.Platforms, v1.PlatformRef{Name: "monitoring"})
	}
	if on, _ := l.boolean("kube_dashboard_enabled"); on {
		spec.Platforms = append(spec.Platforms, v1.PlatformRef{Name: "dashboard"})
		b.r.warn(l.cl.pos(), "import.addons", "labels.kube_dashboard_enabled: imported as the dashboard platform, which is Headlamp")
	}
	if ic, v, ok := l.get("ingress_controller"); ok && ic != "" {
		spec.Platforms = append(spec.Platforms, v1.PlatformRef{Name: "ingress"})
		if ic != "traefik" {
			b.r.warn(v.pos(), "import.addons", "labels.ingress_controller: %q: imported as the ingress platform, whose controller is Traefik (ingress-nginx is retired upstream; the platform keeps it only on request, values {ingress: {controller: ingress-nginx}})", ic)
		}
	}
	used := map[string]bool{"kube_tag": true, "auto_scaling_enabled": true, "min_node_count": true, "max_node_count": true,
		"availability_zone": true, "boot_volume_size": true, "boot_volume_type": true, "etcd_volume_size": true, "etcd_volume_type": true,
		"master_lb_floating_ip_enabled": true, "api_master_lb_allowed_cidrs": true, "monitoring_enabled": true,
		"kube_dashboard_enabled": true, "ingress_controller": true}
	// Cinder CSI is in the base platform.
	if on, ok := l.boolean("cinder_csi_enabled"); ok && on {
		used["cinder_csi_enabled"] = true
	}
	b.magnumLeftovers(l, used)
	for _, d := range []val{t, c} {
		if !d.isMap() {
			continue
		}
		for i := 0; i+1 < len(d.n.Content); i += 2 {
			key := d.n.Content[i].Value
			if key == "labels" || magnumServerState[key] {
				d.get(key).use()
			}
		}
		d.leftovers("import.left-out", func(p string) (string, bool) {
			r, ok := magnumReasons[p]
			return r, ok
		})
	}
}

// magnumLeftovers warns of each label that was not read, once, where the
// effective value comes from. Labels that say what the Heat driver
// installs and capiform decides itself are named with that reason.
func (b *builder) magnumLeftovers(l *labels, used map[string]bool) {
	keys := map[string]bool{}
	for k := range l.clm {
		keys[k] = true
	}
	for k := range l.tmpm {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if used[k] {
			continue
		}
		s, v, _ := l.get(k)
		reason := "capiform has no equivalent setting"
		if r, ok := magnumReasons[k]; ok {
			reason = r
		} else if strings.HasSuffix(k, "_tag") || strings.HasSuffix(k, "_enabled") || strings.HasSuffix(k, "_version") {
			reason = "capiform's chart and platforms pin their own components and versions"
		}
		b.r.warn(v.pos(), "import.left-out", "labels.%s=%s: %s: left out", k, s, reason)
	}
}

// azimuth reads an Azimuth Cluster and, when given, its ClusterTemplate,
// whose values are openstack-cluster values.
func (b *builder) azimuth(cl, tmpl *doc) {
	c := cl.top()
	spec := c.get("spec")
	name, _ := c.at("metadata.name").str()
	b.nameFromOptions(cl, name)
	tname, _ := spec.get("templateName").str()
	if tmpl != nil {
		t := tmpl.top()
		if n, _ := t.at("metadata.name").str(); n != tname {
			b.r.fail(spec.get("templateName").pos(), "import.template", "spec.templateName: %q, but the template given is %q", tname, n)
		}
		values := t.at("spec.values")
		b.groupsElsewhere = spec.get("nodeGroups").ok()
		b.values(values)
		values.leftovers("import.left-out", func(p string) (string, bool) {
			return valuesReason(strings.TrimPrefix(p, "spec.values."))
		})
		t.use()
	} else if b.opts.KubernetesVersion != "" {
		b.cluster.Spec.KubernetesVersion = kubeVersion(b.opts.KubernetesVersion)
		b.r.warn(spec.get("templateName").pos(), "import.template", "spec.templateName: %s not given: only the Kubernetes version (--kubernetes-version) is taken from it; give the template (kubectl get clustertemplate %s -o yaml) to import its values", tname, tname)
	} else {
		b.r.fail(spec.get("templateName").pos(), "import.template", "spec.templateName: the template %q holds the Kubernetes version: give it as a second file (kubectl get clustertemplate %s -o yaml), or --kubernetes-version", tname, tname)
	}
	s := &b.cluster.Spec
	b.siteSetting(spec.get("cloudCredentialsSecretName"), func(v string) { b.site.Spec.Cloud.CredentialsSecret = v }, "spec.cloud.credentialsSecret")
	if f, ok := spec.get("controlPlaneMachineSize").str(); ok {
		s.ControlPlane.Flavor = f
		b.flavors = append(b.flavors, f)
	}
	if n, ok := spec.get("controlPlaneMachineCount").integer(); ok {
		s.ControlPlane.Replicas = ptr(n)
	}
	if n, ok := spec.get("controlPlaneEtcdVolumeSize").integer(); ok {
		s.Etcd = etcdOn(&v1.Volume{SizeGiB: n})
	}
	if a, ok := spec.get("autohealing").boolean(); ok && !a {
		s.Autohealing = ptr(false)
	} else if ok {
		s.Autohealing = nil
	}
	if groups := spec.get("nodeGroups"); groups.ok() {
		s.NodeGroups = nil
		for _, g := range groups.items() {
			ng := v1.NodeGroup{}
			ng.Name, _ = g.get("name").str()
			ng.Flavor, _ = g.get("machineSize").str()
			b.flavors = append(b.flavors, ng.Flavor)
			if auto, _ := g.get("autoscale").boolean(); auto {
				lo, _ := g.get("minCount").integer()
				hi, _ := g.get("maxCount").integer()
				ng.Autoscale = &v1.Autoscale{Min: lo, Max: hi}
				g.get("count").use()
			} else {
				n, _ := g.get("count").integer()
				ng.Replicas = ptr(n)
				g.get("minCount").use()
				g.get("maxCount").use()
			}
			s.NodeGroups = append(s.NodeGroups, ng)
		}
	}
	addons := spec.get("addons")
	have := map[string]bool{}
	for _, p := range s.Platforms {
		have[p.Name] = true
	}
	for key, platform := range map[string]string{"dashboard": "dashboard", "ingress": "ingress", "monitoring": "monitoring"} {
		if on, ok := addons.get(key).boolean(); ok && on && !have[platform] {
			s.Platforms = append(s.Platforms, v1.PlatformRef{Name: platform})
		}
	}
	if len(s.Platforms) > 1 {
		rest := s.Platforms[1:]
		sort.SliceStable(rest, func(i, j int) bool { return rest[i].Name < rest[j].Name })
	}
	for _, key := range []string{"label", "createdByUsername", "createdByUserId", "updatedByUsername", "updatedByUserId"} {
		spec.get(key).use()
	}
	for _, key := range []string{"apiVersion", "kind", "metadata", "status"} {
		c.get(key).use()
	}
	spec.leftovers("import.left-out", func(p string) (string, bool) {
		switch p {
		case "spec.paused":
			return "Flux suspends a HelmRelease (flux suspend helmrelease); capiform has no paused definition", true
		case "spec.zenithIdentityRealmName", "spec.leaseName":
			return "Zenith and Blazar leases are Azimuth's; capiform has none", true
		case "spec.addons.ingressControllerLoadBalancerIp":
			return "give it as a value of the ingress platform's ingress component (service.spec.loadBalancerIP for Traefik)", true
		case "spec.addons.monitoringPrometheusVolumeSize", "spec.addons.monitoringLokiVolumeSize", "spec.addons.monitoringAlertmanagerVolumeSize":
			return "give it as a value of the monitoring platform's components", true
		}
		return "", false
	})
}
