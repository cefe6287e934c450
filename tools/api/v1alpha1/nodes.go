package v1alpha1

// NodeSettings are how every machine of a cluster is set up before kubeadm
// runs: where it pulls images from, which certificate authorities it
// trusts, the proxy it reaches the outside through, and its kubelet. A
// site sets them for all its clusters (spec.nodes) and a cluster
// overrides them (spec.nodes), each part as its field says.
type NodeSettings struct {
	// Registries are registry mirrors and pull credentials.
	Registries *Registries `json:"registries,omitempty"`
	// TrustedCAs are certificate authorities every machine trusts (the
	// system store, so containerd, the kubelet and kubeadm too), on top of
	// the image's. A cluster's entry replaces the site's of the same name.
	TrustedCAs []TrustedCA `json:"trustedCAs,omitempty"`
	// Proxy is the HTTP(S) proxy of containerd, the kubelet and the
	// control plane components; the cluster's own networks are added to
	// its no-proxy list. A cluster's fields win over the site's one by one.
	Proxy *Proxy `json:"proxy,omitempty"`
	// Kubelet tunes the kubelet of every machine; a cluster's fields win
	// over the site's, a node group's (or the control plane's) over the
	// cluster's.
	Kubelet *Kubelet `json:"kubelet,omitempty"`
}

// SiteNodes are a site's node settings for its clusters and what the
// site allows its clusters to set.
type SiteNodes struct {
	NodeSettings
	// AllowHTTPMirrors lets registry mirrors be plain http:// (a mirror on
	// a trusted network without TLS); by default policy wants https.
	AllowHTTPMirrors bool `json:"allowHTTPMirrors,omitempty"`
	// AllowKubeadmPatches lets the site's clusters give kubeadm patches
	// (spec.kubeadmPatches), the escape hatch of the control plane
	// components; by default policy refuses them.
	AllowKubeadmPatches bool `json:"allowKubeadmPatches,omitempty"`
}

// Registries are registry mirrors and pull credentials.
type Registries struct {
	// Mirrors are, per registry, the mirrors containerd pulls from first
	// (a hosts.toml per registry). A cluster's entry for a registry
	// replaces the site's for that registry.
	Mirrors []RegistryMirror `json:"mirrors,omitempty"`
	// CredentialsSecret names a Secret of type
	// kubernetes.io/dockerconfigjson in the cluster's namespace on the
	// management cluster; its .dockerconfigjson becomes every machine's
	// kubelet credentials (/var/lib/kubelet/config.json), which the
	// kubelet presents for the registries it names. The cluster's wins.
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
	// ImageRepository is where kubeadm pulls the control plane images
	// from instead of registry.k8s.io (kubeadm's imageRepository). With a
	// mirror of registry.k8s.io it is not needed. The cluster's wins.
	ImageRepository string `json:"imageRepository,omitempty"`
}

// RegistryMirror lists the mirrors of one registry.
type RegistryMirror struct {
	// Registry is the registry's host (and port) as images name it, like
	// docker.io or registry.k8s.io; _default applies to every registry
	// without an entry of its own.
	Registry string `json:"registry"`
	// Endpoints are the mirrors' URLs, tried in order before the registry
	// itself. A URL with a path is the mirror's API root as it is (a
	// proxy cache project such as https://harbor.example.org/v2/dockerhub).
	Endpoints []string `json:"endpoints"`
}

// TrustedCA is one certificate authority (bundle) that every machine
// trusts. Give its PEM in the definition (certificates are public), or
// the Secret that holds it: Cluster API's bootstrap provider writes files
// only from Secrets, not from ConfigMaps.
type TrustedCA struct {
	// Name names the CA; it is the file's name on the machines.
	Name string `json:"name"`
	// PEM is the certificate(s), PEM-encoded.
	PEM string `json:"pem,omitempty"`
	// Secret is a Secret key, in the cluster's namespace on the
	// management cluster, that holds the PEM.
	Secret *SecretKeyRef `json:"secret,omitempty"`
}

// SecretKeyRef names one key of a Secret.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Proxy is an HTTP(S) proxy.
type Proxy struct {
	// HTTP is the proxy of http:// connections, like
	// http://proxy.example.org:3128. Never with credentials in it.
	HTTP string `json:"http,omitempty"`
	// HTTPS is the proxy of https:// connections.
	HTTPS string `json:"https,omitempty"`
	// NoProxy are hosts, domains (.example.org) and CIDRs reached
	// directly. The cluster's pod and service networks, its node network,
	// its service domain, localhost and the API server's endpoint are
	// added.
	NoProxy []string `json:"noProxy,omitempty"`
}

// Kubelet tunes the kubelet (its KubeletConfiguration).
type Kubelet struct {
	// SystemReserved is kept for the operating system.
	SystemReserved *Reserved `json:"systemReserved,omitempty"`
	// KubeReserved is kept for the kubelet and the container runtime.
	KubeReserved *Reserved `json:"kubeReserved,omitempty"`
	// EvictionHard are the kubelet's hard eviction thresholds by signal
	// (memory.available, nodefs.available, nodefs.inodesFree,
	// imagefs.available, imagefs.inodesFree, pid.available), each a
	// quantity like 500Mi or a percentage like 10%.
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
	// MaxPods is the most Pods the node runs.
	MaxPods *int `json:"maxPods,omitempty"`
	// ConfigPatch is a merge patch of the KubeletConfiguration for what
	// has no field here; kubeadm applies it after the fields above.
	ConfigPatch map[string]any `json:"configPatch,omitempty"`
}

// Reserved are resources kept from Pods.
type Reserved struct {
	// CPUMillis is CPU in thousandths of a core.
	CPUMillis *int `json:"cpuMillis,omitempty"`
	// MemoryMiB is memory in MiB.
	MemoryMiB *int `json:"memoryMiB,omitempty"`
	// EphemeralStorageGiB is local storage in GiB.
	EphemeralStorageGiB *int `json:"ephemeralStorageGiB,omitempty"`
}

// PodSecurity are the cluster-wide defaults of the Pod Security admission
// (its AdmissionConfiguration): the level each namespace without labels of
// its own is held to.
type PodSecurity struct {
	// Enforce refuses Pods above this level: privileged, baseline or
	// restricted.
	Enforce string `json:"enforce,omitempty"`
	// Audit records Pods above this level in the audit log.
	Audit string `json:"audit,omitempty"`
	// Warn warns the client of Pods above this level.
	Warn string `json:"warn,omitempty"`
	// ExemptNamespaces are namespaces the admission never judges.
	ExemptNamespaces []string `json:"exemptNamespaces,omitempty"`
}

// Audit turns on the API server's audit log on each control plane
// machine (/var/log/kubernetes/audit/audit.log, rotated).
type Audit struct {
	// Level is what every request records: Metadata (who did what to
	// which object, the default), Request or RequestResponse (with
	// bodies; Secrets, ConfigMaps and token reviews stay at Metadata so
	// that their content never reaches the log). Health checks and the
	// API server's own watches are not recorded.
	Level string `json:"level,omitempty"`
	// MaxAgeDays keeps rotated logs this many days; default 30.
	MaxAgeDays *int `json:"maxAgeDays,omitempty"`
	// MaxBackups keeps this many rotated logs; default 10.
	MaxBackups *int `json:"maxBackups,omitempty"`
	// MaxSizeMiB rotates the log at this size; default 100.
	MaxSizeMiB *int `json:"maxSizeMiB,omitempty"`
}

// EtcdEncryption encrypts Secrets at rest in etcd. The key never lives in
// git: it is a Secret in the cluster's namespace on the management
// cluster, which each control plane machine reads when it boots.
type EtcdEncryption struct {
	// Provider is the encryption: secretbox (XSalsa20-Poly1305, the
	// default) or aescbc.
	Provider string `json:"provider,omitempty"`
	// KeySecret holds the key: 32 random bytes, base64-encoded (head -c
	// 32 /dev/urandom | base64).
	KeySecret SecretKeyRef `json:"keySecret"`
}

// KubeadmPatch is one kubeadm patch (the escape hatch): a patch of a
// control plane component's static Pod or of the KubeletConfiguration,
// for what no typed field covers. The site must allow it
// (spec.nodes.allowKubeadmPatches).
type KubeadmPatch struct {
	// Target is kube-apiserver, kube-controller-manager, kube-scheduler,
	// etcd or kubeletconfiguration (the last on every machine, the others
	// on the control plane).
	Target string `json:"target"`
	// Type is strategic (the default), merge or json.
	Type string `json:"type,omitempty"`
	// Patch is the patch: an object, or a list of operations for json.
	Patch any `json:"patch"`
}
