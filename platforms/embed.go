// Package platforms holds the platform capiform carries for a new fleet:
// base, the CNI, cloud controller, Cinder CSI and metrics-server every
// cluster needs before a node becomes Ready. `capiform init` lays it out;
// the fleet's own platforms/ folder is what renders.
package platforms

import "embed"

// Base is the name of the platform every new fleet starts with.
const Base = "base"

// FS holds platforms/base.
//
//go:embed all:base
var FS embed.FS
