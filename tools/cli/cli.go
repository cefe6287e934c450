// Package cli is capiform's command layer: each command parses its flags,
// makes one library call and prints the result. Errors are printed in one
// place, Main, which also decides the exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/diag"
)

// Exit codes of every command (see the README).
const (
	ExitOK      = 0
	ExitFailed  = 1 // the definitions are at fault, or a check found something
	ExitCantRun = 2 // capiform could not run
)

// exitError carries an exit code and what to print.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// failed is an error that exits 1 with msg.
func failed(format string, args ...any) error {
	return &exitError{code: ExitFailed, msg: fmt.Sprintf(format, args...)}
}

// silent exits with code and prints nothing more.
func silent(code int) error { return &exitError{code: code} }

// Streams are the command's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs capiform with args and returns the exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := Streams{In: in, Out: out, Err: errOut}
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return report(err, errOut)
}

// report prints err once and returns its exit code. An error may quote the
// repository under review (a chart's or kustomize's error quotes values),
// so each of its lines is made safe for a CI log (diag.Lines): no line
// it prints starts a workflow command.
func report(err error, w io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var (
		ee *exitError
		dl diag.List
	)
	switch {
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(w, diag.Lines(ee.msg))
		}
		return ee.code
	case errors.As(err, &dl):
		fmt.Fprintln(w, dl.Error()) // a diagnostic is a safe line
		fmt.Fprintf(w, "%d problem(s) found\n", len(dl))
		return ExitFailed
	default:
		fmt.Fprintf(w, "error: %s\n", diag.Lines(err.Error()))
		return ExitCantRun
	}
}

// NewCommand builds the root command.
func NewCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "capiform",
		Short: "Render, check, diff and bootstrap Cluster API clusters on OpenStack, the GitOps way",
		Long: `capiform turns the small Site and Cluster definitions under clusters/ into the
Flux tree that a self-managed Cluster API management cluster reconciles,
checks every change against the site's policy, and tells a reviewer which
machines a change will roll, replace, scale or delete.

Exit codes: 0 success; 1 the definitions are at fault or a check found
something (for diff: there are changes); 2 capiform could not run.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().StringP("root", "C", ".", "the repository's root folder")
	root.AddCommand(
		newValidateCommand(s),
		newRenderCommand(s),
		newExpandCommand(s),
	)
	for _, extra := range extraCommands {
		root.AddCommand(extra(s))
	}
	return root
}

// extraCommands are added by the other files of this package.
var extraCommands []func(Streams) *cobra.Command

func rootDir(cmd *cobra.Command) string {
	dir, _ := cmd.Flags().GetString("root")
	return dir
}

// checkOutput refuses an -o format the command does not have before any
// work is done: a usage error, exit 2, whatever the definitions hold.
func checkOutput(format string, known ...string) error {
	if format == "" || slices.Contains(known, format) {
		return nil
	}
	names := slices.DeleteFunc(slices.Clone(known), func(s string) bool { return s == "md" })
	return &exitError{code: ExitCantRun, msg: fmt.Sprintf("unknown output format %q: use %s or %s",
		format, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])}
}
