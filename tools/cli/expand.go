package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/source"
)

func newExpandCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "expand SITE/CLUSTER",
		Short: "Print the objects Flux will apply for one cluster",
		Long: `expand renders the cluster's HelmRelease through charts/openstack-cluster in
process, with the Helm SDK that Flux's helm-controller uses, the same values,
release name, namespace and Kubernetes version, and the labels that
helm-controller's post-renderer adds. It prints the objects as YAML.`,
		Example: `  capiform expand lon/research
  capiform expand lon/research | grep -A3 'kind: MachineDeployment'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			site, cluster, ok := strings.Cut(args[0], "/")
			if !ok || site == "" || cluster == "" {
				return &exitError{code: ExitCantRun, msg: fmt.Sprintf("expand takes SITE/CLUSTER, got %q", args[0])}
			}
			fsys := source.Worktree(rootDir(cmd))
			opts := pipelineOptions(fsys)
			opts.Sites = []string{site} // only the site's definitions need be valid
			res, err := pipeline.Render(cmd.Context(), opts)
			if err != nil {
				return err
			}
			rel := res.Release(site, cluster)
			if rel == nil {
				return failed("no cluster %s in site %s: see clusters/%s/", cluster, site, site)
			}
			objs, err := pipeline.Expand(cmd.Context(), fsys, res, rel)
			if err != nil {
				return err
			}
			for _, o := range objs {
				b, err := render.MarshalObject(o.Object)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "---\n%s", b)
			}
			return nil
		},
	}
	return cmd
}
