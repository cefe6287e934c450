package v1alpha1

import "k8s.io/apimachinery/pkg/util/intstr"

// ClusterDefaults are a site's lifecycle settings for its clusters; a
// cluster's own setting wins field by field.
type ClusterDefaults struct {
	// Remediation is the control plane's remediation.
	Remediation *Remediation `json:"remediation,omitempty"`
	// HealthCheck tunes the MachineHealthChecks.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Rollout is every node group's rollout strategy.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Etcd tunes etcd for the site's storage.
	Etcd *EtcdTuning `json:"etcd,omitempty"`
	// Certificates says when control planes roll ahead of certificate
	// expiry.
	Certificates *Certificates `json:"certificates,omitempty"`
	// PodSecurity are every cluster's Pod Security admission defaults,
	// field by field under its spec.apiServer.podSecurity.
	PodSecurity *PodSecurity `json:"podSecurity,omitempty"`
	// Audit turns on every cluster's audit log, field by field under its
	// spec.apiServer.audit.
	Audit *Audit `json:"audit,omitempty"`
	// Encryption encrypts every cluster's Secrets at rest, with the key
	// Secret of this name in each cluster's namespace (keep it encrypted
	// in git: capiform secrets create); a cluster's spec.etcd.encryption
	// overrides it field by field.
	Encryption *EtcdEncryption `json:"encryption,omitempty"`
}

// Remediation limits KubeadmControlPlane's replacement of unhealthy
// control plane machines (its spec.remediation).
type Remediation struct {
	// MaxRetry is how many times in a row a failed machine is replaced
	// before remediation stops and waits for an operator.
	MaxRetry *int `json:"maxRetry,omitempty"`
	// RetryPeriodSeconds is the wait between two replacements.
	RetryPeriodSeconds *int `json:"retryPeriodSeconds,omitempty"`
	// MinHealthyPeriodSeconds is how long a replacement must stay healthy
	// before a later failure counts as a new one, not a retry.
	MinHealthyPeriodSeconds *int `json:"minHealthyPeriodSeconds,omitempty"`
}

// HealthCheck tunes the MachineHealthChecks of a cluster.
type HealthCheck struct {
	// NodeStartupTimeoutSeconds is how long a new machine may take to
	// have a Node (OpenStack images booting from volume are slow).
	NodeStartupTimeoutSeconds *int `json:"nodeStartupTimeoutSeconds,omitempty"`
	// UnhealthyTimeoutSeconds is how long a Node may be not Ready before
	// its machine is replaced.
	UnhealthyTimeoutSeconds *int `json:"unhealthyTimeoutSeconds,omitempty"`
	// MaxUnhealthy stops remediation when more machines than this are
	// unhealthy at once (a cloud outage, not a bad machine).
	MaxUnhealthy *MaxUnhealthy `json:"maxUnhealthy,omitempty"`
}

// MaxUnhealthy is a number or a percentage of machines, for the control
// plane and for each node group apart.
type MaxUnhealthy struct {
	ControlPlane *intstr.IntOrString `json:"controlPlane,omitempty"`
	Workers      *intstr.IntOrString `json:"workers,omitempty"`
}

// Rollout is a node group's rollout strategy (MachineDeployment
// spec.rollout.strategy and spec.deletion.order).
type Rollout struct {
	// MaxSurge is how many machines above the group's size a rollout may
	// create (a number or a percentage); it needs spare quota.
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// MaxUnavailable is how many machines may be missing during a rollout.
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// DeletePolicy chooses which machines go first when the group shrinks:
	// Random, Newest or Oldest.
	DeletePolicy string `json:"deletePolicy,omitempty"`
}

// EtcdTuning tunes etcd for network storage.
type EtcdTuning struct {
	// HeartbeatIntervalMs is etcd's --heartbeat-interval.
	HeartbeatIntervalMs *int `json:"heartbeatIntervalMs,omitempty"`
	// ElectionTimeoutMs is etcd's --election-timeout.
	ElectionTimeoutMs *int `json:"electionTimeoutMs,omitempty"`
	// QuotaBackendGiB is etcd's --quota-backend-bytes, in GiB.
	QuotaBackendGiB *int `json:"quotaBackendGiB,omitempty"`
	// DefragSchedule is when etcd is defragmented (cron syntax, read by
	// cron on each control plane machine; one member at a time); "none"
	// turns it off.
	DefragSchedule string `json:"defragSchedule,omitempty"`
}

// Certificates says when the control plane rolls ahead of certificate
// expiry.
type Certificates struct {
	// RenewBeforeDays rolls control plane machines whose certificates
	// expire within this many days (KubeadmControlPlane
	// spec.rollout.before.certificatesExpiryDays); 0 turns it off.
	RenewBeforeDays *int `json:"renewBeforeDays,omitempty"`
}
