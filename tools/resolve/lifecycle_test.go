package resolve

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLifecycleDefaults resolves remediation, health checks and rollouts
// field by field: the cluster's (or group's) own value over the site's
// clusterDefaults over the built-in default.
func TestLifecycleDefaults(t *testing.T) {
	const siteDefaults = `  clusterDefaults:
    remediation: {maxRetry: 5, retryPeriodSeconds: 600}
    healthCheck: {nodeStartupTimeoutSeconds: 2400, maxUnhealthy: {workers: "40%"}}
    rollout: {maxSurge: 0, maxUnavailable: 1}
`
	const cluster = `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: mgmt}
spec:
  kubernetesVersion: v1.36.1
  controlPlane: {flavor: m1}
  nodeGroups:
    - {name: a, flavor: m1, replicas: 4}
    - {name: b, flavor: gpu, autoscale: {min: 0, max: 3}}
`
	const overrides = `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata: {name: mgmt}
spec:
  kubernetesVersion: v1.36.1
  controlPlane:
    flavor: m1
    remediation: {maxRetry: 1}
  healthCheck: {unhealthyTimeoutSeconds: 120, maxUnhealthy: {controlPlane: "34%"}}
  nodeGroups:
    - {name: a, flavor: m1, replicas: 4, rollout: {maxSurge: "50%", deletePolicy: Oldest}}
    - {name: b, flavor: gpu, autoscale: {min: 0, max: 3}}
`
	for _, tc := range []struct {
		name, site, cluster string
		remediation         string
		healthCheck         string
		rollouts            []string
		peak                int
	}{{
		name:        "built-in",
		site:        site,
		cluster:     cluster,
		remediation: `{"maxRetry":3,"minHealthyPeriodSeconds":3600,"retryPeriodSeconds":1200}`,
		healthCheck: `{"maxUnhealthy":{"controlPlane":1,"workers":2},"nodeStartupTimeoutSeconds":1800,"unhealthyTimeoutSeconds":300}`,
		rollouts: []string{
			`{"deletePolicy":"Random","maxSurge":1,"maxUnavailable":0}`,
			`{"deletePolicy":"Random","maxSurge":1,"maxUnavailable":0}`,
		},
		// 3 control plane + 1 surge, 4 + 1, 3 (at max) + 1.
		peak: 4 + 5 + 4,
	}, {
		name:        "site defaults",
		site:        site + siteDefaults,
		cluster:     cluster,
		remediation: `{"maxRetry":5,"minHealthyPeriodSeconds":3600,"retryPeriodSeconds":600}`,
		healthCheck: `{"maxUnhealthy":{"controlPlane":1,"workers":"40%"},"nodeStartupTimeoutSeconds":2400,"unhealthyTimeoutSeconds":300}`,
		rollouts: []string{
			`{"deletePolicy":"Random","maxSurge":0,"maxUnavailable":1}`,
			`{"deletePolicy":"Random","maxSurge":0,"maxUnavailable":1}`,
		},
		peak: 4 + 4 + 3,
	}, {
		name:        "cluster over site",
		site:        site + siteDefaults,
		cluster:     overrides,
		remediation: `{"maxRetry":1,"minHealthyPeriodSeconds":3600,"retryPeriodSeconds":600}`,
		healthCheck: `{"maxUnhealthy":{"controlPlane":"34%","workers":"40%"},"nodeStartupTimeoutSeconds":2400,"unhealthyTimeoutSeconds":120}`,
		rollouts: []string{
			`{"deletePolicy":"Oldest","maxSurge":"50%","maxUnavailable":1}`,
			`{"deletePolicy":"Random","maxSurge":0,"maxUnavailable":1}`,
		},
		// 50% of 4 is 2 machines of surge.
		peak: 4 + 6 + 3,
	}, {
		name:    "percentage surge rounds up",
		site:    site + "  clusterDefaults: {rollout: {maxSurge: \"10%\"}}\n",
		cluster: cluster,
		rollouts: []string{
			`{"deletePolicy":"Random","maxSurge":"10%","maxUnavailable":0}`,
			`{"deletePolicy":"Random","maxSurge":"10%","maxUnavailable":0}`,
		},
		// 10% of 4 and of 3 are one machine each, as Cluster API rounds a surge up.
		peak: 4 + 5 + 4,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := loadOne(t, tc.site, tc.cluster)
			rel, d := Cluster(s, c)
			if len(d) > 0 {
				t.Fatal(d)
			}
			cp := rel.Values["controlPlane"].(map[string]any)
			if tc.remediation != "" {
				if got := jsonText(t, cp["remediation"]); got != tc.remediation {
					t.Errorf("remediation = %s, want %s", got, tc.remediation)
				}
			}
			if tc.healthCheck != "" {
				if got := jsonText(t, rel.Values["healthCheck"]); got != tc.healthCheck {
					t.Errorf("healthCheck = %s, want %s", got, tc.healthCheck)
				}
			}
			var rollouts []string
			for _, g := range rel.Values["nodeGroups"].([]any) {
				rollouts = append(rollouts, jsonText(t, g.(map[string]any)["rollout"]))
			}
			if diff := cmp.Diff(tc.rollouts, rollouts); diff != "" {
				t.Errorf("rollouts (-want +got):\n%s", diff)
			}
			if rel.PeakMachines != tc.peak {
				t.Errorf("peak machines = %d, want %d", rel.PeakMachines, tc.peak)
			}
		})
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
