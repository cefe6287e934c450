package resolve

import "github.com/capiform/capiform/tools/api/v1alpha1"

// etcd resolves etcd's volume and tuning: the cluster's setting, else the
// site's clusterDefaults, else the built-in default, field by field.
func etcd(d *v1alpha1.ClusterDefaults, c *v1alpha1.Etcd) *EtcdValues {
	var site, cluster v1alpha1.EtcdTuning
	if d != nil && d.Etcd != nil {
		site = *d.Etcd
	}
	out := &EtcdValues{}
	if c != nil {
		cluster = c.EtcdTuning
		out.Volume = volume(c.Volume)
	}
	out.HeartbeatIntervalMs = firstSet(cluster.HeartbeatIntervalMs, site.HeartbeatIntervalMs, DefaultEtcdHeartbeatIntervalMs)
	out.ElectionTimeoutMs = firstSet(cluster.ElectionTimeoutMs, site.ElectionTimeoutMs, DefaultEtcdElectionTimeoutMs)
	out.QuotaBackendGiB = firstSet(cluster.QuotaBackendGiB, site.QuotaBackendGiB, DefaultEtcdQuotaBackendGiB)
	out.DefragSchedule = or(cluster.DefragSchedule, or(site.DefragSchedule, DefaultEtcdDefragSchedule))
	if out.DefragSchedule == EtcdDefragNever {
		out.DefragSchedule = ""
	}
	return out
}

// renewBeforeDays resolves how many days before their certificates expire
// control plane machines roll (0: never).
func renewBeforeDays(d *v1alpha1.ClusterDefaults, c *v1alpha1.Certificates) int {
	var site, cluster *int
	if d != nil && d.Certificates != nil {
		site = d.Certificates.RenewBeforeDays
	}
	if c != nil {
		cluster = c.RenewBeforeDays
	}
	return firstSet(cluster, site, DefaultCertificatesRenewBeforeDays)
}

// firstSet is the first of the settings that is set, else the default.
func firstSet(cluster, site *int, def int) int {
	switch {
	case cluster != nil:
		return *cluster
	case site != nil:
		return *site
	}
	return def
}
