package cli

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/policy"
)

// pipelineOptions are the stages every command runs over a revision.
func pipelineOptions(fsys fs.FS) pipeline.Options {
	return pipeline.Default(fsys)
}

// validatorWithBase adds the change rules against base.
func validatorWithBase(head, base fs.FS) pipeline.Validator {
	return pipeline.Policy(head, base)
}

// formatDiagnostics prints diagnostics in the chosen format and turns
// them into exit code 1; other errors pass through.
func formatDiagnostics(s Streams, err error, format string) error {
	var dl diag.List
	if !errors.As(err, &dl) {
		return err
	}
	switch format {
	case "text", "":
		return err
	case "json", "github":
		s.Out.Write(policy.Format(dl, format))
		return silent(ExitFailed)
	default:
		return &exitError{code: ExitCantRun, msg: fmt.Sprintf("unknown output format %q: use text, json or github", format)}
	}
}
