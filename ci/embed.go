// Package ci holds capiform's pipeline templates. The fleet templates
// (github/fleet.yaml, gitlab/fleet.gitlab-ci.yml) install a pinned
// capiform instead of building it from this repository; they are embedded
// so that `capiform init` writes them into a new fleet repository.
package ci

import "embed"

// Paths of the templates in FS.
const (
	GitHubFleet    = "github/fleet.yaml"
	GitLabFleet    = "gitlab/fleet.gitlab-ci.yml"
	GitLabNote     = "gitlab/sticky-note.sh"
	VersionVarLine = "CAPIFORM_VERSION: latest"
)

// FS holds the fleet templates and the GitLab note script.
//
//go:embed github/fleet.yaml gitlab/fleet.gitlab-ci.yml gitlab/sticky-note.sh
var FS embed.FS
