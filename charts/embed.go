// Package charts holds the charts capiform carries: openstack-cluster, the
// chart that templates one cluster's Cluster API and OpenStack objects.
// They are embedded so that `capiform init` lays out exactly the chart the
// binary was built with, and `capiform version` names its version.
//
// The chart a fleet renders with is always the one in the fleet's own
// charts/ folder (Flux builds it from the fleet's git repository); the
// embedded copy is only ever written out, never rendered from.
package charts

import "embed"

// OpenStackCluster is the name of the cluster chart, its folder in FS.
const OpenStackCluster = "openstack-cluster"

// FS holds charts/openstack-cluster, its _helpers.tpl included (hence all:).
//
//go:embed all:openstack-cluster
var FS embed.FS
