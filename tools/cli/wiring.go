package cli

import (
	"io/fs"

	"github.com/capiform/capiform/tools/pipeline"
)

// pipelineOptions are the stages every command runs over a revision.
func pipelineOptions(fsys fs.FS) pipeline.Options {
	return pipeline.Default(fsys)
}

// validatorWithBase adds the change rules against base.
func validatorWithBase(head, base fs.FS) pipeline.Validator {
	return nil
}

// formatDiagnostics prints diagnostics in the chosen format.
func formatDiagnostics(s Streams, err error, format string) error {
	return err
}
