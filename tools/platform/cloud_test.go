package platform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gcfg "gopkg.in/gcfg.v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/secrets"
)

// occmConfig is the part of the cloud controller's configuration that
// capiform writes, as cloud-provider-openstack v1.35.0 declares it
// (pkg/openstack/openstack.go Config, pkg/client AuthOpts: the gcfg tags
// are the file's keys), with the sections its chart always writes. It is
// read without gcfg.FatalOnly, unlike the cloud controller: a key or
// section it does not have, which the cloud controller would silently
// ignore, fails the test.
type occmConfig struct {
	Global       authOpts
	LoadBalancer struct {
		FloatingNetworkID string `gcfg:"floating-network-id"`
		LBMethod          string `gcfg:"lb-method"`
		LBProvider        string `gcfg:"lb-provider"`
		CreateMonitor     bool   `gcfg:"create-monitor"`
	}
	Networking, BlockStorage, Metadata, Route struct{}
}

// authOpts is [Global] (pkg/client AuthOpts).
type authOpts struct {
	AuthURL                     string `gcfg:"auth-url"`
	ApplicationCredentialID     string `gcfg:"application-credential-id"`
	ApplicationCredentialName   string `gcfg:"application-credential-name"`
	ApplicationCredentialSecret string `gcfg:"application-credential-secret"`
	UserID                      string `gcfg:"user-id"`
	Username                    string
	Password                    string
	UserDomainID                string `gcfg:"user-domain-id"`
	UserDomainName              string `gcfg:"user-domain-name"`
	TenantID                    string `gcfg:"tenant-id"`
	TenantName                  string `gcfg:"tenant-name"`
	TenantDomainID              string `gcfg:"tenant-domain-id"`
	TenantDomainName            string `gcfg:"tenant-domain-name"`
	DomainID                    string `gcfg:"domain-id"`
	DomainName                  string `gcfg:"domain-name"`
	Region                      string
	TLSInsecure                 string `gcfg:"tls-insecure"`
}

// csiConfig is the same for Cinder CSI v1.35.0
// (pkg/csi/cinder/openstack/openstack.go Config, BlockStorageOpts).
type csiConfig struct {
	Global       map[string]*authOpts
	BlockStorage struct {
		RescanOnResize bool `gcfg:"rescan-on-resize"`
		IgnoreVolumeAZ bool `gcfg:"ignore-volume-az"`
	}
}

// chartCloudConf writes cloud.conf from cloudConfig values as the
// openstack-cloud-controller-manager chart 2.35.0 does (its "cloudConfig"
// template: each section in its order, "key = value | quote", keys
// sorted as Go templates range over maps; Helm's quote is Go's %q).
func chartCloudConf(values map[string]any) string {
	cc, _ := values["cloudConfig"].(map[string]any)
	var b strings.Builder
	for _, s := range []struct{ name, key string }{
		{"Global", "global"}, {"Networking", "networking"}, {"LoadBalancer", "loadBalancer"},
		{"BlockStorage", "blockStorage"}, {"Metadata", "metadata"}, {"Route", "route"},
	} {
		fmt.Fprintf(&b, "[%s]\n", s.name)
		sec, _ := cc[s.key].(map[string]any)
		keys := make([]string, 0, len(sec))
		for k := range sec {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %q\n", k, fmt.Sprint(sec[k]))
		}
		b.WriteString("\n")
	}
	return b.String()
}

const cloudsYAML = `clouds:
  openstack:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: app-cred-id
      application_credential_secret: 's3cr"et\with'
    region_name: RegionOne
    verify: false
`

func siteWith(mod func(*load.Site)) *load.Site {
	s := &load.Site{}
	s.Metadata.Name = "dev"
	s.Spec.Cloud.ExternalNetworkID = "ext-net-id"
	s.Spec.Cloud.AvailabilityZones = []string{"az-1", "az-2"}
	if mod != nil {
		mod(s)
	}
	return s
}

// TestCloudConfAsTheProgramsReadIt: for each site, the cloud.conf the cloud
// controller's chart writes from the credentials' values and the site's
// values, and the two files Cinder CSI reads, parse with gcfg (the parser
// both programs use) into the settings the site gives.
func TestCloudConfAsTheProgramsReadIt(t *testing.T) {
	type lb struct {
		provider, method string
		monitor          bool
	}
	for _, tc := range []struct {
		name             string
		site             func(*load.Site)
		wantLB           lb
		rescan, ignoreAZ bool
	}{
		{name: "defaults", wantLB: lb{}},
		{
			name: "ovn takes its only algorithm",
			site: func(s *load.Site) {
				s.Spec.Networking = &v1alpha1.SiteNetworking{ServiceLoadBalancers: &v1alpha1.ServiceLoadBalancers{Provider: "ovn"}}
			},
			wantLB: lb{provider: "ovn", method: "SOURCE_IP_PORT"},
		},
		{
			name: "amphora with an algorithm and monitors",
			site: func(s *load.Site) {
				s.Spec.Networking = &v1alpha1.SiteNetworking{ServiceLoadBalancers: &v1alpha1.ServiceLoadBalancers{Provider: "amphora", Method: "LEAST_CONNECTIONS", CreateMonitor: true}}
			},
			wantLB: lb{provider: "amphora", method: "LEAST_CONNECTIONS", monitor: true},
		},
		{
			name:   "block storage",
			site:   func(s *load.Site) { s.Spec.Storage = &v1alpha1.SiteStorage{RescanOnResize: true, IgnoreVolumeAZ: true} },
			rescan: true, ignoreAZ: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := siteWith(tc.site)
			cluster := &load.Cluster{}
			facts, err := ClusterFacts(site, cluster, nil)
			if err != nil {
				t.Fatal(err)
			}

			// The cloud controller: valuesFrom (the Secret's values
			// document), then the values, merged as Flux merges them.
			fromSecret, err := secrets.CloudConfValues([]byte(cloudsYAML), "", "RegionTwo")
			if err != nil {
				t.Fatal(err)
			}
			var values map[string]any
			if err := yaml.Unmarshal(fromSecret, &values); err != nil {
				t.Fatal(err)
			}
			steps, _ := parsePath("cloudConfig")
			own := map[string]any{}
			if err := setPath(own, steps, factValues["cloudControllerConfig"](facts)); err != nil {
				t.Fatal(err)
			}
			values = merge(values, own)
			var occm occmConfig
			if err := gcfg.ReadStringInto(&occm, chartCloudConf(values)); err != nil {
				t.Fatalf("the cloud controller's cloud.conf:\n%s\n%v", chartCloudConf(values), err)
			}
			g := occm.Global
			if g.AuthURL != "https://keystone.example.org:5000/v3" || g.ApplicationCredentialID != "app-cred-id" || g.ApplicationCredentialSecret != `s3cr"et\with` || g.Region != "RegionTwo" || g.TLSInsecure != "true" {
				t.Errorf("[Global] = %+v", g)
			}
			l := occm.LoadBalancer
			if got := (lb{l.LBProvider, l.LBMethod, l.CreateMonitor}); got != tc.wantLB || l.FloatingNetworkID != "ext-net-id" {
				t.Errorf("[LoadBalancer] = %+v, want %+v and floating-network-id ext-net-id", l, tc.wantLB)
			}

			// Cinder CSI: the Secret's cloud.conf, then site.conf.
			conf, err := secrets.CloudConf([]byte(cloudsYAML), "", "RegionTwo")
			if err != nil {
				t.Fatal(err)
			}
			var csi csiConfig
			for i, file := range []string{string(conf), facts.CinderCloudConf} {
				if err := gcfg.ReadStringInto(&csi, file); err != nil {
					t.Fatalf("Cinder CSI's file %d:\n%s\n%v", i, file, err)
				}
			}
			if g := csi.Global[""]; g == nil || g.ApplicationCredentialSecret != `s3cr"et\with` || g.Region != "RegionTwo" {
				t.Errorf("Cinder CSI's [Global] = %+v", g)
			}
			if csi.BlockStorage.RescanOnResize != tc.rescan || csi.BlockStorage.IgnoreVolumeAZ != tc.ignoreAZ {
				t.Errorf("[BlockStorage] = %+v", csi.BlockStorage)
			}
		})
	}
}

// TestStorageClasses: the classes a cluster gets from the site's volume
// types and its choice, decoded strictly as Kubernetes' StorageClass.
func TestStorageClasses(t *testing.T) {
	types := []v1alpha1.VolumeType{
		{Name: "standard", Default: true},
		{Name: "SSD", AvailabilityZones: []string{"az-1"}},
		{Name: "ceph_hdd", StorageClass: "bulk"},
	}
	for _, tc := range []struct {
		name             string
		site             []v1alpha1.VolumeType
		cluster          *v1alpha1.ClusterStorage
		want             []string // class names, the default marked with *
		genericIsDefault bool
		err              string
	}{
		{name: "no volume types", genericIsDefault: true},
		{name: "every type, the site's default", site: types, want: []string{"csi-cinder-standard*", "csi-cinder-ssd", "bulk"}},
		{name: "a subset without the site's default", site: types, cluster: &v1alpha1.ClusterStorage{VolumeTypes: []string{"ceph_hdd", "SSD"}}, want: []string{"bulk", "csi-cinder-ssd"}, genericIsDefault: true},
		{name: "the cluster's default", site: types, cluster: &v1alpha1.ClusterStorage{DefaultVolumeType: "SSD"}, want: []string{"csi-cinder-standard", "csi-cinder-ssd*", "bulk"}},
		{name: "a type the site does not list", site: types, cluster: &v1alpha1.ClusterStorage{VolumeTypes: []string{"gold"}}, err: `volume type "gold" is not one site dev lists`},
		{name: "a default the cluster does not have", site: types, cluster: &v1alpha1.ClusterStorage{VolumeTypes: []string{"SSD"}, DefaultVolumeType: "standard"}, err: `default volume type "standard"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := siteWith(func(s *load.Site) {
				if tc.site != nil {
					s.Spec.Storage = &v1alpha1.SiteStorage{VolumeTypes: tc.site}
				}
			})
			cluster := &load.Cluster{}
			cluster.Spec.Storage = tc.cluster
			text, hasDefault, err := storageClasses(site, cluster)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hasDefault == tc.genericIsDefault {
				t.Errorf("one of them is the default: %v, want %v", hasDefault, !tc.genericIsDefault)
			}
			var got []string
			for _, doc := range strings.Split(text, "---\n")[1:] {
				js, err := yaml.YAMLToJSON([]byte(doc))
				if err != nil {
					t.Fatal(err)
				}
				var sc storagev1.StorageClass
				dec := json.NewDecoder(bytes.NewReader(js))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&sc); err != nil {
					t.Fatalf("%s does not decode strictly: %v", doc, err)
				}
				name := sc.Name
				if sc.Annotations[DefaultClassAnnotation] == "true" {
					name += "*"
				}
				got = append(got, name)
				if sc.Provisioner != CinderProvisioner || sc.Parameters["type"] == "" || sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
					t.Errorf("%s: %+v", sc.Name, sc)
				}
				var zones []string
				for _, term := range sc.AllowedTopologies {
					for _, r := range term.MatchLabelExpressions {
						if r.Key == CinderZoneKey {
							zones = append(zones, r.Values...)
						}
					}
				}
				if want := map[string][]string{"csi-cinder-ssd": {"az-1"}}[sc.Name]; !slices.Equal(zones, want) {
					t.Errorf("%s: zones %v, want %v", sc.Name, zones, want)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("classes (-want +got):\n%s", d)
			}
		})
	}
}

// TestValuePathEscapedDot: a key holding a dot, as a chart's Secret data
// has them, is addressed with \. as in Helm's --set.
func TestValuePathEscapedDot(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{`secret.data.site\.conf`, `[secret data site.conf]`},
		{`a.b[1].c`, `[a b c]`},
		{`a..b`, `error`},
	} {
		steps, err := parsePath(tc.path)
		got := "error"
		if err == nil {
			var keys []string
			for _, s := range steps {
				keys = append(keys, s.key)
			}
			got = fmt.Sprint(keys)
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, got, tc.want)
		}
	}
}
