package policy

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"

	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// TestLifecycleDefaultsAgree holds the built-in etcd and certificate
// settings the rules judge with against those the resolver renders.
func TestLifecycleDefaultsAgree(t *testing.T) {
	t.Parallel()
	e, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{
		"#etcdDefaults.heartbeatIntervalMs": int64(resolve.DefaultEtcdHeartbeatIntervalMs),
		"#etcdDefaults.electionTimeoutMs":   int64(resolve.DefaultEtcdElectionTimeoutMs),
		"#etcdDefaults.quotaBackendGiB":     int64(resolve.DefaultEtcdQuotaBackendGiB),
		"#etcdDefaults.defragSchedule":      resolve.DefaultEtcdDefragSchedule,
		"#renewBeforeDaysDefault":           int64(resolve.DefaultCertificatesRenewBeforeDays),
	} {
		v := e.base.LookupPath(cue.ParsePath(path))
		var got any
		switch want.(type) {
		case int64:
			got, err = v.Int64()
		default:
			got, err = v.String()
		}
		if err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v as in tools/resolve", path, got, err, want)
		}
	}
	if !strings.Contains(resolve.DefaultEtcdDefragSchedule, " ") {
		t.Errorf("the default schedule %q is not five cron fields", resolve.DefaultEtcdDefragSchedule)
	}
}

// TestEtcdMessages reads what the etcd and certificate rules tell an
// operator: the field, the bound and what to do.
func TestEtcdMessages(t *testing.T) {
	t.Parallel()
	cases := map[string]*corpusCase{}
	for _, c := range readCorpus(t) {
		cases[c.name] = c
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"etcd-volume-size", []string{
			"clusters/dev/zero.yaml:9:23: spec.etcd.volume.sizeGiB: invalid value 0 (out of bound >=1): correct it to match the schema (policies/schema.cue) [policy.schema]",
			"clusters/dev/work.yaml:9:23: the etcd volume of 10 GiB is less than twice etcd's quota of 8 GiB, and defragmentation writes a copy of the database beside it: make the volume at least 16 GiB or lower spec.etcd.quotaBackendGiB [policy.etcd-volume-size]",
		}},
		{"etcd-tuning", []string{
			"clusters/dev/other.yaml:8:29: etcd's election timeout of 600 ms is shorter than 5 heartbeats of 250 ms, and etcd refuses to start: make it at least 1250 ms (etcd advises 10 heartbeats) [policy.etcd-tuning]",
			"clusters/prod/site.yaml:17:57: etcd's election timeout of 1000 ms is shorter than 5 heartbeats of 500 ms, and etcd refuses to start: make it at least 2500 ms (etcd advises 10 heartbeats) [policy.etcd-tuning]",
			"clusters/dev/work.yaml:11:21: defragSchedule \"weekly\" is not a cron schedule: write five cron fields like \"0 3 * * 0\" (Sundays at 03:00), or none to turn the defragmentation off [policy.etcd-tuning]",
			"clusters/prod/site.yaml:18:37: renewBeforeDays 3 is outside 7 to 180",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := cases[tc.name]
			fleet, _ := load.Load(c.head)
			got, err := Validate(t.Context(), fleet, Options{Head: c.head, GoChecks: true})
			if err != nil {
				t.Fatal(err)
			}
			text := string(Format(got, FormatText))
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("want %q in:\n%s", w, text)
				}
			}
		})
	}
}
