// Package summary counts the sites, clusters and machines of a rendered
// fleet.
package summary

import (
	"fmt"
	"strings"

	"github.com/capiform/capiform/tools/pipeline"
)

// Cluster is one cluster's line.
type Cluster struct {
	Site, Cluster, Version string
	Management             bool
	// ControlPlane is the number of control plane machines.
	ControlPlane int
	// Groups describes the node groups, like "md-0=3 gpu=0-4".
	Groups string
	// MinMachines and MaxMachines bound the machines (autoscaled groups
	// between their bounds).
	MinMachines, MaxMachines int
	// Platforms are the platforms the cluster uses.
	Platforms string
}

// MachinesText is "N" or "MIN-MAX".
func (c Cluster) MachinesText() string {
	if c.MinMachines == c.MaxMachines {
		return fmt.Sprint(c.MinMachines)
	}
	return fmt.Sprintf("%d-%d", c.MinMachines, c.MaxMachines)
}

// Fleet is the summary of a fleet.
type Fleet struct {
	Sites                    int
	Clusters                 []Cluster
	MinMachines, MaxMachines int
}

// Of summarises a rendered fleet, in site and cluster order.
func Of(res *pipeline.Result) Fleet {
	out := Fleet{Sites: len(res.Fleet.Sites)}
	for _, s := range res.Fleet.Sites {
		for _, c := range s.Clusters {
			rel := res.Release(s.Metadata.Name, c.Metadata.Name)
			if rel == nil {
				continue
			}
			cp, _ := rel.Values["controlPlane"].(map[string]any)["machineCount"].(float64)
			line := Cluster{
				Site: s.Metadata.Name, Cluster: c.Metadata.Name, Version: rel.KubernetesVersion,
				Management: rel.Management, ControlPlane: int(cp), MinMachines: int(cp), MaxMachines: int(cp),
			}
			var groups, platforms []string
			for _, g := range c.Spec.NodeGroups {
				switch {
				case g.Autoscale != nil:
					groups = append(groups, fmt.Sprintf("%s=%d-%d", g.Name, g.Autoscale.Min, g.Autoscale.Max))
					line.MinMachines += g.Autoscale.Min
					line.MaxMachines += g.Autoscale.Max
				default:
					n := 1
					if g.Replicas != nil {
						n = *g.Replicas
					}
					groups = append(groups, fmt.Sprintf("%s=%d", g.Name, n))
					line.MinMachines += n
					line.MaxMachines += n
				}
			}
			for _, p := range c.Spec.Platforms {
				platforms = append(platforms, p.Name)
			}
			line.Groups = strings.Join(groups, " ")
			line.Platforms = strings.Join(platforms, ",")
			out.MinMachines += line.MinMachines
			out.MaxMachines += line.MaxMachines
			out.Clusters = append(out.Clusters, line)
		}
	}
	return out
}
