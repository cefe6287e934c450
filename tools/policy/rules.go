package policy

// Rules names every rule of the policy; each has a failing case in
// testdata/policy.
var Rules = []string{
	"policy.schema",
	"policy.site-policy",
	"policy.dns-label",
	"policy.unique-name",
	"policy.flavor-offered",
	"policy.image-named",
	"policy.image-available",
	"policy.network-offered",
	"policy.zone-offered",
	"policy.version-format",
	"policy.version-window",
	"policy.version-skew",
	"policy.replicas-or-autoscale",
	"policy.autoscale-bounds",
	"policy.control-plane-odd",
	"policy.control-plane-ha",
	"policy.quota-cluster",
	"policy.quota-site",
	"policy.required-platforms",
	"policy.no-credentials",
	"policy.api-allowed-cidrs",
	"policy.release-name-length",
	"policy.label-length",
	"policy.management-cluster",
	// Change rules, against a base revision.
	"policy.no-downgrade",
	"policy.no-skipped-minor",
	"policy.upgrade-order",
	"policy.immutable",
	"policy.management-kept",
	"policy.deletion-protection",
	"policy.chart-version",
}
