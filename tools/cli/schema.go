package cli

import (
	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/policy"
)

func init() { extraCommands = append(extraCommands, newSchemaCommand) }

func newSchemaCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the definition kinds, for editors",
		Long: `schema prints a JSON Schema of the Site and Cluster kinds, generated from the
CUE definitions in policies/ (the same file is committed as
policies/schema.json). Point yaml-language-server at it with a first line
like:

  # yaml-language-server: $schema=../../policies/schema.json`,
		Example: `  capiform schema > schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := policy.Schema()
			if err != nil {
				return err
			}
			_, err = s.Out.Write(b)
			return err
		},
	}
}
