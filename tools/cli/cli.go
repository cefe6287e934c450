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
	"time"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/abandon"
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

// DefaultTimeout is --timeout's default: far above what a CI run takes on
// a fleet of 1000 clusters (seconds), far below a CI job's own limit.
const DefaultTimeout = 10 * time.Minute

// noDefaultTimeout is the annotation of a command that has no deadline
// unless --timeout is given (bootstrap waits on clouds for long).
const noDefaultTimeout = "capiform/no-default-timeout"

// Main runs capiform with args and returns the exit code. It is the one
// place that handles signals: the first SIGINT or SIGTERM, like the
// deadline of --timeout, ends the command's context with a stopped cause;
// work that cannot look at the context is abandoned (see package abandon),
// so the command returns at once, and Main exits 130, 143 or 2 with what
// the command was doing. A second signal ends the process at once.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	ctx, rec := abandon.WithRecord(ctx)
	defer onSignal(stop)()
	streams := Streams{In: in, Out: out, Err: errOut}
	cmd := newCommand(streams, stop)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	var st *stopped
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &st) {
		// Whatever the command made of its ended context, its result
		// is not to be trusted: a deadline must never read as a pass.
		// Units are named after the repository's files: safe lines.
		fmt.Fprintln(errOut, diag.Lines(st.message(rec.Units())))
		return st.code()
	}
	return report(err, errOut)
}

// onSignal cancels the command's context with the first SIGINT or SIGTERM
// and then lets the next one end the process as if capiform had no
// handler. The returned function stops listening.
func onSignal(stop context.CancelCauseFunc) func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			signal.Stop(sigs)
			stop(&stopped{signal: sig})
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// stopped is the cause of a command's context ended early: a signal, or
// the deadline of --timeout when signal is nil.
type stopped struct {
	signal  os.Signal
	timeout time.Duration
}

func (s *stopped) Error() string {
	if s.signal != nil {
		return "interrupted by " + signalName(s.signal)
	}
	return fmt.Sprintf("timed out after %s (--timeout)", s.timeout)
}

// code is the exit code: 128 + the signal's number, as a shell reports a
// process that a signal ended (130 for SIGINT, 143 for SIGTERM), and 2,
// could not run, for the deadline.
func (s *stopped) code() int {
	if sig, ok := s.signal.(syscall.Signal); ok {
		return 128 + int(sig)
	}
	if s.signal != nil {
		return 128 + int(syscall.SIGINT)
	}
	return ExitCantRun
}

// message says what stopped the command and what it was working on, as
// the abandoned units of work named it.
func (s *stopped) message(units []string) string {
	msg := "error: " + s.Error()
	if len(units) > 0 {
		msg += " while " + strings.Join(units, ", and ")
	}
	if s.signal == nil {
		msg += ": raise --timeout (0 for none), or find what makes it slow"
	}
	return msg
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
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

// NewCommand builds the root command. Run through Main, which handles
// signals and arms the deadline of --timeout.
func NewCommand(s Streams) *cobra.Command { return newCommand(s, nil) }

// newCommand builds the root command; stop, when not nil, ends the
// command's context when --timeout runs out.
func newCommand(s Streams, stop context.CancelCauseFunc) *cobra.Command {
	root := &cobra.Command{
		Use:   "capiform",
		Short: "Render, check, diff and bootstrap Cluster API clusters on OpenStack, the GitOps way",
		Long: `capiform turns the small Site and Cluster definitions under clusters/ into the
Flux tree that a self-managed Cluster API management cluster reconciles,
checks every change against the site's policy, and tells a reviewer which
machines a change will roll, replace, scale or delete.

Exit codes: 0 success; 1 the definitions are at fault or a check found
something (for diff: there are changes); 2 capiform could not run, or ran
out of time (--timeout); 130 and 143 interrupted by SIGINT and SIGTERM.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return armTimeout(cmd, stop)
		},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().StringP("root", "C", ".", "the repository's root folder")
	root.PersistentFlags().Duration("timeout", DefaultTimeout, "give up after this long, with exit 2 and what was being worked on; 0 for no limit (bootstrap: none unless given)")
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

// armTimeout ends the command's context with a stopped cause once
// --timeout has passed.
func armTimeout(cmd *cobra.Command, stop context.CancelCauseFunc) error {
	d, err := cmd.Flags().GetDuration("timeout")
	if err != nil {
		return err
	}
	if d < 0 {
		return &exitError{code: ExitCantRun, msg: fmt.Sprintf("--timeout %s: give a positive duration such as 10m, or 0 for no limit", d)}
	}
	if cmd.Annotations[noDefaultTimeout] != "" && !cmd.Flags().Changed("timeout") {
		d = 0
	}
	if d == 0 || stop == nil {
		return nil
	}
	t := time.AfterFunc(d, func() { stop(&stopped{timeout: d}) })
	// The timer goes when the command's context does, at the latest when
	// Main returns.
	context.AfterFunc(cmd.Context(), func() { t.Stop() })
	return nil
}

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
