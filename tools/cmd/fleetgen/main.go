// Command fleetgen writes a deterministic synthetic fleet of N sites x M
// clusters into a repository folder, for benchmarks.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/capiform/capiform/tools/fleetgen"
)

func main() {
	var (
		out      = flag.String("out", "", "repository folder to write clusters/ into (required)")
		sites    = flag.Int("sites", 10, "number of sites")
		clusters = flag.Int("clusters", 100, "clusters per site, the management cluster included")
		seed     = flag.Uint64("seed", 1, "seed of the random generator: the same seed writes the same fleet")
	)
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "fleetgen: -out is required")
		os.Exit(2)
	}
	files := fleetgen.Generate(fleetgen.Options{Seed: *seed, Sites: *sites, ClustersPerSite: *clusters})
	for _, p := range files.Paths() {
		f := filepath.Join(*out, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "fleetgen:", err)
			os.Exit(2)
		}
		if err := os.WriteFile(f, files[p], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "fleetgen:", err)
			os.Exit(2)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %d sites x %d clusters to %s\n", *sites, *clusters, *out)
}
