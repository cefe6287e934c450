package resolve

import (
	"reflect"
	"testing"

	"github.com/capiform/capiform/tools/api/v1alpha1"
)

func iptr(v int) *int { return &v }

// TestKubeletMerged: the site's kubelet, the cluster's over it, a group's
// over that, field by field; eviction thresholds signal by signal; the
// configPatch as a JSON merge patch (null removes a key) after the typed
// fields.
func TestKubeletMerged(t *testing.T) {
	t.Parallel()
	site := &v1alpha1.Kubelet{
		SystemReserved: &v1alpha1.Reserved{CPUMillis: iptr(500), MemoryMiB: iptr(1024)},
		EvictionHard:   map[string]string{"memory.available": "200Mi"},
		ConfigPatch:    map[string]any{"serializeImagePulls": false, "logging": map[string]any{"format": "json", "verbosity": 2}},
	}
	cluster := &v1alpha1.Kubelet{
		MaxPods:      iptr(60),
		EvictionHard: map[string]string{"nodefs.available": "10%"},
		ConfigPatch:  map[string]any{"logging": map[string]any{"verbosity": nil}},
	}
	group := &v1alpha1.Kubelet{
		SystemReserved: &v1alpha1.Reserved{MemoryMiB: iptr(2048)},
		MaxPods:        iptr(110),
		ConfigPatch:    map[string]any{"maxPods": 250},
	}
	for _, tc := range []struct {
		name   string
		levels []*v1alpha1.Kubelet
		want   map[string]any
	}{
		{"none", nil, nil},
		{"site alone", []*v1alpha1.Kubelet{site}, map[string]any{
			"systemReserved":      map[string]any{"cpu": "500m", "memory": "1024Mi"},
			"evictionHard":        map[string]any{"memory.available": "200Mi"},
			"serializeImagePulls": false,
			"logging":             map[string]any{"format": "json", "verbosity": 2},
		}},
		{"site, cluster and group", []*v1alpha1.Kubelet{site, cluster, group}, map[string]any{
			"systemReserved":      map[string]any{"cpu": "500m", "memory": "2048Mi"},
			"evictionHard":        map[string]any{"memory.available": "200Mi", "nodefs.available": "10%"},
			"maxPods":             250, // the patch wins over the typed field
			"serializeImagePulls": false,
			"logging":             map[string]any{"format": "json"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k *v1alpha1.Kubelet
			for _, l := range tc.levels {
				k = mergeKubelet(k, l)
			}
			if got := KubeletConfig(k); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("KubeletConfig = %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestNodeSettingsOverride: a cluster's mirrors replace the site's per
// registry, its CAs per name, its proxy fields one by one.
func TestNodeSettingsOverride(t *testing.T) {
	t.Parallel()
	site := v1alpha1.SiteSpec{Nodes: &v1alpha1.SiteNodes{NodeSettings: v1alpha1.NodeSettings{
		Registries: &v1alpha1.Registries{
			Mirrors:           []v1alpha1.RegistryMirror{{Registry: "quay.io", Endpoints: []string{"https://a"}}, {Registry: "docker.io", Endpoints: []string{"https://a"}}},
			CredentialsSecret: "site-pull",
		},
		TrustedCAs: []v1alpha1.TrustedCA{{Name: "b", PEM: "site"}, {Name: "a", PEM: "site"}},
		Proxy:      &v1alpha1.Proxy{HTTP: "http://p:3128", HTTPS: "http://p:3128", NoProxy: []string{".site"}},
	}}}
	c := v1alpha1.ClusterSpec{Nodes: &v1alpha1.NodeSettings{
		Registries: &v1alpha1.Registries{Mirrors: []v1alpha1.RegistryMirror{{Registry: "docker.io", Endpoints: []string{"https://b"}}}},
		TrustedCAs: []v1alpha1.TrustedCA{{Name: "a", PEM: "cluster"}},
		Proxy:      &v1alpha1.Proxy{HTTPS: "http://q:3128"},
	}}
	got := EffectiveNodeSettings(site, c)
	want := v1alpha1.NodeSettings{
		Registries: &v1alpha1.Registries{
			Mirrors:           []v1alpha1.RegistryMirror{{Registry: "docker.io", Endpoints: []string{"https://b"}}, {Registry: "quay.io", Endpoints: []string{"https://a"}}},
			CredentialsSecret: "site-pull",
		},
		TrustedCAs: []v1alpha1.TrustedCA{{Name: "a", PEM: "cluster"}, {Name: "b", PEM: "site"}},
		Proxy:      &v1alpha1.Proxy{HTTP: "http://p:3128", HTTPS: "http://q:3128", NoProxy: []string{".site"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EffectiveNodeSettings = %+v\nwant %+v", got, want)
	}
	net := NetworkingValues{PodCIDRs: []string{"10.1.0.0/16"}, ServiceCIDRs: []string{"10.2.0.0/16"}, NodeCIDR: "10.3.0.0/24"}
	if got := nodeConfig(site, c, net).Proxy.NoProxy; got != ".site,localhost,127.0.0.1,::1,169.254.169.254,10.1.0.0/16,10.2.0.0/16,10.3.0.0/24,.svc,cluster.local" {
		t.Errorf("no-proxy = %s", got)
	}
	if got := nodeConfig(v1alpha1.SiteSpec{}, v1alpha1.ClusterSpec{}, net); got != nil {
		t.Errorf("nodeConfig without settings = %+v, want nil", got)
	}
}

// TestPrivateCloudCA: a site whose cloud has a private CA gives every
// machine the CA from the credentials Secret's cacert key, beside the
// site's and the cluster's CAs; without it nothing is added.
func TestPrivateCloudCA(t *testing.T) {
	t.Parallel()
	cloudCA := TrustedCAValues{Name: CloudCAName, Secret: &v1alpha1.SecretKeyRef{Name: "lon-cloud", Key: "cacert"}}
	for _, tc := range []struct {
		name    string
		private bool
		cluster []v1alpha1.TrustedCA
		want    []TrustedCAValues
	}{
		{name: "public CA, no settings", want: nil},
		{name: "private CA alone", private: true, want: []TrustedCAValues{cloudCA}},
		{
			name: "private CA beside the cluster's, sorted by name", private: true,
			cluster: []v1alpha1.TrustedCA{{Name: "zz-corp", PEM: "z"}, {Name: "corp", PEM: "c"}},
			want:    []TrustedCAValues{{Name: "corp", PEM: "c"}, cloudCA, {Name: "zz-corp", PEM: "z"}},
		},
		{
			name:    "public CA with the cluster's",
			cluster: []v1alpha1.TrustedCA{{Name: "corp", PEM: "c"}},
			want:    []TrustedCAValues{{Name: "corp", PEM: "c"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := v1alpha1.SiteSpec{Cloud: v1alpha1.Cloud{CredentialsSecret: "lon-cloud", PrivateCA: tc.private}}
			var c v1alpha1.ClusterSpec
			if tc.cluster != nil {
				c.Nodes = &v1alpha1.NodeSettings{TrustedCAs: tc.cluster}
			}
			nc := nodeConfig(site, c, NetworkingValues{})
			var got []TrustedCAValues
			if nc != nil {
				got = nc.TrustedCAs
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("trusted CAs = %+v, want %+v", got, tc.want)
			}
		})
	}
	if CloudCAFile != "/usr/local/share/ca-certificates/openstack-cloud.crt" {
		t.Errorf("CloudCAFile = %s: the chart writes trusted CAs to /usr/local/share/ca-certificates/<name>.crt", CloudCAFile)
	}
}
