package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// The local marker is the pivot's record on the operator's machine, next to
// the management cluster's kubeconfig (TargetKubeconfig + ".state"). The
// clusters hold the real state; the marker only exists so that a rerun that
// can reach neither the ephemeral cluster nor the target (the kind cluster
// deleted, the kubeconfig file lost) does not start a second pivot: a new
// kind cluster with the cluster chart would be a second Cluster API fighting
// the live one for the same cloud resources.
const (
	markerStarted  = "started"
	markerMoved    = "moved"
	markerComplete = "complete"
)

var markerRank = map[string]int{markerStarted: 1, markerMoved: 2, markerComplete: 3}

// marker is the content of the local marker file.
type marker struct {
	Site    string `json:"site"`
	Cluster string `json:"cluster"`
	Phase   string `json:"phase"`
	// Server is the management cluster's API server URL, once known.
	Server string `json:"server,omitempty"`
}

// markerPath is the marker file of the options, "" when TargetKubeconfig is
// not set (no local record is kept).
func (o Options) markerPath() string {
	if o.TargetKubeconfig == "" {
		return ""
	}
	return o.TargetKubeconfig + ".state"
}

func (r *runner) readMarker() (marker, bool, error) {
	p := r.opts.markerPath()
	if p == "" {
		return marker{}, false, nil
	}
	raw, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return marker{}, false, nil
	}
	if err != nil {
		return marker{}, false, fmt.Errorf("reading the bootstrap marker: %w", err)
	}
	var m marker
	if err := json.Unmarshal(raw, &m); err != nil {
		return marker{}, false, fmt.Errorf("bootstrap marker %s: %w", p, err)
	}
	return m, true, nil
}

// mark records a phase (never going back to an earlier one) and, when
// given, the target's API server URL.
func (r *runner) mark(phase, server string) error {
	p := r.opts.markerPath()
	if p == "" {
		return nil
	}
	m, _, err := r.readMarker()
	if err != nil {
		return err
	}
	next := m
	next.Site, next.Cluster = r.opts.Site, r.id.Cluster
	if markerRank[phase] > markerRank[m.Phase] {
		next.Phase = phase
	}
	if server != "" {
		next.Server = server
	}
	if next == m {
		return nil
	}
	raw, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(p, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the bootstrap marker: %w", err)
	}
	return nil
}

// refuseSecondPivot fails when the marker says the cluster has moved but no
// cluster that holds it can be reached: starting over would make a second
// Cluster API for the same cluster.
func (r *runner) refuseSecondPivot(what string) error {
	m, ok, err := r.readMarker()
	if err != nil || !ok {
		return err
	}
	if markerRank[m.Phase] < markerRank[markerMoved] {
		return nil
	}
	server := m.Server
	if server == "" {
		server = "an unknown address"
	}
	return fmt.Errorf("refusing to %s: the marker %s says an earlier run moved %s to its own API server (%s, phase %s), "+
		"but neither the ephemeral cluster nor that cluster can be reached through %s. "+
		"Starting over would make a second Cluster API managing the same cluster. "+
		"Pass --kubeconfig-out pointing at the saved kubeconfig of %s (and keep this marker beside it)",
		what, r.opts.markerPath(), r.id.Cluster, server, m.Phase, r.opts.TargetKubeconfig, r.id.Cluster)
}
