package diff

import (
	"strings"
	"testing"
)

// TestScenarioNodeSettings classifies a change of each node setting
// (registry mirrors and credentials, trusted CAs, the proxy): each is in
// the bootstrap data of every machine (the KubeadmControlPlane's
// kubeadmConfigSpec, a new KubeadmConfigTemplate per node group), so the
// control plane and every node group roll; a cluster's setting rolls
// only that cluster.
func TestScenarioNodeSettings(t *testing.T) {
	t.Parallel()
	const (
		site = "clusters/s1/site.yaml"
		app  = "clusters/s1/app.yaml"
	)
	const ca = `-----BEGIN CERTIFICATE-----
          MIIB7zCCAZWgAwIBAgIUU9ntsccn7V1G5cgxORbt3U+UZxowCgYIKoZIzj0EAwIw
          RTEZMBcGA1UECgwQY2FwaWZvcm0gZXhhbXBsZTEoMCYGA1UEAwwfY2FwaWZvcm0g
          ZXhhbXBsZSBDQSAodGVzdCBvbmx5KTAeFw0yNjExMzAwNzE0MzlaFw0zNjExMjcw
          NzE0MzlaMEUxGTAXBgNVBAoMEGNhcGlmb3JtIGV4YW1wbGUxKDAmBgNVBAMMH2Nh
          cGlmb3JtIGV4YW1wbGUgQ0EgKHRlc3Qgb25seSkwWTATBgcqhkjOPQIBBggqhkjO
          PQMBBwNCAATnbzy/utDk4J786ooTCQqA388zi6/eT6tGAh/ypo/9OEnyzgnOJdlt
          38KCBhrtsWqtFO9f4Bw5H9X17XKbaCl2o2MwYTAdBgNVHQ4EFgQUggDuJJAL06Pt
          x2ocmm1J0Ba4uA4wHwYDVR0jBBgwFoAUggDuJJAL06Ptx2ocmm1J0Ba4uA4wDwYD
          VR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSAAwRQIh
          APA8q6nhfRdY52z+BKQlRQpECMCy5Ddhb4Zr0B9sE6WZAiBRneOXBVoBAUejS+mJ
          mmYEb7Qo2JTlKSNbLmTeO6X83A==
          -----END CERTIFICATE-----
`
	for _, tc := range []struct {
		name string
		edit func(r *testRepo)
		// rolls are the clusters whose control plane and every node group
		// roll; the others are untouched.
		rolls []string
	}{{
		name: "site registry mirrors and credentials",
		edit: func(r *testRepo) {
			r.edit(site, "  git:\n", "  nodes:\n    registries:\n      mirrors: [{registry: docker.io, endpoints: [https://mirror.example.org]}]\n      credentialsSecret: s1-pull\n  git:\n")
		},
		rolls: []string{"app", "mgmt"},
	}, {
		name: "cluster trusted CA",
		edit: func(r *testRepo) {
			r.write(app, r.read(app)+"  nodes:\n    trustedCAs:\n      - name: corp\n        pem: |\n          "+ca)
		},
		rolls: []string{"app"},
	}, {
		// The cloud's CA from the credentials, on every machine of the site.
		name: "site private cloud CA",
		edit: func(r *testRepo) {
			r.edit(site, "    availabilityZones: [nova]\n", "    availabilityZones: [nova]\n    privateCA: true\n")
		},
		rolls: []string{"app", "mgmt"},
	}, {
		name: "cluster proxy",
		edit: func(r *testRepo) {
			r.write(app, r.read(app)+"  nodes:\n    proxy: {http: http://proxy.example.org:3128, noProxy: [.example.org]}\n")
		},
		rolls: []string{"app"},
	}, {
		name: "site kubeadm image repository: the control plane alone",
		edit: func(r *testRepo) {
			r.edit(site, "  git:\n", "  nodes:\n    registries: {imageRepository: mirror.example.org/k8s}\n  git:\n")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRepo(t)
			tc.edit(r)
			r.commit(tc.name)
			rep := r.mustDiff()
			for _, name := range []string{"app", "mgmt"} {
				c := &ClusterReport{}
				for _, cr := range rep.Clusters {
					if cr.Site == "s1" && cr.Cluster == name {
						c = cr
					}
				}
				want := false
				for _, n := range tc.rolls {
					want = want || n == name
				}
				if tc.rolls == nil {
					// The image repository is only in the control plane's
					// ClusterConfiguration, which Cluster API compares.
					if c.ControlPlane == nil || !c.ControlPlane.Replace {
						t.Errorf("%s: control plane does not roll: %+v", name, c.ControlPlane)
					}
					if len(c.NodeGroups) != 0 {
						t.Errorf("%s: node groups touched: %+v", name, c.NodeGroups)
					}
					continue
				}
				if got := c.ControlPlane != nil && c.ControlPlane.Replace; got != want {
					t.Errorf("%s: control plane rolls = %v, want %v:\n%s", name, got, want, textOf(t, rep))
				}
				rolled := 0
				for _, g := range c.NodeGroups {
					if g.Replace {
						rolled++
					}
				}
				groups := map[string]int{"app": 3, "mgmt": 1}[name]
				if !want {
					groups = 0
				}
				if rolled != groups || len(c.NodeGroups) != groups {
					t.Errorf("%s: %d of %d node groups roll, want %d:\n%s", name, rolled, len(c.NodeGroups), groups, textOf(t, rep))
				}
			}
			if out := textOf(t, rep); tc.rolls != nil && !strings.Contains(out, "rolls") {
				t.Errorf("the report does not say the machines roll:\n%s", out)
			}
		})
	}
}

// TestScenarioKubeadmSettings classifies the kubelet and kubeadm settings:
// a group's kubelet rolls that group alone, the control plane's taints,
// Pod Security defaults, audit log and encryption roll the control plane
// alone, and its labels change in place (Cluster API propagates machine
// template labels without a rollout).
func TestScenarioKubeadmSettings(t *testing.T) {
	t.Parallel()
	const app = "clusters/s1/app.yaml"
	for _, tc := range []struct {
		name       string
		edit       func(r *testRepo)
		cpRolls    bool
		cpInPlace  bool
		groupRolls []string
	}{{
		name: "a node group's kubelet",
		edit: func(r *testRepo) {
			r.edit(app, "      replicas: 2\n", "      replicas: 2\n      kubelet: {maxPods: 60, systemReserved: {memoryMiB: 1024}}\n")
		},
		groupRolls: []string{"big"},
	}, {
		name: "control plane taints",
		edit: func(r *testRepo) {
			r.edit(app, "    replicas: 3\n  nodeGroups:", "    replicas: 3\n    taints: [{key: dedicated, value: infra, effect: NoSchedule}]\n  nodeGroups:")
		},
		cpRolls: true,
	}, {
		name: "control plane labels",
		edit: func(r *testRepo) {
			r.edit(app, "    replicas: 3\n  nodeGroups:", "    replicas: 3\n    labels: {node-role.kubernetes.io/infra: \"\"}\n  nodeGroups:")
		},
		cpInPlace: true,
	}, {
		name: "Pod Security defaults, audit log and encryption at rest",
		edit: func(r *testRepo) {
			r.write(app, r.read(app)+"  apiServer:\n    podSecurity: {enforce: baseline}\n    audit: {level: Metadata}\n  etcd:\n    encryption: {keySecret: {name: app-etcd-key, key: key}}\n")
		},
		cpRolls: true,
	}, {
		// The site's defaults reach every cluster that does not say
		// otherwise: app's control plane rolls as if it had set them.
		name: "the site's Pod Security, audit and encryption defaults",
		edit: func(r *testRepo) {
			r.edit("clusters/s1/site.yaml", "\nspec:\n", "\nspec:\n  clusterDefaults:\n    podSecurity: {enforce: baseline}\n    audit: {level: Metadata}\n    encryption: {keySecret: {name: etcd-key, key: key}}\n")
		},
		cpRolls: true,
	}, {
		// kubeadm init skips kube-proxy and the KubeProxyConfiguration
		// file goes: the KubeadmConfigSpec changes, so Cluster API's
		// up-to-date check replaces the control plane machines (which
		// never run kubeadm init again: the DaemonSet of a running
		// cluster stays until it is deleted by hand).
		name: "Cilium replaces kube-proxy",
		edit: func(r *testRepo) {
			r.edit(app, "  nodeGroups:\n", "  platforms:\n    - name: base\n      values: {cni: {provider: cilium, kubeProxyReplacement: true}}\n  nodeGroups:\n")
		},
		cpRolls: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRepo(t)
			tc.edit(r)
			r.commit(tc.name)
			rep := r.mustDiff()
			c := cluster(t, rep, "s1", "app")
			cp := c.ControlPlane
			if got := cp != nil && cp.Replace; got != tc.cpRolls {
				t.Errorf("control plane rolls = %v, want %v:\n%s", got, tc.cpRolls, textOf(t, rep))
			}
			if got := cp != nil && !cp.Replace && len(cp.InPlace) > 0; got != tc.cpInPlace {
				t.Errorf("control plane changes in place = %v, want %v:\n%s", got, tc.cpInPlace, textOf(t, rep))
			}
			var rolled []string
			for _, g := range c.NodeGroups {
				if g.Replace {
					rolled = append(rolled, g.Name)
				}
			}
			if strings.Join(rolled, ",") != strings.Join(tc.groupRolls, ",") {
				t.Errorf("groups rolling = %v, want %v:\n%s", rolled, tc.groupRolls, textOf(t, rep))
			}
		})
	}
}

// TestScenarioPrivateCloudCA: turning on the site's private CA gives every
// machine the CA (the control plane and each node group roll, as the node
// settings case above shows) and changes, of the addons, the cloud
// controller's and Cinder CSI's values alone (their ca-file and the
// volume of the machine's CA folder).
func TestScenarioPrivateCloudCA(t *testing.T) {
	t.Parallel()
	r := newPlatformsRepo(t, "base")
	r.edit("clusters/s1/site.yaml", "    availabilityZones: [nova]\n", "    availabilityZones: [nova]\n    privateCA: true\n")
	r.commit("private CA")
	rep := r.mustDiffWithPlatforms()
	if len(rep.Sites) != 1 {
		t.Fatalf("want the site's Flux tree, got %d sites:\n%s", len(rep.Sites), textOf(t, rep))
	}
	changed := map[string]bool{}
	for _, a := range rep.Sites[0].Addons {
		if a.Action != Changed || !a.ValuesChanged || a.VersionFrom != a.VersionTo {
			t.Errorf("addon %s/%s: %+v, want its values changed alone", a.Cluster, a.Name, a)
		}
		changed[a.Cluster+"/"+a.Name] = true
	}
	for _, want := range []string{"app/cloud-controller", "app/csi-cinder"} {
		if !changed[want] {
			t.Errorf("addon %s unchanged; changed: %v", want, changed)
		}
	}
	for k := range changed {
		if !strings.HasSuffix(k, "/cloud-controller") && !strings.HasSuffix(k, "/csi-cinder") {
			t.Errorf("addon %s changed too", k)
		}
	}
	for _, c := range rep.Clusters {
		if c.ControlPlane == nil || !c.ControlPlane.Replace {
			t.Errorf("%s: the control plane does not roll: %+v", c.Cluster, c.ControlPlane)
		}
	}
	if len(rep.Clusters) != 2 {
		t.Errorf("clusters in the report: %v, want app and mgmt", clusterNames(rep))
	}
}
