// Command fleetbench runs every capiform stage as its own process on a
// generated fleet (10 sites x 100 clusters by default), compares it with a
// `helm template` loop over the same clusters, and prints a table against
// the targets. `make bench` runs it. It exits 1 when a target is missed
// (and says which on stderr), 2 on bad flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/capiform/capiform/tools/fleetbench"
)

func main() {
	var (
		opts  fleetbench.Options
		quiet bool
	)
	flag.StringVar(&opts.Capiform, "capiform", "", "path of the capiform binary (required)")
	flag.StringVar(&opts.Helm, "helm", "", `path of a helm binary for the per-cluster "helm template" loop; "" skips it`)
	flag.IntVar(&opts.Sites, "sites", 10, "number of sites")
	flag.IntVar(&opts.ClustersPerSite, "clusters", 100, "clusters per site, the management cluster included")
	flag.IntVar(&opts.Runs, "runs", 3, "runs of each stage (the median time is shown)")
	flag.StringVar(&opts.Dir, "dir", "", "work folder, absent or empty (default: a new temporary folder, in /dev/shm when it exists)")
	flag.BoolVar(&opts.Keep, "keep", false, "keep the work folder")
	flag.StringVar(&opts.Repo, "repo", ".", "the repository root that charts/ and platforms/ are copied from")
	flag.BoolVar(&quiet, "q", false, "do not report progress on stderr")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: fleetbench -capiform PATH [-helm PATH] [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if opts.Capiform == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if !quiet {
		opts.Log = func(msg string) { fmt.Fprintln(os.Stderr, "fleetbench:", msg) }
	}
	// An interrupt stops the running process and still removes the work
	// folder.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := fleetbench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
	if err := res.WriteTable(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
	if missed := res.Missed(); len(missed) > 0 {
		fmt.Fprintf(os.Stderr, "fleetbench: %d target(s) missed:\n", len(missed))
		for _, m := range missed {
			fmt.Fprintln(os.Stderr, "  "+m)
		}
		os.Exit(1)
	}
}
