package abandon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

var errCause = errors.New("the test's cause")

func TestRun(t *testing.T) {
	// block is work that never looks at its context; it ends with the test.
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	block := func(context.Context) (int, error) {
		<-stop
		return 0, nil
	}
	tests := []struct {
		name string
		// cancel ends the context: before Run, after a while, or never.
		cancel  string
		f       func(context.Context) (int, error)
		want    int
		wantErr string
		// units are what the record holds afterwards.
		units []string
	}{
		{name: "result", cancel: "never", f: func(context.Context) (int, error) { return 7, nil }, want: 7},
		{name: "error of the work", cancel: "never", f: func(context.Context) (int, error) { return 0, errors.New("bad chart") }, wantErr: "bad chart"},
		{name: "abandoned when the context ends", cancel: "later", f: block, wantErr: "expanding cluster lon/research: the test's cause", units: []string{"expanding cluster lon/research"}},
		{name: "nothing run on an ended context", cancel: "before", f: func(context.Context) (int, error) { t.Error("ran"); return 0, nil }, wantErr: "the test's cause"},
		{
			name:   "nested work is named by the outer unit",
			cancel: "later",
			f: func(ctx context.Context) (int, error) {
				return Run(ctx, "rendering the chart", block)
			},
			wantErr: "expanding cluster lon/research: the test's cause",
			units:   []string{"expanding cluster lon/research"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, rec := WithRecord(context.Background())
			ctx, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			switch tt.cancel {
			case "before":
				cancel(errCause)
			case "later":
				time.AfterFunc(50*time.Millisecond, func() { cancel(errCause) })
			}
			got, err := Run(ctx, "expanding cluster lon/research", tt.f)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %d, %v; want %d", got, err, tt.want)
				}
			} else {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if tt.cancel != "never" && !errors.Is(err, errCause) {
					t.Errorf("errors.Is(%v, cause) is false", err)
				}
			}
			if units := rec.Units(); !slices.Equal(units, tt.units) {
				t.Errorf("record %q, want %q", units, tt.units)
			}
		})
	}
}

func TestRunDeadlineIsDeadlineExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, "evaluating clusters/lon/policy.cue", func(context.Context) (struct{}, error) {
		time.Sleep(time.Second)
		return struct{}{}, nil
	})
	var ae *Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ae) || ae.What != "evaluating clusters/lon/policy.cue" {
		t.Fatalf("got %v", err)
	}
}

func TestRunRaisesThePanicInTheCaller(t *testing.T) {
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v, want boom", p)
		}
	}()
	Run(context.Background(), "x", func(context.Context) (int, error) { panic("boom") })
	t.Fatal("no panic")
}

func TestFirst(t *testing.T) {
	named := &Error{What: "expanding cluster lon/research", Cause: context.Canceled}
	tests := []struct {
		name string
		errs []error
		want error
	}{
		{name: "no unit abandoned", errs: []error{nil, errors.New("bad chart")}, want: context.Canceled},
		{name: "the first abandoned", errs: []error{nil, errors.New("bad chart"), named, &Error{What: "later", Cause: context.Canceled}}, want: named},
		{name: "wrapped", errs: []error{fmt.Errorf("site lon: %w", named)}, want: named},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := First(tt.errs, context.Canceled); !errors.Is(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
