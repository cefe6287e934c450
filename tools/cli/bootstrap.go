package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/bootstrap"
	"github.com/capiform/capiform/tools/source"
)

func init() { extraCommands = append(extraCommands, newBootstrapCommand) }

type bootstrapFlags struct {
	dryRun              bool
	ephemeralKubeconfig string
	keepEphemeral       bool
	deployKey           string
	ageKey              string
	knownHosts          string
	kubeconfigOut       string
	until               string
	chartCache          string
}

func newBootstrapCommand(s Streams) *cobra.Command {
	var f bootstrapFlags
	cmd := &cobra.Command{
		Use:   "bootstrap SITE [--dry-run]",
		Short: "Create a site's self-managed management cluster with the kind-based pivot",
		Long: `bootstrap brings up the site's management cluster from nothing: an ephemeral
cluster (kind, or an existing one given by --ephemeral-kubeconfig) gets the
Cluster API providers pinned in the site, installs the management cluster's
chart under its release identity, installs the base platform (CNI, cloud
controller) into the new cluster under the identities of its Flux addon
releases, waits for the cluster to be ready, moves every Cluster API object
and the Helm release into it with clusterctl, installs Flux from the
generated tree's flux-system objects, and verifies the result before it
deletes the ephemeral cluster.

Every step reads its state from the clusters, so an interrupted run resumes
where it stopped when run again; a finished site is left as it is. With
--dry-run it prints the plan and changes nothing.

Exit codes: 0 done or plan printed; 1 a step failed (state kept, rerun
resumes); 2 could not run.`,
		Example: `  # what will happen?
  capiform bootstrap lon --dry-run

  # do it, with Flux reading the repository through a deploy key
  ssh-keyscan git.example.org > known_hosts
  capiform bootstrap lon --deploy-key ~/.ssh/fleet-deploy --known-hosts known_hosts

  # stop after the management cluster is ready, to look around
  capiform bootstrap lon --deploy-key key --known-hosts known_hosts --until wait-ready --keep-ephemeral`,
		Args: cobra.ExactArgs(1),
		// It waits on the cloud and on controllers, and resumes when
		// run again: no deadline unless --timeout is given.
		Annotations: map[string]string{noDefaultTimeout: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			site := args[0]
			if !f.dryRun && f.deployKey == "" {
				return &exitError{code: ExitCantRun, msg: "bootstrap needs --deploy-key FILE: the SSH key Flux reads the repository with"}
			}
			root := rootDir(cmd)
			log := func(format string, a ...any) { fmt.Fprintf(s.Err, format+"\n", a...) }
			in := bootstrap.SiteInput{
				FS:                  source.Worktree(root),
				RepoDir:             root,
				Site:                site,
				DeployKeyFile:       f.deployKey,
				AgeKeyFile:          f.ageKey,
				KnownHostsFile:      f.knownHosts,
				EphemeralKubeconfig: f.ephemeralKubeconfig,
				TargetKubeconfig:    f.kubeconfigOut,
				KeepEphemeral:       f.keepEphemeral,
				DryRun:              f.dryRun,
				Log:                 log,
			}
			if !f.dryRun {
				cache := f.chartCache
				if cache == "" {
					cache = bootstrap.DefaultChartCache()
				}
				in.Charts = &bootstrap.HelmRepositoryFetcher{CacheDir: cache}
			}
			opts, err := bootstrap.SiteOptions(cmd.Context(), in)
			if err != nil {
				return err
			}
			if f.until != "" {
				var names []string
				for _, step := range bootstrap.Plan(opts) {
					names = append(names, step.Name)
				}
				if !slices.Contains(names, f.until) {
					return &exitError{code: ExitCantRun, msg: fmt.Sprintf("--until %s: no such step; the steps are %s", f.until, strings.Join(names, ", "))}
				}
			}
			opts.StopAfter = f.until
			if f.dryRun {
				fmt.Fprintf(s.Out, "bootstrap plan for site %s (management cluster %s):\n", site, opts.ManagementCluster)
				for i, step := range bootstrap.Plan(opts) {
					fmt.Fprintf(s.Out, "%2d. %-18s %s\n", i+1, step.Name, step.Description)
				}
				return nil
			}
			err = bootstrap.Run(cmd.Context(), opts)
			switch {
			case err == nil:
				fmt.Fprintf(s.Err, "site %s is self-managed; its kubeconfig is %s\n", site, opts.TargetKubeconfig)
				return nil
			case errors.Is(err, bootstrap.ErrStopped):
				fmt.Fprintf(s.Err, "stopped after %s as asked; run again to go on\n", f.until)
				return nil
			default:
				return failed("bootstrap of site %s stopped: %v\nthe state is kept: fix the cause and run the same command again to resume (see docs/bootstrap.md)", site, err)
			}
		},
	}
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().StringVar(&f.ephemeralKubeconfig, "ephemeral-kubeconfig", "", "use the existing cluster of this kubeconfig instead of creating a kind cluster")
	cmd.Flags().BoolVar(&f.keepEphemeral, "keep-ephemeral", false, "keep the kind cluster after a successful run")
	cmd.Flags().StringVar(&f.ageKey, "age-key", "", "the site's age identity file, stored as flux-system/sops-age for kustomize-controller to decrypt the site's Secrets (required when the site has spec.secrets)")
	cmd.Flags().StringVar(&f.deployKey, "deploy-key", "", "the SSH private key Flux reads the repository with (required unless --dry-run)")
	cmd.Flags().StringVar(&f.knownHosts, "known-hosts", "", "known_hosts for the git host")
	cmd.Flags().StringVar(&f.kubeconfigOut, "kubeconfig-out", "", "where to write the management cluster's kubeconfig (0600); default <site>-<cluster>.kubeconfig")
	cmd.Flags().StringVar(&f.until, "until", "", "stop after this step (see --dry-run for their names); a later run goes on")
	cmd.Flags().StringVar(&f.chartCache, "chart-cache", "", "folder for downloaded addon charts; default the user cache folder")
	return cmd
}
