package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/policy"
	"github.com/capiform/capiform/tools/source"
)

type validateFlags struct {
	base   string
	output string
}

func newValidateCommand(s Streams) *cobra.Command {
	var f validateFlags
	cmd := &cobra.Command{
		Use:   "validate [--base REV] [-o text|json|github]",
		Short: "Check every definition against its schema and the site's policy",
		Long: `validate loads every Site and Cluster definition strictly, checks them against
the CUE schemas and site policies in policies/ (and clusters/<site>/policy.cue),
and with --base also against the change rules (no downgrade, no skipped minor,
control plane and node groups not upgraded together, immutable fields, chart
version bumps). It lists every problem at once with file:line:col.`,
		Example: `  capiform validate
  capiform validate --base origin/main -o github`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(f.output, "text", "json", "github"); err != nil {
				return err
			}
			fsys := source.Worktree(rootDir(cmd))
			opts := pipelineOptions(fsys)
			if f.base != "" {
				base, _, err := source.Revision(rootDir(cmd), f.base)
				if err != nil {
					return err
				}
				opts.Validate = validatorWithBase(fsys, base)
			}
			res, err := pipeline.Render(cmd.Context(), opts)
			if err != nil {
				return formatDiagnostics(s, err, f.output)
			}
			printWarnings(s, res)
			if f.output == "json" {
				s.Out.Write(policy.Format(res.Warnings, "json"))
			}
			if f.output == "github" {
				s.Out.Write(policy.Format(res.Warnings, "github"))
			}
			fmt.Fprintf(s.Err, "valid: %d site(s), %d cluster(s)\n", len(res.Fleet.Sites), len(res.Releases))
			return nil
		},
	}
	cmd.Flags().StringVar(&f.base, "base", "", "a git revision to check the change rules against, e.g. origin/main")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "text, json or github (workflow annotations)")
	return cmd
}
