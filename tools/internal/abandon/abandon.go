// Package abandon runs work that cannot be interrupted in place (Helm's
// template engine, CUE's evaluator, a kustomize build) where it can be left
// behind: its caller gets the context's cause as soon as the context ends,
// while the work runs on alone on its own goroutine until the process, about
// to exit, ends it. A deadline or a signal so stops any command promptly,
// whatever its input makes the work do.
//
// A unit of work has a name for messages ("expanding cluster lon/research").
// A library says what it was doing through the error Run returns and, for a
// caller that only sees a context's error (a worker pool drops the errors of
// its units), through a Record in the context: the command layer reads it
// to say what the deadline or the signal interrupted, without the library
// printing anything.
package abandon

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Error is what Run returns for work it abandoned.
type Error struct {
	// What names the work, e.g. "expanding cluster lon/research".
	What string
	// Cause is why: the context's cause (context.Cause).
	Cause error
}

func (e *Error) Error() string { return e.What + ": " + e.Cause.Error() }

// Unwrap makes errors.Is(err, context.DeadlineExceeded) and the like hold.
func (e *Error) Unwrap() error { return e.Cause }

// unitKey marks a context handed to work that Run already runs apart.
type unitKey struct{}

// recordKey holds the Record of a context.
type recordKey struct{}

// Record collects the names of the units of work abandoned under a context.
type Record struct {
	mu    sync.Mutex
	units []string
}

// WithRecord returns a context whose abandoned units are noted in the
// returned Record.
func WithRecord(parent context.Context) (context.Context, *Record) {
	r := &Record{}
	return context.WithValue(parent, recordKey{}, r), r
}

// Units returns the names of the abandoned units, sorted, each once.
func (r *Record) Units() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.units)
	slices.Sort(out)
	return slices.Compact(out)
}

func (r *Record) add(what string) {
	r.mu.Lock()
	r.units = append(r.units, what)
	r.mu.Unlock()
}

// outcome is what f gave, or the panic it raised.
type outcome[T any] struct {
	v        T
	err      error
	panicked bool
	panicVal any
}

// Run calls f on a goroutine of its own and returns what f returns, or, as
// soon as ctx ends first, an *Error naming the work (what) with ctx's
// cause; f is then abandoned, not stopped. So f must change nothing but what
// it returns and what it alone uses, and the caller must not use again what
// it gave f (a CUE context, say) once Run has returned an *Error. A context
// that has already ended runs nothing and gives its cause.
//
// Work that f starts with the context it is given and that calls Run again
// runs inline: f is already apart, and the outer name says more.
//
// A panic in f is raised again in the caller, as if f had run there.
func Run[T any](ctx context.Context, what string, f func(context.Context) (T, error)) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, context.Cause(ctx)
	}
	if ctx.Value(unitKey{}) != nil {
		return f(ctx)
	}
	// Buffered, so that abandoned work can finish and be collected.
	done := make(chan outcome[T], 1)
	go func() {
		var o outcome[T]
		defer func() {
			if p := recover(); p != nil {
				o = outcome[T]{panicked: true, panicVal: p}
			}
			done <- o
		}()
		o.v, o.err = f(context.WithValue(ctx, unitKey{}, what))
	}()
	select {
	case o := <-done:
		return o.result()
	case <-ctx.Done():
	}
	// Work that ended with the context is not abandoned.
	select {
	case o := <-done:
		return o.result()
	default:
	}
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		r.add(what)
	}
	return zero, &Error{What: what, Cause: context.Cause(ctx)}
}

func (o outcome[T]) result() (T, error) {
	if o.panicked {
		panic(o.panicVal)
	}
	return o.v, o.err
}

// First returns the first of errs that says what it abandoned (an *Error),
// else err: for a worker pool that returns only its context's error while
// its units returned theirs.
func First(errs []error, err error) error {
	for _, e := range errs {
		if ae := (*Error)(nil); errors.As(e, &ae) {
			return e
		}
	}
	return err
}
