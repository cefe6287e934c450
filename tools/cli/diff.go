package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/capiform/capiform/tools/diff"
	"github.com/capiform/capiform/tools/pipeline"
)

func init() { extraCommands = append(extraCommands, newDiffCommand) }

type diffFlags struct {
	base, head, output, color string
	verbose                   bool
}

func newDiffCommand(s Streams) *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff --base REV [--head REV] [-o text|markdown|json]",
		Short: "Tell what a change does to machines: rollouts, replacements, scaling, deletions",
		Long: `diff reads both revisions straight from git's object store (no checkout; the
head defaults to the work tree with its uncommitted changes), renders both,
expands every cluster through charts/openstack-cluster as it is in the same
revision, and compares object by object. It reports, per cluster and by
Cluster API's own rules, which control planes and node groups roll and why,
what changes in place, what scales, what is created or deleted, and which
changes are unsafe (a deleted cluster, a downgrade, a skipped minor, control
plane and node groups upgraded together, a chart change without a version
bump). Secret values are never shown.

Exit codes: 0 no change; 1 changes (CI treats 1 as success); 2 error,
including a revision that failed to render (the rest is still printed).`,
		Example: `  # what does my uncommitted work do?
  capiform diff --base HEAD

  # the pull request comment in CI
  capiform diff --base origin/main --head HEAD -o markdown > comment.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.base == "" {
				return &exitError{code: ExitCantRun, msg: "diff needs --base REV, for example --base origin/main"}
			}
			if err := checkOutput(f.output, "text", "markdown", "md", "json"); err != nil {
				return err
			}
			rep, err := diff.Run(cmd.Context(), diff.Options{
				Repo: rootDir(cmd),
				Base: f.base,
				Head: f.head,
				Pipeline: func(fsys fs.FS) pipeline.Options {
					// Policy is validate's job; diff shows what a revision
					// renders to even when it breaks a rule.
					o := pipeline.Default(fsys)
					o.Validate = nil
					// A broken chart is reported for each cluster it
					// fails to expand; the Flux trees still compare.
					o.CheckChart = false
					return o
				},
			})
			if rep == nil {
				return err
			}
			var werr error
			switch f.output {
			case "text", "":
				werr = rep.Text(s.Out, useColor(f.color, s.Out))
			case "markdown", "md":
				werr = rep.Markdown(s.Out, diff.MaxComment)
			case "json":
				werr = rep.JSON(s.Out)
			default:
				return &exitError{code: ExitCantRun, msg: fmt.Sprintf("unknown output format %q: use text, markdown or json", f.output)}
			}
			if werr != nil {
				return werr
			}
			if f.verbose {
				fmt.Fprintf(s.Err, "diff: %s\n", rep.Stats)
			}
			switch {
			case err != nil && errors.Is(err, diff.ErrIncomplete):
				return &exitError{code: ExitCantRun, msg: "diff incomplete: see the errors in the report"}
			case err != nil:
				return err
			case rep.Changed():
				return silent(ExitFailed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.base, "base", "", "the revision the change is measured from (required), e.g. origin/main")
	cmd.Flags().StringVar(&f.head, "head", "", "the revision with the change; default: the work tree, uncommitted changes included")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "text, markdown (a pull request comment, at most 65,536 characters) or json")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "say on stderr how many sites were rendered and clusters expanded (only what changed is)")
	cmd.Flags().StringVar(&f.color, "color", "auto", "auto (only on a terminal), always or never")
	return cmd
}

// useColor is true for --color=always, or auto on a terminal without
// NO_COLOR.
func useColor(mode string, w any) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
