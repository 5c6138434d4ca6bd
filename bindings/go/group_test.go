package micropool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroup(t *testing.T) {
	for _, threads := range []int{1, 2} {
		p := newPool(t, threads)
		g := p.Group()
		var sum atomic.Int64
		for i := 1; i <= 100; i++ {
			i := i
			g.Go(func() error { sum.Add(int64(i)); return nil })
		}
		if err := g.Wait(); err != nil || sum.Load() != 5050 {
			t.Errorf("threads=%d: Wait: %v, sum %d", threads, err, sum.Load())
		}
		// Reusable after Wait, and functions may start more.
		g.Go(func() error {
			g.Go(func() error { sum.Add(1); return nil })
			return nil
		})
		if err := g.Wait(); err != nil || sum.Load() != 5051 {
			t.Errorf("threads=%d: nested: %v, sum %d", threads, err, sum.Load())
		}
	}
}

func TestGroupFirstError(t *testing.T) {
	p := newPool(t, 2)
	g, ctx := p.GroupContext(context.Background())
	first := errors.New("first")
	g.Go(func() error { return first })
	g.Go(func() error {
		<-ctx.Done() // cancelled by the first error
		return errors.New("second")
	})
	if err := g.Wait(); err != first {
		t.Errorf("Wait: %v", err)
	}
	if context.Cause(ctx) != first {
		t.Errorf("cause: %v", context.Cause(ctx))
	}
	g2 := p.Group()
	g2.Go(func() error { panic("oops") })
	var pe *PanicError
	if err := g2.Wait(); !errors.As(err, &pe) || pe.Value != "oops" {
		t.Errorf("panic: %v", err)
	}
	g3, ctx3 := p.GroupContext(context.Background())
	if err := g3.Wait(); err != nil || ctx3.Err() == nil {
		t.Errorf("empty group: %v, context %v", err, ctx3.Err())
	}
	g3.Go(nil)
	if err := g3.Wait(); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil f: %v", err)
	}
}

func TestGroupLimit(t *testing.T) {
	for _, threads := range []int{1, 2} {
		p := newPool(t, threads)
		g := p.Group()
		g.SetLimit(2)
		var active, most atomic.Int64
		var mu sync.Mutex
		for i := 0; i < 20; i++ {
			g.Go(func() error {
				n := active.Add(1)
				mu.Lock()
				if n > most.Load() {
					most.Store(n)
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
				active.Add(-1)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Errorf("threads=%d: Wait: %v", threads, err)
		}
		if m := most.Load(); m < 1 || m > 2 {
			t.Errorf("threads=%d: %d functions active at once with a limit of 2", threads, m)
		}
	}
	p := newPool(t, 2)
	g := p.Group()
	g.SetLimit(1)
	release := make(chan struct{})
	if !g.TryGo(func() error { <-release; return nil }) {
		t.Fatal("TryGo refused with room")
	}
	if g.TryGo(func() error { return nil }) {
		t.Error("TryGo accepted past the limit")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("SetLimit with an active function did not panic")
			}
		}()
		g.SetLimit(5)
	}()
	close(release)
	if err := g.Wait(); err != nil {
		t.Errorf("Wait: %v", err)
	}
	g.SetLimit(-1)
}

func TestGroupClosedPool(t *testing.T) {
	p, err := New(Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	g := p.Group()
	ran := false
	g.Go(func() error { ran = true; return nil })
	if err := g.Wait(); err != ErrClosed || ran {
		t.Errorf("Wait: %v, ran %v", err, ran)
	}
}
