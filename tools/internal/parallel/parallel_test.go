package parallel

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestForRunsEachOnceOnAtMostWorkers(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 100} {
		const n = 50
		var seen [n]atomic.Int32
		var mu sync.Mutex
		ws := map[int]bool{}
		if err := For(context.Background(), n, workers, func(w, i int) {
			seen[i].Add(1)
			mu.Lock()
			ws[w] = true
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
		for i := range seen {
			if got := seen[i].Load(); got != 1 {
				t.Errorf("workers %d: item %d ran %d times", workers, i, got)
			}
		}
		for w := range ws {
			if w < 0 || (workers > 0 && w >= workers) {
				t.Errorf("workers %d: goroutine number %d", workers, w)
			}
		}
	}
	if err := For(context.Background(), 0, 2, func(int, int) { t.Error("ran with nothing to do") }); err != nil {
		t.Error(err)
	}
}

func TestForStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	err := For(ctx, 1000, 1, func(_, i int) {
		ran.Add(1)
		if i == 10 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if n := ran.Load(); n > 12 {
		t.Errorf("%d items ran after the cancel", n-11)
	}
}
