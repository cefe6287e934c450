// Command capiform renders, checks, diffs and bootstraps a GitOps
// repository of Cluster API clusters on OpenStack.
package main

import (
	"os"

	"github.com/capiform/capiform/tools/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
