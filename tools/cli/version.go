package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/about"
)

func init() { extraCommands = append(extraCommands, newVersionCommand) }

type versionFlags struct {
	output string
}

func newVersionCommand(s Streams) *cobra.Command {
	var f versionFlags
	cmd := &cobra.Command{
		Use:   "version [-o text|json]",
		Short: "Print capiform's version and the chart and policy versions it carries",
		Long: `version prints the module version of this binary (a tag such as v0.3.0 when
installed with go install ...@v0.3.0; a pseudo-version or (devel) when built
from a checkout), the version of the openstack-cluster chart that
capiform init lays out, and the version and digest of the policies that
validate checks definitions against.`,
		Example: `  capiform version
  capiform version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(f.output, "text", "json"); err != nil {
				return err
			}
			info, err := about.Read()
			if err != nil {
				return err
			}
			if f.output == "json" {
				b, err := json.MarshalIndent(info, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(s.Out, "%s\n", b)
				return err
			}
			printVersion(s.Out, info)
			return nil
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "text or json")
	return cmd
}

func printVersion(w io.Writer, info about.Info) {
	fmt.Fprintf(w, "capiform %s", info.Version)
	if info.GoVersion != "" {
		fmt.Fprintf(w, " (%s)", info.GoVersion)
	}
	fmt.Fprintln(w)
	if info.Revision != "" {
		modified := ""
		if info.Modified {
			modified = " with uncommitted changes"
		}
		fmt.Fprintf(w, "  commit   %s%s\n", info.Revision, modified)
	}
	fmt.Fprintf(w, "  module   %s\n", info.Module)
	for _, c := range info.Charts {
		fmt.Fprintf(w, "  chart    %s %s\n", c.Name, c.Version)
	}
	fmt.Fprintf(w, "  policies %s (%s)\n", info.Policies.Version, info.Policies.Digest)
}
