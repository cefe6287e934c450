package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/source"
)

type expandFlags struct {
	all bool
}

func newExpandCommand(s Streams) *cobra.Command {
	var f expandFlags
	cmd := &cobra.Command{
		Use:   "expand SITE/CLUSTER | --all",
		Short: "Print the objects Flux will apply for one cluster, or for every cluster",
		Long: `expand renders the cluster's HelmRelease through charts/openstack-cluster in
process, with the Helm SDK that Flux's helm-controller uses, the same values,
release name, namespace and Kubernetes version, and the labels that
helm-controller's post-renderer adds. It prints the objects as YAML.

With --all it expands every cluster of every site, one per CPU at a time, with
the chart loaded once, and prints them by site and cluster. Like diff, it does
not judge the definitions by the policy (validate does); expanding one cluster
validates its site first.`,
		Example: `  capiform expand lon/research
  capiform expand lon/research | grep -A3 'kind: MachineDeployment'
  capiform expand --all > fleet.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys := source.Worktree(rootDir(cmd))
			if f.all {
				if len(args) > 0 {
					return &exitError{code: ExitCantRun, msg: "expand takes SITE/CLUSTER or --all, not both"}
				}
				opts := pipelineOptions(fsys)
				opts.Validate = nil
				opts.NoTrees = true
				res, err := pipeline.Render(cmd.Context(), opts)
				if err != nil {
					return err
				}
				// Each cluster is written to YAML where it was expanded, in
				// parallel; the output is in the order of sites and clusters.
				type printed struct {
					yaml    []byte
					objects int
					problem string
				}
				w := bufio.NewWriter(s.Out)
				var problems []string
				objects := 0
				err = pipeline.ExpandEach(cmd.Context(), fsys, res, func(x pipeline.Expanded) printed {
					if x.Err != nil {
						return printed{problem: diag.Line(fmt.Sprintf("cluster %s/%s: %v", x.Release.Site, x.Release.Cluster, x.Err))}
					}
					var b bytes.Buffer
					fmt.Fprintf(&b, "# %s/%s\n", diag.Inline(x.Release.Site), diag.Inline(x.Release.Cluster))
					if err := printObjects(&b, x.Objects); err != nil {
						return printed{problem: diag.Line(fmt.Sprintf("cluster %s/%s: %v", x.Release.Site, x.Release.Cluster, err))}
					}
					return printed{yaml: b.Bytes(), objects: len(x.Objects)}
				}, func(p printed) error {
					if p.problem != "" {
						problems = append(problems, p.problem)
						return nil
					}
					objects += p.objects
					_, err := w.Write(p.yaml)
					return err
				})
				if err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return err
				}
				if len(problems) > 0 {
					return failed("%s\n%d of %d cluster(s) failed to expand", strings.Join(problems, "\n"), len(problems), len(res.Releases))
				}
				fmt.Fprintf(s.Err, "expanded %d cluster(s), %d object(s)\n", len(res.Releases), objects)
				return nil
			}
			if len(args) == 0 {
				return &exitError{code: ExitCantRun, msg: "expand takes SITE/CLUSTER, for example lon/research, or --all"}
			}
			site, cluster, ok := strings.Cut(args[0], "/")
			if !ok || site == "" || cluster == "" {
				return &exitError{code: ExitCantRun, msg: fmt.Sprintf("expand takes SITE/CLUSTER, got %q", args[0])}
			}
			opts := pipelineOptions(fsys)
			opts.Sites = []string{site} // only the site's definitions need be valid
			res, err := pipeline.Render(cmd.Context(), opts)
			if err != nil {
				return err
			}
			rel := res.Release(site, cluster)
			if rel == nil {
				return failed("no cluster %s in site %s: see clusters/%s/", diag.Inline(cluster), diag.Inline(site), diag.Inline(site))
			}
			objs, err := pipeline.Expand(cmd.Context(), fsys, res, rel)
			if err != nil {
				return err
			}
			return printObjects(s.Out, objs)
		},
	}
	cmd.Flags().BoolVar(&f.all, "all", false, "expand every cluster of every site")
	return cmd
}

// printObjects writes objects as YAML documents.
func printObjects(w interface{ Write([]byte) (int, error) }, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		b, err := render.MarshalObject(o.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}
