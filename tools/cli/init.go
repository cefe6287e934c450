package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/about"
	"github.com/capiform/capiform/tools/scaffold"
)

func init() { extraCommands = append(extraCommands, newInitCommand) }

type initFlags struct {
	site        string
	ci          string
	toolVersion string
	gitURL      string
}

func newInitCommand(s Streams) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init [DIR] [--site NAME] [--ci github|gitlab|none] [--tool-version VERSION]",
		Short: "Lay out a new fleet repository: an example site, the chart, the base platform, CI",
		Long: `init lays out a fleet repository in DIR (default: the --root folder, the
current one), which may be new or empty:

  clusters/<site>/site.yaml, <site>-mgmt.yaml  an example site and its management
                                               cluster, every field commented
  charts/openstack-cluster/                    the chart this capiform carries
  platforms/base/, platforms/README.md         the platform every cluster needs
  policies/README.md, policies/schema.json     site policy, the editor schema
  .github/workflows/capiform.yaml              (--ci github) or .gitlab-ci.yml and
                                               ci/gitlab/ (--ci gitlab): validate,
                                               render --check and diff on every pull
                                               request, with capiform installed at
                                               --tool-version and cached

It never overwrites: if any of these files exists it writes nothing, names
them and exits 1. The pipeline installs --tool-version, by default this
binary's version when it is a release; a binary built from a checkout has
none, and the pipeline then installs "latest" until you pin it.

Next: replace the placeholders in clusters/<site>/, then capiform render,
and commit.`,
		Example: `  capiform init fleet --site lon
  capiform init . --ci gitlab --tool-version v0.3.0`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := rootDir(cmd)
			if len(args) == 1 {
				dir = args[0]
			}
			version := f.toolVersion
			if version == "" {
				info, err := about.Read()
				if err != nil {
					return err
				}
				if about.Released(info.Version) {
					version = info.Version
				} else {
					fmt.Fprintf(s.Err, "warning: this capiform is %s, not a release: the pipeline installs capiform@latest; pin it with --tool-version or by editing CAPIFORM_VERSION\n", info.Version)
				}
			}
			files, err := scaffold.Files(scaffold.Options{Site: f.site, CI: f.ci, ToolVersion: version, GitURL: f.gitURL})
			if err != nil {
				return &exitError{code: ExitCantRun, msg: "error: " + err.Error()}
			}
			if err := scaffold.Write(dir, files); err != nil {
				var ee *scaffold.ExistsError
				if errors.As(err, &ee) {
					return failed("init: %d path(s) of the new fleet exist already in %s; nothing was written, nothing overwritten:\n  %s",
						len(ee.Paths), dir, strings.Join(ee.Paths, "\n  "))
				}
				return err
			}
			site := f.site
			if site == "" {
				site = "example"
			}
			fmt.Fprintf(s.Err, "laid out %d file(s) in %s: replace the placeholders in clusters/%s/, then run capiform render and commit\n", len(files), dir, site)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.site, "site", "example", "the name of the example site (its management cluster is <site>-mgmt)")
	cmd.Flags().StringVar(&f.ci, "ci", scaffold.CIGitHub, "the pipeline to write: github, gitlab or none")
	cmd.Flags().StringVar(&f.toolVersion, "tool-version", "", "the capiform version the pipeline installs (default: this binary's, when a release)")
	cmd.Flags().StringVar(&f.gitURL, "git-url", "", "the URL of the fleet repository, which the site's Flux syncs")
	return cmd
}
