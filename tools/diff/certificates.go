package diff

import "fmt"

// certificateFindings explains a change of the control plane's
// rollout.before.certificatesExpiryDays. It rolls no machine by itself
// (Cluster API propagates it in place, and it is listed as such), but it is
// a rollout trigger: KubeadmControlPlane replaces the machines whose
// certificates expire within the new window, which the diff cannot see
// offline (the dates are on the Machines' status, not in git).
func certificateFindings(old, cur objectSet) []Finding {
	a, b := old.ofKind("KubeadmControlPlane"), cur.ofKind("KubeadmControlPlane")
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	path := []string{"spec", "rollout", "before", "certificatesExpiryDays"}
	from, to := deref(nestedInt(a[0], path...)), deref(nestedInt(b[0], path...))
	switch {
	case from == to:
		return nil
	case to == 0:
		return []Finding{{Info, fmt.Sprintf("control plane certificate renewal off (was %d days before expiry): no machine is replaced before its certificates expire; renew them by a rollout within a year of each machine's creation", from)}}
	case to > from:
		return []Finding{{Info, fmt.Sprintf("control plane certificate renewal %d -> %d days before expiry: no machine rolls for the change itself, but Cluster API replaces, one at a time, the control plane machines whose certificates expire within %d days (their dates are on the Machines, not in git)", from, to, to)}}
	}
	return []Finding{{Info, fmt.Sprintf("control plane certificate renewal %d -> %d days before expiry: no machine rolls; machines are replaced later, closer to their certificates' expiry", from, to)}}
}
