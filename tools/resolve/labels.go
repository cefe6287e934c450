package resolve

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
)

// syncedLabelDomains are the label domains Cluster API copies from a
// Machine to its Node by default: the domains and their subdomains.
var syncedLabelDomains = []string{"node-role.kubernetes.io", "node-restriction.kubernetes.io", "node.cluster.x-k8s.io"}

// LabelSynced reports whether Cluster API copies a Machine label to its
// Node: by its default domains, or by one of the site's extra patterns.
func LabelSynced(label string, extra []*regexp.Regexp) bool {
	if domain, _, ok := strings.Cut(label, "/"); ok {
		for _, d := range syncedLabelDomains {
			if domain == d || strings.HasSuffix(domain, "."+d) {
				return true
			}
		}
	}
	for _, re := range extra {
		if re.MatchString(label) {
			return true
		}
	}
	return false
}

// labelWarnings warns of node group labels that would stay on the Machines:
// the chart puts labels on the MachineDeployment's template (so that a
// label change never rolls machines), and Cluster API copies only some
// domains on to Nodes. Such a label would also mislead the cluster
// autoscaler, which is told of the group's labels for scale from zero.
func labelWarnings(s *load.Site, c *load.Cluster) diag.List {
	var (
		out   diag.List
		extra []*regexp.Regexp
	)
	for i, p := range s.Spec.SyncMachineLabels {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			out.Add(s.Pos.Of(fmt.Sprintf("spec.syncMachineLabels[%d]", i)), "resolve.sync-labels", "%q is not a regular expression: %v", p, err)
			continue
		}
		extra = append(extra, re)
	}
	for i, g := range c.Spec.NodeGroups {
		keys := make([]string, 0, len(g.Labels))
		for k := range g.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if LabelSynced(k, extra) {
				continue
			}
			out = append(out, diag.Diagnostic{
				Pos:      c.Pos.Of(fmt.Sprintf("spec.nodeGroups[%d].labels.%s", i, k)),
				Rule:     "resolve.label-not-synced",
				Severity: diag.Warning,
				Message: fmt.Sprintf("label %s of node group %s reaches its Machines but not its Nodes: Cluster API copies only %s/ labels by default; "+
					"use one of those domains, or run its controller with --additional-sync-machine-labels and list the pattern in the site's spec.syncMachineLabels",
					k, g.Name, strings.Join(syncedLabelDomains, "/, ")),
			})
		}
	}
	return out
}
