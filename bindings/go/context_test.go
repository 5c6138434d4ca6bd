package micropool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A context that is done before the call: nothing runs and the call
// returns ctx.Err().
func TestContextDoneBefore(t *testing.T) {
	p := newPool(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	var calls atomic.Int64
	if err := p.ForContext(ctx, 100, 1, func(lo, hi int) error { calls.Add(1); return nil }); err != context.DeadlineExceeded {
		t.Errorf("ForContext: %v", err)
	}
	fold := func(lo, hi, acc int) int { calls.Add(1); return acc + hi - lo }
	if v, err := ReduceContext(ctx, p, 100, 1, 0, fold, func(a, b int) int { return a + b }); err != context.DeadlineExceeded || v != 0 {
		t.Errorf("ReduceContext: %d, %v", v, err)
	}
	f := func() error { calls.Add(1); return nil }
	if err := p.JoinContext(ctx, f, f); err != context.DeadlineExceeded {
		t.Errorf("JoinContext: %v", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d callbacks ran", n)
	}
	var nilCtx context.Context
	if err := p.ForContext(nilCtx, 1, 1, func(lo, hi int) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("ForContext(nil): %v", err)
	}
}

// A context that never ends changes nothing.
func TestContextBackground(t *testing.T) {
	p := newPool(t, 2)
	ctx := context.Background()
	var items atomic.Int64
	if err := p.ForContext(ctx, 1000, 1, func(lo, hi int) error { items.Add(int64(hi - lo)); return nil }); err != nil || items.Load() != 1000 {
		t.Errorf("ForContext: %v, %d items", err, items.Load())
	}
	sum, err := ReduceContext(ctx, p, 1000, 1, 0, func(lo, hi, acc int) int {
		for i := lo; i < hi; i++ {
			acc += i
		}
		return acc
	}, func(a, b int) int { return a + b })
	if err != nil || sum != 999*1000/2 {
		t.Errorf("ReduceContext: %d, %v", sum, err)
	}
	ctx2, cancel := context.WithCancel(ctx)
	defer cancel()
	boom := errors.New("boom")
	if err := p.JoinContext(ctx2, func() error { return nil }, func() error { return boom }); err != boom {
		t.Errorf("JoinContext: %v", err)
	}
}

// On a pool of one thread, Join runs b after a: b is skipped when a
// cancels the context.
func TestJoinContextCancelSkipsB(t *testing.T) {
	p := newPool(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ranB := false
	err := p.JoinContext(ctx, func() error {
		cancel()
		waitDone(ctx)
		return nil
	}, func() error { ranB = true; return nil })
	if err != context.Canceled || ranB {
		t.Errorf("JoinContext: %v, b ran: %v", err, ranB)
	}
}

// waitDone waits until the watch of the operation has seen ctx end: the
// flag is set by a goroutine of context.AfterFunc, a moment after cancel.
func waitDone(ctx context.Context) {
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond)
}

// Cancelling in the middle of a For or Reduce: no range starts once the
// cancellation has been seen, and the call returns ctx.Err().
func TestContextCancelSkipsTheRest(t *testing.T) {
	p := newPool(t, 2)
	const n = 1 << 16
	for _, kind := range []string{"ForContext", "ReduceContext"} {
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		var items, late atomic.Int64
		var cancelled atomic.Int64 // time of the cancel plus the watch's delay
		part := func(lo, hi int) {
			if c := cancelled.Load(); c != 0 && time.Now().UnixNano() > c {
				late.Add(1)
			}
			items.Add(int64(hi - lo))
			once.Do(func() {
				cancel()
				waitDone(ctx)
				cancelled.Store(time.Now().UnixNano())
			})
			time.Sleep(time.Microsecond)
		}
		var err error
		if kind == "ForContext" {
			err = p.ForContext(ctx, n, 1, func(lo, hi int) error { part(lo, hi); return nil })
		} else {
			_, err = ReduceContext(ctx, p, n, 1, 0, func(lo, hi, acc int) int { part(lo, hi); return acc },
				func(a, b int) int { return a + b })
		}
		t.Logf("%s: %d of %d items run, %v", kind, items.Load(), n, err)
		if late.Load() != 0 {
			t.Errorf("%s: %d ranges started after the cancellation was seen", kind, late.Load())
		}
		// The first range is far shorter than n on 2 threads (an eighth of
		// it here), so some must have been skipped.
		if items.Load() >= n || err != context.Canceled {
			t.Errorf("%s: %d of %d items run, error %v, want fewer and context.Canceled", kind, items.Load(), n, err)
		}
		cancel()
	}
}
