// Command capiform renders, checks, diffs and bootstraps a GitOps
// repository of Cluster API clusters on OpenStack.
package main

import (
	"fmt"
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
	// CAPIFORM_CPUPROFILE=FILE writes a CPU profile of the run, for
	// `go tool pprof`.
	if p := os.Getenv("CAPIFORM_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: CAPIFORM_CPUPROFILE: %v\n", err)
			os.Exit(cli.ExitCantRun)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "error: CAPIFORM_CPUPROFILE: %v\n", err)
			os.Exit(cli.ExitCantRun)
		}
		code := cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
