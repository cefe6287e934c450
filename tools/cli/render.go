package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/source"
)

type renderFlags struct {
	check bool
}

func newRenderCommand(s Streams) *cobra.Command {
	var f renderFlags
	cmd := &cobra.Command{
		Use:   "render [--check]",
		Short: "Render every site's Flux tree into clusters/<site>/generated/",
		Long: `render validates the definitions, resolves each cluster against its site and
writes the Flux tree of every site to clusters/<site>/generated/, replacing
each tree at once. With invalid input it writes nothing.

With --check it changes nothing: it renders in memory, names every stale,
missing or extra generated file, expands every cluster through the chart,
verifies every object strictly against the Cluster API, OpenStack and Flux
types, and builds every generated path with kustomize as kustomize-controller
does. It exits 1 when anything is found.`,
		Example: `  # write clusters/*/generated/
  capiform render

  # in CI: is the committed tree up to date and sound?
  capiform render --check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root := rootDir(cmd)
			fsys := source.Worktree(root)
			res, err := pipeline.Render(cmd.Context(), pipelineOptions(fsys))
			if err != nil {
				return err
			}
			printWarnings(s, res)
			if !f.check {
				// Nothing is written once the run is interrupted or out
				// of time; once begun, the write (bounded by what it
				// writes) finishes, as Main exits only when it returns.
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				if err := render.Write(root, res.Sites); err != nil {
					return err
				}
				files := 0
				for _, fs := range res.Sites {
					files += len(fs)
				}
				fmt.Fprintf(s.Err, "rendered %d site(s), %d cluster(s), %d file(s)\n", len(res.Sites), len(res.Releases), files)
				return nil
			}
			cr, err := pipeline.Check(cmd.Context(), res, fsys)
			if err != nil {
				return err
			}
			if cr.OK() {
				fmt.Fprintf(s.Err, "up to date: %d site(s), %d cluster(s) expanded, %d object(s) verified\n", len(res.Sites), cr.Clusters, cr.Objects)
				return nil
			}
			var b strings.Builder
			// One line each, whatever the files' names or a chart's
			// error quote.
			for _, d := range cr.Drift {
				fmt.Fprintln(&b, diag.Line(d.String()))
			}
			for _, p := range cr.Problems {
				fmt.Fprintln(&b, diag.Line(p))
			}
			fmt.Fprintf(&b, "render --check: %d stale/missing/extra file(s), %d problem(s)", len(cr.Drift), len(cr.Problems))
			return failed("%s", b.String())
		},
	}
	cmd.Flags().BoolVar(&f.check, "check", false, "change nothing; exit 1 if the generated trees are stale or any object fails to expand, verify or build")
	return cmd
}

func printWarnings(s Streams, res *pipeline.Result) {
	for _, w := range res.Warnings {
		fmt.Fprintf(s.Err, "warning: %s\n", w) // a diagnostic is a safe line
	}
}
