package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/diff"
	"github.com/capiform/capiform/tools/importer"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/source"
)

func init() { extraCommands = append(extraCommands, newDiffCommand) }

type diffFlags struct {
	base, head, output, color string
	verbose                   bool
	// liveValues, cluster and chartVersion: diff against a live
	// cluster's values (adoption).
	liveValues, cluster, chartVersion string
}

func newDiffCommand(s Streams) *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff --base REV [--head REV] [-o text|markdown|json] | diff --live-values FILE --cluster SITE/CLUSTER",
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

With --live-values FILE --cluster SITE/CLUSTER it tells what handing a
running cluster over to capiform does (docs/adopting.md): FILE is the live
release's values (helm get values, a capi-helm-charts values file or a Flux
HelmRelease); the base is that cluster read from FILE as capiform import
reads it, under the definition's adopted identity, through this chart; the
head is the definition in the work tree. The rollouts include the one every
hand-over makes (new machine templates); settings import cannot carry are
warnings.

Exit codes: 0 no change; 1 changes (CI treats 1 as success); 2 error,
including a revision that failed to render (the rest is still printed).`,
		Example: `  # what does my uncommitted work do?
  capiform diff --base HEAD

  # the pull request comment in CI
  capiform diff --base origin/main --head HEAD -o markdown > comment.md

  # what taking over a capi-helm-charts cluster rolls
  helm get values research -n clusters > research.values
  capiform diff --live-values research.values --chart-version 0.26.1 --cluster lon/research`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.liveValues != "" || f.cluster != "" {
				return runLiveDiff(cmd, s, f)
			}
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
	cmd.Flags().StringVar(&f.liveValues, "live-values", "", "a live cluster's current values (helm get values output, a values file or a Flux HelmRelease): diff the hand-over to the definition --cluster")
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "SITE/CLUSTER: the definition that adopts the live cluster (with --live-values)")
	cmd.Flags().StringVar(&f.chartVersion, "chart-version", "", "the capi-helm-charts openstack-cluster version the live values were installed with (with --live-values; a HelmRelease names its own)")
	return cmd
}

// runLiveDiff is diff --live-values: what the hand-over of a live cluster
// to its definition does.
func runLiveDiff(cmd *cobra.Command, s Streams, f diffFlags) error {
	site, cluster, ok := strings.Cut(f.cluster, "/")
	switch {
	case f.liveValues == "" || !ok || site == "" || cluster == "":
		return &exitError{code: ExitCantRun, msg: "diff --live-values FILE --cluster SITE/CLUSTER: give both, the cluster as its site and name"}
	case f.base != "" || f.head != "":
		return &exitError{code: ExitCantRun, msg: "--live-values compares the live cluster with the work tree: leave out --base and --head"}
	}
	if err := checkOutput(f.output, "text", "markdown", "md", "json"); err != nil {
		return err
	}
	data, err := os.ReadFile(f.liveValues)
	if err != nil {
		return &exitError{code: ExitCantRun, msg: fmt.Sprintf("%s: cannot be read: %v", f.liveValues, errors.Unwrap(err))}
	}
	rep, err := diff.Live(cmd.Context(), diff.LiveOptions{
		FS: source.Worktree(rootDir(cmd)), Site: site, Cluster: cluster,
		Values:       importer.Input{Name: f.liveValues, Data: data},
		ChartVersion: f.chartVersion,
		Pipeline: func(fsys fs.FS) pipeline.Options {
			o := pipeline.Default(fsys)
			o.Validate = nil
			o.CheckChart = false
			return o
		},
	})
	if err != nil {
		var dl diag.List
		if errors.As(err, &dl) {
			return &exitError{code: ExitCantRun, msg: dl.Error()}
		}
		return &exitError{code: ExitCantRun, msg: err.Error()}
	}
	switch f.output {
	case "markdown", "md":
		err = rep.Markdown(s.Out, diff.MaxComment)
	case "json":
		err = rep.JSON(s.Out)
	default:
		err = rep.Text(s.Out, useColor(f.color, s.Out))
	}
	if err != nil {
		return err
	}
	if rep.Changed() {
		return silent(ExitFailed)
	}
	return nil
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
