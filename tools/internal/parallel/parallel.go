// Package parallel runs independent pieces of work on every CPU.
package parallel

import (
	"context"
	"runtime"
	"sync"
)

// For calls do(w, i) for every i in [0, n), on at most workers goroutines
// (0 or less: one a CPU), w being the number of the goroutine that runs it
// (for state kept per goroutine, such as a CUE context). It stops handing
// out work once ctx is done, waits for what runs, and returns ctx's error.
func For(ctx context.Context, n, workers int, do func(w, i int)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				do(w, i)
			}
		}()
	}
	var err error
	for i := range n {
		if err = ctx.Err(); err != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return err
	}
	return ctx.Err()
}
