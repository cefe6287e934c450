package diff

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// openStackClusterFindings judge a change of a cluster's OpenStackCluster
// as the OpenStack provider's validating webhook will: CAPO v0.13 lets
// only a few fields of an existing OpenStackCluster change (its
// ValidateUpdate in api/v1beta1/openstackcluster_webhook.go) and refuses
// any other change, so that helm-controller's upgrade of the release
// fails as a whole. CAPO's Go module is not a dependency, so the list of
// what may change is restated here, from that version's webhook:
//   - identityRef, bastion, controlPlaneAvailabilityZones and
//     controlPlaneOmitAvailabilityZone;
//   - where the new object has managedSecurityGroups: its rules and
//     allowAllInClusterTraffic (so managed groups may be turned on, never
//     off);
//   - where both have an API load balancer: its allowedCIDRs;
//   - apiServerFloatingIP, only to the address the load balancer already
//     has (its status, which the diff cannot see).
//
// The security group rules change in place: CAPO updates the cluster's
// managed groups, and no machine rolls.
func openStackClusterFindings(old, cur objectSet) []Finding {
	oscs := cur.ofKind("OpenStackCluster")
	if len(oscs) == 0 {
		return nil
	}
	now := oscs[0]
	was := old.get("OpenStackCluster", now.GetNamespace(), now.GetName())
	if was == nil {
		return nil
	}
	a := specCopy(was)
	b := specCopy(now)
	var out []Finding
	for _, k := range []string{"identityRef", "bastion", "controlPlaneAvailabilityZones", "controlPlaneOmitAvailabilityZone"} {
		delete(a, k)
		delete(b, k)
	}
	if msg, ok := b["managedSecurityGroups"].(map[string]any); ok {
		mag, _ := a["managedSecurityGroups"].(map[string]any)
		if mag == nil {
			mag = map[string]any{}
		}
		rules := []string{"allNodesSecurityGroupRules", "controlPlaneNodesSecurityGroupRules", "workerNodesSecurityGroupRules", "allowAllInClusterTraffic"}
		changed := false
		for _, k := range rules {
			if !reflect.DeepEqual(mag[k], msg[k]) {
				changed = true
			}
			delete(mag, k)
			delete(msg, k)
		}
		a["managedSecurityGroups"], b["managedSecurityGroups"] = mag, msg
		if changed {
			out = append(out, Finding{Info, fmt.Sprintf("OpenStackCluster %s: the security group rules change in place (the OpenStack provider updates the cluster's managed groups; no machine rolls)", now.GetName())})
		}
	}
	alb, aok := a["apiServerLoadBalancer"].(map[string]any)
	blb, bok := b["apiServerLoadBalancer"].(map[string]any)
	if aok && bok {
		delete(alb, "allowedCIDRs")
		delete(blb, "allowedCIDRs")
	}
	if fa, fb := a["apiServerFloatingIP"], b["apiServerFloatingIP"]; !reflect.DeepEqual(fa, fb) {
		delete(a, "apiServerFloatingIP")
		delete(b, "apiServerFloatingIP")
		out = append(out, Finding{Warning, fmt.Sprintf("OpenStackCluster %s: the OpenStack provider takes a new apiServerFloatingIP (%v -> %v) only when it is the address the API load balancer already has; otherwise it refuses the update and the release fails to upgrade: give a new address to a new cluster", now.GetName(), orNone(fa), orNone(fb))})
	}
	var fixed []string
	for _, k := range unionKeys(a, b) {
		if !reflect.DeepEqual(a[k], b[k]) {
			fixed = append(fixed, "spec."+k)
		}
	}
	if len(fixed) > 0 {
		out = append(out, Finding{Unsafe, fmt.Sprintf("OpenStackCluster %s: %s cannot change once the cluster exists (the OpenStack provider's webhook refuses the update, so the release fails to upgrade and nothing changes): keep the old value, or make a new cluster with the new one", now.GetName(), strings.Join(fixed, ", "))})
	}
	return out
}

func specCopy(o *unstructured.Unstructured) map[string]any {
	spec, _ := o.Object["spec"].(map[string]any)
	if spec == nil {
		return map[string]any{}
	}
	return runtime.DeepCopyJSON(spec)
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orNone(v any) any {
	if v == nil {
		return "none"
	}
	return v
}
