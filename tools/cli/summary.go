package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/source"
	"github.com/capiform/capiform/tools/summary"
)

func init() { extraCommands = append(extraCommands, newSummaryCommand) }

func newSummaryCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:     "summary",
		Short:   "Print the sites, clusters and machines of the fleet",
		Long:    `summary prints one line a cluster: its site, Kubernetes version, platforms and machines (control plane, fixed node groups, and autoscaled groups as min-max).`,
		Example: `  capiform summary`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := pipeline.Render(cmd.Context(), pipeline.Default(source.Worktree(rootDir(cmd))))
			if err != nil {
				return err
			}
			sum := summary.Of(res)
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SITE\tCLUSTER\tVERSION\tCONTROL PLANE\tNODE GROUPS\tMACHINES\tPLATFORMS")
			for _, c := range sum.Clusters {
				name := c.Cluster
				if c.Management {
					name += " (management)"
				}
				// Names and versions are the repository's: escaped for a CI log.
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", diag.Line(c.Site), diag.Inline(name), diag.Inline(c.Version),
					c.ControlPlane, diag.Inline(c.Groups), c.MachinesText(), diag.Inline(c.Platforms))
			}
			tw.Flush()
			fmt.Fprintf(s.Out, "\n%d site(s), %d cluster(s), %d to %d machine(s)\n", sum.Sites, len(sum.Clusters), sum.MinMachines, sum.MaxMachines)
			return nil
		},
	}
}
