package pipeline_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/internal/testrepo"
)

// testCA is a public test CA certificate (PEM); only its form matters here.
const testCA = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUQ2FwaWZvcm0gdGVzdCBDQSBvbmx5MAoGCCqGSM49BAMC
-----END CERTIFICATE-----
`

// fileOf is the files[] entry of a KubeadmConfigSpec at path, or nil.
func fileOf(o *unstructured.Unstructured, specPath, path string) map[string]any {
	files, _ := get(o, specPath+".files")
	l, _ := files.([]any)
	for _, f := range l {
		if m, ok := f.(map[string]any); ok && m["path"] == path {
			return m
		}
	}
	return nil
}

// TestNodeSettingsLand maps the node settings (spec.nodes of a site and of
// a cluster: registries, trusted CAs, proxy) to where they land in the
// expanded objects: the control plane's KubeadmConfigSpec and every node
// group's KubeadmConfigTemplate alike.
func TestNodeSettingsLand(t *testing.T) {
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join("testdata", "fleet"), dir); err != nil {
		t.Fatal(err)
	}
	const (
		kcp = "spec.kubeadmConfigSpec"
		kct = "spec.template.spec"
	)
	siteNodes := func(s *v1alpha1.SiteSpec) {
		s.Nodes = &v1alpha1.SiteNodes{NodeSettings: v1alpha1.NodeSettings{
			Registries: &v1alpha1.Registries{
				Mirrors: []v1alpha1.RegistryMirror{
					{Registry: "docker.io", Endpoints: []string{"https://mirror.example.org", "https://harbor.example.org/v2/dockerhub"}},
					{Registry: "registry.k8s.io", Endpoints: []string{"https://mirror.example.org"}},
				},
				CredentialsSecret: "site-pull",
			},
			TrustedCAs: []v1alpha1.TrustedCA{
				{Name: "corp-root", PEM: testCA},
				{Name: "lab-root", Secret: &v1alpha1.SecretKeyRef{Name: "lab-ca", Key: "ca.crt"}},
			},
			Proxy: &v1alpha1.Proxy{HTTP: "http://proxy.example.org:3128", HTTPS: "http://proxy.example.org:3128", NoProxy: []string{".example.org"}},
		}}
	}
	const noProxy = ".example.org,localhost,127.0.0.1,::1,169.254.169.254,10.100.0.0/16,10.101.0.0/16,10.102.0.0/24,.svc,cluster.local"
	type where struct {
		kind, name, path string
		want             any // nil: the path must be absent
	}
	type fileWant struct {
		kind, name, spec, path string
		field                  string // content, contentFrom.secret.name, permissions...
		want                   any    // nil: the file must be absent
	}
	tests := []struct {
		field  string
		change func(*v1alpha1.SiteSpec, *v1alpha1.ClusterSpec)
		files  []fileWant
		paths  []where
	}{
		{"site nodes.registries.mirrors -> one hosts.toml per registry on every machine", func(s *v1alpha1.SiteSpec, _ *v1alpha1.ClusterSpec) { siteNodes(s) }, []fileWant{
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/containerd/certs.d/docker.io/hosts.toml", "content",
				"# The mirrors of docker.io, tried in order before it.\nserver = \"https://registry-1.docker.io\"\n\n[host.\"https://mirror.example.org\"]\n  capabilities = [\"pull\", \"resolve\"]\n\n[host.\"https://harbor.example.org/v2/dockerhub\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n"},
			{"KubeadmConfigTemplate", "lagging-gpu-*", kct, "/etc/containerd/certs.d/registry.k8s.io/hosts.toml", "content",
				"# The mirrors of registry.k8s.io, tried in order before it.\nserver = \"https://registry.k8s.io\"\n\n[host.\"https://mirror.example.org\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/containerd/certs.d/docker.io/hosts.toml", "permissions", "0644"},
		}, nil},
		{"site nodes.registries.credentialsSecret -> the kubelet's config.json from the Secret", func(s *v1alpha1.SiteSpec, _ *v1alpha1.ClusterSpec) { siteNodes(s) }, []fileWant{
			{"KubeadmConfigTemplate", "lagging-old-*", kct, "/var/lib/kubelet/config.json", "contentFrom", map[string]any{"secret": map[string]any{"name": "site-pull", "key": ".dockerconfigjson"}}},
			{"KubeadmConfigTemplate", "lagging-old-*", kct, "/var/lib/kubelet/config.json", "permissions", "0600"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/var/lib/kubelet/config.json", "contentFrom", map[string]any{"secret": map[string]any{"name": "site-pull", "key": ".dockerconfigjson"}}},
		}, nil},
		{"site nodes.trustedCAs -> system trust store, from the definition or a Secret; containerd restarted", func(s *v1alpha1.SiteSpec, _ *v1alpha1.ClusterSpec) { siteNodes(s) }, []fileWant{
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/usr/local/share/ca-certificates/corp-root.crt", "content", testCA},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/usr/local/share/ca-certificates/lab-root.crt", "contentFrom", map[string]any{"secret": map[string]any{"name": "lab-ca", "key": "ca.crt"}}},
		}, []where{
			{"KubeadmConfigTemplate", "lagging-new-*", kct + ".preKubeadmCommands[0]", "if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates; else cp /usr/local/share/ca-certificates/*.crt /etc/pki/ca-trust/source/anchors/ && update-ca-trust extract; fi"},
			{"KubeadmConfigTemplate", "lagging-new-*", kct + ".preKubeadmCommands[3]", "systemctl restart containerd"},
		}},
		{"site nodes.proxy -> containerd, kubelet, control plane components; the cluster's networks in no-proxy", func(s *v1alpha1.SiteSpec, _ *v1alpha1.ClusterSpec) { siteNodes(s) }, []fileWant{
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/systemd/system/containerd.service.d/http-proxy.conf", "content",
				"[Service]\nEnvironment=\"HTTPS_PROXY=http://proxy.example.org:3128\"\nEnvironment=\"HTTP_PROXY=http://proxy.example.org:3128\"\nEnvironment=\"NO_PROXY=" + noProxy + "\"\nEnvironment=\"http_proxy=http://proxy.example.org:3128\"\nEnvironment=\"https_proxy=http://proxy.example.org:3128\"\nEnvironment=\"no_proxy=" + noProxy + "\"\n"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/systemd/system/kubelet.service.d/http-proxy.conf", "permissions", "0644"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/environment", "append", true},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/usr/local/sbin/capiform-no-proxy-endpoint", "permissions", "0755"},
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.apiServer.extraEnvs[2]", map[string]any{"name": "NO_PROXY", "value": noProxy}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.controllerManager.extraEnvs[0]", map[string]any{"name": "HTTP_PROXY", "value": "http://proxy.example.org:3128"}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.scheduler.extraEnvs[1]", map[string]any{"name": "HTTPS_PROXY", "value": "http://proxy.example.org:3128"}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".preKubeadmCommands[1]", "/usr/local/sbin/capiform-no-proxy-endpoint"},
			// The generated commands stay, after the node settings'.
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".preKubeadmCommands[4]", "if [ -f /run/kubeadm/kubeadm.yaml ]; then cat /run/kubeadm/kube-proxy-configuration.yaml >> /run/kubeadm/kubeadm.yaml; fi"},
		}},
		{"cluster nodes over the site's: a registry's mirrors, a CA by name, proxy fields, credentials", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			siteNodes(s)
			c.Nodes = &v1alpha1.NodeSettings{
				Registries: &v1alpha1.Registries{
					Mirrors:           []v1alpha1.RegistryMirror{{Registry: "docker.io", Endpoints: []string{"https://own.example.org"}}},
					CredentialsSecret: "own-pull",
					ImageRepository:   "own.example.org/k8s",
				},
				TrustedCAs: []v1alpha1.TrustedCA{{Name: "lab-root", PEM: testCA}},
				Proxy:      &v1alpha1.Proxy{HTTPS: "http://secure-proxy.example.org:3128", NoProxy: []string{"10.0.0.0/8"}},
			}
		}, []fileWant{
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/containerd/certs.d/docker.io/hosts.toml", "content",
				"# The mirrors of docker.io, tried in order before it.\nserver = \"https://registry-1.docker.io\"\n\n[host.\"https://own.example.org\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/containerd/certs.d/registry.k8s.io/hosts.toml", "permissions", "0644"},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/var/lib/kubelet/config.json", "contentFrom", map[string]any{"secret": map[string]any{"name": "own-pull", "key": ".dockerconfigjson"}}},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/usr/local/share/ca-certificates/lab-root.crt", "content", testCA},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/usr/local/share/ca-certificates/corp-root.crt", "content", testCA},
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.imageRepository", "own.example.org/k8s"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.apiServer.extraEnvs[0]", map[string]any{"name": "HTTP_PROXY", "value": "http://proxy.example.org:3128"}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.apiServer.extraEnvs[1]", map[string]any{"name": "HTTPS_PROXY", "value": "http://secure-proxy.example.org:3128"}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.apiServer.extraEnvs[2].value", "10.0.0.0/8,localhost,127.0.0.1,::1,169.254.169.254,10.100.0.0/16,10.101.0.0/16,10.102.0.0/24,.svc,cluster.local"},
		}},
		{"kubelet: site, cluster, then the group's own -> a KubeletConfiguration merge patch in kubeadm's patches folder", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.Nodes = &v1alpha1.SiteNodes{NodeSettings: v1alpha1.NodeSettings{Kubelet: &v1alpha1.Kubelet{
				SystemReserved: &v1alpha1.Reserved{CPUMillis: ptr(500), MemoryMiB: ptr(1024)},
				EvictionHard:   map[string]string{"memory.available": "200Mi"},
			}}}
			c.Nodes = &v1alpha1.NodeSettings{Kubelet: &v1alpha1.Kubelet{MaxPods: ptr(60), ConfigPatch: map[string]any{"serializeImagePulls": false}}}
			c.NodeGroups[1].Kubelet = &v1alpha1.Kubelet{
				SystemReserved: &v1alpha1.Reserved{MemoryMiB: ptr(512)},
				KubeReserved:   &v1alpha1.Reserved{EphemeralStorageGiB: ptr(5)},
				EvictionHard:   map[string]string{"nodefs.available": "10%"},
			}
		}, []fileWant{
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/kubernetes/patches/kubeletconfiguration0+merge.yaml", "content",
				"evictionHard:\n  memory.available: 200Mi\n  nodefs.available: 10%\nkubeReserved:\n  ephemeral-storage: 5Gi\nmaxPods: 60\nserializeImagePulls: false\nsystemReserved:\n  cpu: 500m\n  memory: 512Mi"},
			{"KubeadmConfigTemplate", "lagging-old-*", kct, "/etc/kubernetes/patches/kubeletconfiguration0+merge.yaml", "content",
				"evictionHard:\n  memory.available: 200Mi\nmaxPods: 60\nserializeImagePulls: false\nsystemReserved:\n  cpu: 500m\n  memory: 1024Mi"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/kubernetes/patches/kubeletconfiguration0+merge.yaml", "permissions", "0644"},
		}, []where{
			{"KubeadmConfigTemplate", "lagging-new-*", kct + ".joinConfiguration.patches.directory", "/etc/kubernetes/patches"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".initConfiguration.patches.directory", "/etc/kubernetes/patches"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".joinConfiguration.patches.directory", "/etc/kubernetes/patches"},
		}},
		{"controlPlane.labels -> machine template labels; controlPlane.taints -> after kubeadm's own", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.ControlPlane.Labels = map[string]string{"node-role.kubernetes.io/infra": ""}
			c.ControlPlane.Taints = []v1alpha1.Taint{{Key: "dedicated", Value: "infra", Effect: "NoSchedule"}}
		}, nil, []where{
			{"KubeadmControlPlane", "lagging-control-plane", `spec.machineTemplate.metadata.labels."node-role.kubernetes.io/infra"`, ""},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".initConfiguration.nodeRegistration.taints", []any{
				map[string]any{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
				map[string]any{"key": "dedicated", "value": "infra", "effect": "NoSchedule"},
			}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".joinConfiguration.nodeRegistration.taints[1].key", "dedicated"},
		}},
		{"apiServer.podSecurity, apiServer.audit, etcd.encryption -> the API server's files, arguments and volumes", func(_ *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			c.APIServer.PodSecurity = &v1alpha1.PodSecurity{Enforce: "baseline", ExemptNamespaces: []string{"kube-system"}}
			c.APIServer.Audit = &v1alpha1.Audit{MaxAgeDays: ptr(7)}
			c.Etcd = &v1alpha1.Etcd{Encryption: &v1alpha1.EtcdEncryption{KeySecret: v1alpha1.SecretKeyRef{Name: "lagging-etcd-key", Key: "key"}}}
		}, []fileWant{
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/kubernetes/admission/admission.yaml", "content",
				"apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n  - name: PodSecurity\n    configuration:\n      apiVersion: pod-security.admission.config.k8s.io/v1\n      kind: PodSecurityConfiguration\n      defaults:\n        enforce: \"baseline\"\n        enforce-version: latest\n      exemptions:\n        namespaces: [\"kube-system\"]\n"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/kubernetes/encryption/key", "contentFrom", map[string]any{"secret": map[string]any{"name": "lagging-etcd-key", "key": "key"}}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/kubernetes/audit/policy.yaml", "permissions", "0644"},
			// Workers have none of it.
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/kubernetes/encryption/key", "path", nil},
		}, []where{
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.apiServer.extraArgs", []any{
				map[string]any{"name": "admission-control-config-file", "value": "/etc/kubernetes/admission/admission.yaml"},
				map[string]any{"name": "audit-policy-file", "value": "/etc/kubernetes/audit/policy.yaml"},
				map[string]any{"name": "audit-log-path", "value": "/var/log/kubernetes/audit/audit.log"},
				map[string]any{"name": "audit-log-maxage", "value": "7"},
				map[string]any{"name": "audit-log-maxbackup", "value": "10"},
				map[string]any{"name": "audit-log-maxsize", "value": "100"},
				map[string]any{"name": "encryption-provider-config", "value": "/etc/kubernetes/encryption/config.yaml"},
			}},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.apiServer.extraVolumes[2].hostPath", "/var/log/kubernetes/audit"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".preKubeadmCommands[0]", "/usr/local/sbin/capiform-encryption-config"},
			{"KubeadmConfigTemplate", "lagging-new-*", kct + ".preKubeadmCommands", nil},
		}},
		{"kubeadmPatches -> kubeadm's patches folder: control plane components on the control plane, the kubelet's everywhere", func(s *v1alpha1.SiteSpec, c *v1alpha1.ClusterSpec) {
			s.Nodes = &v1alpha1.SiteNodes{AllowKubeadmPatches: true}
			c.KubeadmPatches = []v1alpha1.KubeadmPatch{
				{Target: "kube-apiserver", Patch: map[string]any{"spec": map[string]any{"priorityClassName": "system-node-critical"}}},
				{Target: "kubeletconfiguration", Type: "json", Patch: []any{map[string]any{"op": "add", "path": "/shutdownGracePeriod", "value": "60s"}}},
			}
		}, []fileWant{
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/kubernetes/patches/kube-apiserver100+strategic.yaml", "content", "spec:\n  priorityClassName: system-node-critical\n"},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/kubernetes/patches/kubeletconfiguration101+json.json", "content", `[{"op":"add","path":"/shutdownGracePeriod","value":"60s"}]`},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/kubernetes/patches/kubeletconfiguration101+json.json", "content", `[{"op":"add","path":"/shutdownGracePeriod","value":"60s"}]`},
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/kubernetes/patches/kube-apiserver100+strategic.yaml", "path", nil},
		}, []where{
			{"KubeadmConfigTemplate", "lagging-new-*", kct + ".joinConfiguration.patches.directory", "/etc/kubernetes/patches"},
		}},
		{"no node settings -> no files, no commands, no environment of them", func(*v1alpha1.SiteSpec, *v1alpha1.ClusterSpec) {}, []fileWant{
			{"KubeadmConfigTemplate", "lagging-new-*", kct, "/etc/containerd/certs.d/docker.io/hosts.toml", "path", nil},
			{"KubeadmControlPlane", "lagging-control-plane", kcp, "/etc/environment", "path", nil},
		}, []where{
			{"KubeadmConfigTemplate", "lagging-new-*", kct + ".files", nil},
			{"KubeadmConfigTemplate", "lagging-new-*", kct + ".preKubeadmCommands", nil},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.apiServer", nil},
			{"KubeadmControlPlane", "lagging-control-plane", kcp + ".clusterConfiguration.imageRepository", nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			objs := expandWith(t, dir, tt.change)
			for _, w := range tt.files {
				o := find(objs, w.kind, w.name)
				if o == nil {
					t.Errorf("no %s %s among the expanded objects", w.kind, w.name)
					continue
				}
				f := fileOf(o, w.spec, w.path)
				if w.want == nil {
					if f != nil {
						t.Errorf("%s %s: file %s is there, want it absent", w.kind, o.GetName(), w.path)
					}
					continue
				}
				if f == nil {
					t.Errorf("%s %s: no file %s", w.kind, o.GetName(), w.path)
					continue
				}
				if got := f[w.field]; !reflect.DeepEqual(got, w.want) {
					t.Errorf("%s %s: file %s %s = %#v, want %#v", w.kind, o.GetName(), w.path, w.field, got, w.want)
				}
			}
			for _, w := range tt.paths {
				o := find(objs, w.kind, w.name)
				got, ok := get(o, w.path)
				if w.want == nil {
					if ok {
						t.Errorf("%s %s: %s = %v, want it absent", w.kind, w.name, w.path, got)
					}
					continue
				}
				if !ok || !(reflect.DeepEqual(got, w.want) || fmt.Sprintf("%v", got) == fmt.Sprintf("%v", w.want)) {
					t.Errorf("%s %s: %s = %#v, want %#v", w.kind, w.name, w.path, got, w.want)
				}
			}
		})
	}
}
