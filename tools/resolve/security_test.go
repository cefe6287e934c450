package resolve

import (
	"reflect"
	"testing"

	"github.com/capiform/capiform/tools/api/v1alpha1"
)

// TestSecuritySiteDefaults resolves the API server's Pod Security
// defaults, audit log and encryption at rest: the cluster's settings over
// its site's clusterDefaults, field by field, over the built-in retention
// and provider.
func TestSecuritySiteDefaults(t *testing.T) {
	t.Parallel()
	n := func(i int) *int { return &i }
	site := v1alpha1.ClusterDefaults{
		PodSecurity: &v1alpha1.PodSecurity{Enforce: "baseline", Warn: "restricted", ExemptNamespaces: []string{"kube-system"}},
		Audit:       &v1alpha1.Audit{Level: "Request", MaxAgeDays: n(90)},
		Encryption:  &v1alpha1.EtcdEncryption{Provider: "aescbc", KeySecret: v1alpha1.SecretKeyRef{Name: "etcd-key", Key: "key"}},
	}
	builtInAudit := func(level string, age int) *AuditValues {
		return &AuditValues{Level: level, MaxAgeDays: age, MaxBackups: DefaultAuditMaxBackups, MaxSizeMiB: DefaultAuditMaxSizeMiB}
	}
	for _, tc := range []struct {
		name    string
		site    v1alpha1.ClusterDefaults
		cluster v1alpha1.ClusterSpec
		want    *SecurityValues
	}{
		{name: "nothing set", want: &SecurityValues{}},
		{
			name: "the site's alone",
			site: site,
			want: &SecurityValues{
				PodSecurity: site.PodSecurity,
				Audit:       builtInAudit("Request", 90),
				Encryption:  &EncryptionValues{Provider: "aescbc", KeySecret: v1alpha1.SecretKeyRef{Name: "etcd-key", Key: "key"}},
			},
		},
		{
			name: "the cluster's over the site's, field by field",
			site: site,
			cluster: v1alpha1.ClusterSpec{
				APIServer: &v1alpha1.APIServer{
					PodSecurity: &v1alpha1.PodSecurity{Enforce: "privileged", ExemptNamespaces: []string{}},
					Audit:       &v1alpha1.Audit{MaxAgeDays: n(7), MaxBackups: n(3)},
				},
				Etcd: &v1alpha1.Etcd{Encryption: &v1alpha1.EtcdEncryption{KeySecret: v1alpha1.SecretKeyRef{Name: "own-key", Key: "k"}}},
			},
			want: &SecurityValues{
				PodSecurity: &v1alpha1.PodSecurity{Enforce: "privileged", Warn: "restricted", ExemptNamespaces: []string{}},
				Audit:       &AuditValues{Level: "Request", MaxAgeDays: 7, MaxBackups: 3, MaxSizeMiB: DefaultAuditMaxSizeMiB},
				Encryption:  &EncryptionValues{Provider: "aescbc", KeySecret: v1alpha1.SecretKeyRef{Name: "own-key", Key: "k"}},
			},
		},
		{
			name: "the cluster's alone, built-in defaults under it",
			cluster: v1alpha1.ClusterSpec{
				APIServer: &v1alpha1.APIServer{Audit: &v1alpha1.Audit{}},
				Etcd:      &v1alpha1.Etcd{Encryption: &v1alpha1.EtcdEncryption{KeySecret: v1alpha1.SecretKeyRef{Name: "k", Key: "key"}}},
			},
			want: &SecurityValues{
				Audit:      builtInAudit(DefaultAuditLevel, DefaultAuditMaxAgeDays),
				Encryption: &EncryptionValues{Provider: DefaultEncryptionProvider, KeySecret: v1alpha1.SecretKeyRef{Name: "k", Key: "key"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := security(tc.site, tc.cluster); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
