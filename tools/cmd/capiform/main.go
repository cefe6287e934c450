// Command capiform renders, checks, diffs and bootstraps a GitOps
// repository of Cluster API clusters on OpenStack.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/capiform/capiform/tools/cli"
)

func main() {
	// CUE, Helm and YAML allocate many short-lived objects over a small
	// live heap: collecting at 9x growth rather than 2x saves about 40% of
	// the CPU time at 1000 clusters (peak about 500 MiB), and a soft limit
	// makes the collector work harder rather than grow past 768 MiB on
	// larger fleets. GOGC and GOMEMLIMIT in the environment still win.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(768 << 20)
	}
	os.Exit(run(os.Args[1:], os.Getenv("CAPIFORM_CPUPROFILE"), os.Stdin, os.Stdout, os.Stderr))
}

// run runs capiform, writing a CPU profile of the run to profile (the
// CAPIFORM_CPUPROFILE variable, for `go tool pprof`) when it is set.
func run(args []string, profile string, in io.Reader, out, errOut io.Writer) int {
	if profile == "" {
		return cli.Main(args, in, out, errOut)
	}
	f, err := os.Create(profile)
	if err != nil {
		fmt.Fprintf(errOut, "error: CAPIFORM_CPUPROFILE: %v\n", err)
		return cli.ExitCantRun
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(errOut, "error: CAPIFORM_CPUPROFILE: %v\n", err)
		return cli.ExitCantRun
	}
	code := cli.Main(args, in, out, errOut)
	pprof.StopCPUProfile()
	return code
}
