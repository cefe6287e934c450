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
	// CUE and YAML allocate many short-lived objects over a small live
	// heap: collecting at 4x growth rather than 2x saves about a third of
	// the CPU time at 1000 clusters, for a peak of a few hundred MiB.
	// GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
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
