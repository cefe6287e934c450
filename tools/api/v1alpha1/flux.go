package v1alpha1

// Flux are the settings of the site's Flux beyond the repository it syncs:
// reconcile on merge (a webhook Receiver for the git host, and commit
// statuses of what Flux did), and the multi-tenancy lockdown.
type Flux struct {
	// GitHost turns on reconcile on merge: a Receiver that reconciles the
	// site's GitRepository when the git host reports a push, and a
	// commit status on every commit for each of the site's Flux
	// Kustomizations. Its two tokens are Secrets of flux-system, kept
	// encrypted in clusters/<site>/secrets/flux-system/.
	GitHost *GitHost `json:"gitHost,omitempty"`
	// Tenancy turns on the service account lockdown: every Flux object
	// that acts on the management cluster for a cluster impersonates a
	// ServiceAccount that may only change that cluster's namespace.
	Tenancy *Tenancy `json:"tenancy,omitempty"`
}

// Git hosts a site's Receiver and commit statuses can talk to.
const (
	GitHostGitHub = "github"
	GitHostGitLab = "gitlab"
)

// What a git host's commit statuses report.
const (
	// ReportAll: failures and readiness.
	ReportAll = "all"
	// ReportFailures: failures only.
	ReportFailures = "failures"
	// ReportNone: no commit status; the Receiver alone.
	ReportNone = "none"
)

// Default names of the GitHost Secrets, in flux-system.
const (
	DefaultWebhookSecret = "webhook-token"
	DefaultStatusSecret  = "commit-status-token"
)

// GitHost is the git host of the site's repository.
type GitHost struct {
	// Provider is github or gitlab (GitHub Enterprise and self-hosted
	// GitLab included: the host is Repository's).
	Provider string `json:"provider"`
	// Repository is the web address commit statuses go to:
	// https://github.com/<owner>/<repository>, or for GitLab
	// https://<host>/<group>/<project> (or https://<host>/<project id>).
	Repository string `json:"repository"`
	// Report is which outcomes become commit statuses: all (the default:
	// failures and readiness), failures, or none (the Receiver alone).
	Report string `json:"report,omitempty"`
	// WebhookSecret names the Secret (key token) that the git host signs
	// its push webhooks with; default webhook-token.
	WebhookSecret string `json:"webhookSecret,omitempty"`
	// StatusSecret names the Secret (key token) holding an access token
	// allowed to set commit statuses on Repository; default
	// commit-status-token.
	StatusSecret string `json:"statusSecret,omitempty"`
}

// DefaultReconcilerSuffix ends the name of each cluster's ServiceAccount.
const DefaultReconcilerSuffix = "reconciler"

// Tenancy is the service account lockdown of a site.
type Tenancy struct {
	// ServiceAccountSuffix ends the name of each cluster's ServiceAccount
	// in flux-system, <cluster>-<suffix>; default reconciler.
	ServiceAccountSuffix string `json:"serviceAccountSuffix,omitempty"`
}
