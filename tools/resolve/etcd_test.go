package resolve

import (
	"reflect"
	"testing"
)

// TestEtcdAndCertificates resolves etcd's tuning and the certificate
// renewal field by field: the cluster over its site's clusterDefaults over
// the built-in defaults.
func TestEtcdAndCertificates(t *testing.T) {
	t.Parallel()
	builtIn := map[string]any{
		"heartbeatIntervalMs": float64(DefaultEtcdHeartbeatIntervalMs),
		"electionTimeoutMs":   float64(DefaultEtcdElectionTimeoutMs),
		"quotaBackendGiB":     float64(DefaultEtcdQuotaBackendGiB),
		"defragSchedule":      DefaultEtcdDefragSchedule,
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	siteDefaults := "  clusterDefaults:\n" +
		"    etcd: {heartbeatIntervalMs: 300, quotaBackendGiB: 6, defragSchedule: '30 2 * * 6'}\n" +
		"    certificates: {renewBeforeDays: 45}\n"
	for _, tc := range []struct {
		name, site, spec string
		wantEtcd         map[string]any
		wantDays         float64
	}{
		{
			name:     "built-in defaults",
			wantEtcd: builtIn,
			wantDays: DefaultCertificatesRenewBeforeDays,
		},
		{
			name:     "site defaults over built-in",
			site:     siteDefaults,
			wantEtcd: with(builtIn, "heartbeatIntervalMs", float64(300), "quotaBackendGiB", float64(6), "defragSchedule", "30 2 * * 6"),
			wantDays: 45,
		},
		{
			name: "cluster over site, field by field",
			site: siteDefaults,
			spec: "  etcd: {electionTimeoutMs: 4000, quotaBackendGiB: 4, volume: {sizeGiB: 20, type: ssd}}\n" +
				"  certificates: {renewBeforeDays: 0}\n",
			wantEtcd: with(builtIn, "heartbeatIntervalMs", float64(300), "electionTimeoutMs", float64(4000), "quotaBackendGiB", float64(4),
				"defragSchedule", "30 2 * * 6", "volume", map[string]any{"sizeGiB": float64(20), "type": "ssd"}),
			wantDays: 0,
		},
		{
			name:     "defragmentation turned off",
			site:     siteDefaults,
			spec:     "  etcd: {defragSchedule: none}\n",
			wantEtcd: with(builtIn, "heartbeatIntervalMs", float64(300), "quotaBackendGiB", float64(6), "defragSchedule", ""),
			wantDays: 45,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := loadOne(t, site+tc.site, `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: mgmt}
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: m1}
`+tc.spec)
			rel, d := Cluster(s, c)
			if len(d) > 0 {
				t.Fatal(d)
			}
			if got := rel.Values["etcd"]; !reflect.DeepEqual(got, tc.wantEtcd) {
				t.Errorf("etcd = %v, want %v", got, tc.wantEtcd)
			}
			if got := rel.Values["controlPlane"].(map[string]any)["certificatesExpiryDays"]; got != tc.wantDays {
				t.Errorf("certificatesExpiryDays = %v, want %v", got, tc.wantDays)
			}
		})
	}
}
