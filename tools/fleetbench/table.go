package fleetbench

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the result for people: a header with the fleet, the
// machine and the binaries, then one row per stage, the helm loop and the
// speed-up, each marked met or missed against its target.
func (r *Result) WriteTable(w io.Writer) error {
	var buf bytes.Buffer
	if err := r.writeTable(&buf); err != nil {
		return err
	}
	// The last column is padded too when a row has no note.
	var out strings.Builder
	for line := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func (r *Result) writeTable(ew io.Writer) error {
	fmt.Fprintf(ew, "capiform fleet benchmark: %d sites x %d clusters = %d clusters; %d run(s) per stage (median wall time, largest peak RSS)\n",
		r.Sites, r.ClustersPerSite, r.Clusters(), r.Runs)
	hw := tabwriter.NewWriter(ew, 0, 0, 1, ' ', 0)
	machine := fmt.Sprintf("%d CPU(s), GOMAXPROCS %d", r.NumCPU, r.GOMAXPROCS)
	if r.LoadAverage != "" {
		machine += ", load average " + r.LoadAverage + " before the run"
	}
	fmt.Fprintf(hw, "machine:\t%s\n", machine)
	where := r.WorkDir
	if r.Tmpfs {
		where += " (a tmpfs, in memory: the disk's speed does not hide the tool's)"
	} else {
		where += " (on disk: its speed is part of the times)"
	}
	if r.Kept {
		where += "; kept, the fleet's git repository is " + r.Fleet
	} else {
		where += "; removed"
	}
	fmt.Fprintf(hw, "work folder:\t%s\n", where)
	fmt.Fprintf(hw, "capiform:\t%s (%s)\n", r.Capiform, r.CapiformVersion)
	if r.Helm != "" {
		fmt.Fprintf(hw, "helm:\t%s (%s)\n", r.Helm, r.HelmVersion)
	} else {
		fmt.Fprintf(hw, "helm:\tnone given, the helm template loop is skipped\n")
	}
	targets := fmt.Sprintf("what capiform is built to meet with %d clusters on %d CPUs", TargetClusters, TargetCPUs)
	if r.Clusters() != TargetClusters || r.NumCPU != TargetCPUs {
		targets += fmt.Sprintf(" (here %d clusters on %d CPUs: they only indicate)", r.Clusters(), r.NumCPU)
	}
	fmt.Fprintf(hw, "targets:\t%s\n", targets)
	if err := hw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(ew)

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tCOMMAND\tMEDIAN\tPEAK RSS\tTARGET\tRESULT\tNOTES")
	met, total := 0, 0
	for _, s := range r.Stages {
		total++
		if s.OK() {
			met++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Command(), seconds(s.Median), mib(s.PeakRSS), s.Target, verdict(s.OK()), s.Note)
	}
	if l := r.HelmLoop; l != nil {
		total++
		if l.OK() {
			met++
		}
		fmt.Fprintf(tw, "helm loop\thelm template, once per cluster\t%s\t%s\t-\t-\t%d processes one after another, run once\n",
			seconds(l.Wall), mib(l.PeakRSS), l.Clusters)
		fmt.Fprintf(tw, "speed-up\thelm loop / expand all\t%.1fx\t-\t>= %.0fx\t%s\t\n", l.Speedup, TargetSpeedup, verdict(l.OK()))
	} else {
		fmt.Fprintln(tw, "helm loop\thelm template, once per cluster\t-\t-\t-\t-\tskipped: no helm binary")
		fmt.Fprintf(tw, "speed-up\thelm loop / expand all\t-\t-\t>= %.0fx\t-\t\n", TargetSpeedup)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(ew, "\n%d of %d targets met\n", met, total)
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// seconds formats a duration in seconds: "2 s", "0.84 s", "61.3 s".
func seconds(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%d s", d/time.Second)
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

// mib formats bytes: "412 MiB", "1 GiB".
func mib(b int64) string {
	if b > 0 && b%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
