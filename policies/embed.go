// Package policies holds capiform's CUE: the schemas of every definition
// kind (schema.cue), the site policy every definition obeys (rules.cue)
// and the rules a change must follow (change.cue). They are embedded so
// that the Go tools and the CUE cannot drift apart; tools/policy evaluates
// them.
//
// A site tightens its policy in clusters/<site>/policy.cue, a file of
// package policies unified with these for that site only.
package policies

import "embed"

// FS holds the CUE files of package policies.
//
//go:embed *.cue
var FS embed.FS
