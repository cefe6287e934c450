package importer

import (
	v1 "github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/resolve"
)

// etcdOn puts etcd on an imported volume. Policy wants the volume at least
// twice etcd's quota (defragmentation writes a copy of the database beside
// it), and capiform's default quota is larger than the volumes the other
// tools make: a smaller volume keeps its size and gets a quota of half of
// it, which is still more than the 2 GiB etcd ran with there.
func etcdOn(vol *v1.Volume) *v1.Etcd {
	e := &v1.Etcd{Volume: vol}
	if vol.SizeGiB < 2*resolve.DefaultEtcdQuotaBackendGiB {
		e.QuotaBackendGiB = ptr(max(1, vol.SizeGiB/2))
	}
	return e
}
