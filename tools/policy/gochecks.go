package policy

import (
	"fmt"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// Limits on derived names.
const (
	// MaxReleaseName is Helm's limit on a release name.
	MaxReleaseName = 53
	// MaxLabelValue is Kubernetes' limit on a label value.
	MaxLabelValue = 63
)

// goChecks is the Go-side second layer. CUE holds every rule; these repeat
// the naming rules with the functions that really derive the names
// (resolve.ReleaseIdentity and the chart's naming), so that a change to
// how a name is derived cannot slip past a policy that still computes it
// the old way.
func goChecks(fleet *load.Fleet) diag.List {
	var out diag.List
	for _, s := range fleet.Sites {
		for _, c := range s.Clusters {
			id := resolve.AdoptedIdentity(s.Metadata.Name, c.Metadata.Name, c.Spec.Adopt)
			if n := len(id.ReleaseName); n > MaxReleaseName {
				out.Add(c.Pos.Of("metadata.name"), "policy.release-name-length", "Helm release name %s is %d characters, more than Helm's %d: shorten the cluster name", id.ReleaseName, n, MaxReleaseName)
			}
			for _, suffix := range []string{"control-plane", "autoscaler", "addons"} {
				if name := id.Cluster + "-" + suffix; len(name) > MaxLabelValue {
					out.Add(c.Pos.Of("metadata.name"), "policy.label-length", "%s is %d characters, more than the %d a label value allows: shorten the cluster name", name, len(name), MaxLabelValue)
				}
			}
			for i, g := range c.Spec.NodeGroups {
				if name := id.Cluster + "-" + g.Name; len(name) > MaxLabelValue {
					out.Add(c.Pos.Of(fmt.Sprintf("spec.nodeGroups[%d].name", i)), "policy.label-length", "MachineDeployment %s is %d characters, more than the %d a label value allows: shorten the cluster or node group name", name, len(name), MaxLabelValue)
				}
			}
		}
	}
	return out
}
