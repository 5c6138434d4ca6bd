package micropool

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunPinned(t *testing.T) {
	p := newPool(t, 3)
	var onWorker atomic.Int32
	var ran atomic.Int32
	for i := 0; i < 6; i++ {
		p.Submit(func() error {
			if p.ThreadIndex() != 0 {
				onWorker.Add(1)
			}
			ran.Add(1)
			return nil
		}, OnThread(0), Priority(Level(i%3-1)))
	}
	time.Sleep(10 * time.Millisecond)
	if ran.Load() != 0 {
		t.Fatalf("%d tasks bound to thread 0 ran without RunPinned", ran.Load())
	}
	n, err := p.RunPinned(0)
	if err != nil || n != 6 || ran.Load() != 6 || onWorker.Load() != 0 {
		t.Fatalf("RunPinned: %d, %v; %d ran, %d not on thread 0", n, err, ran.Load(), onWorker.Load())
	}
	if _, err := p.RunPinned(-time.Second); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "-1s") {
		t.Fatalf("RunPinned(-1s): %v", err)
	}
	err = p.Broadcast(func(index, count int) error {
		if index == 0 {
			return nil
		}
		_, err := p.RunPinned(0)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "worker") {
			return errors.New("RunPinned on a worker: " + err.Error())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPinnedReady(t *testing.T) {
	p := newPool(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, err := p.PinnedReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
		t.Fatal("ready with nothing queued")
	case <-time.After(20 * time.Millisecond):
	}
	for round := 0; round < 3; round++ {
		var ran atomic.Int32
		for i := 0; i < 4; i++ {
			p.Submit(func() error { ran.Add(1); return nil }, OnThread(0))
		}
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: no value for 4 queued tasks", round)
		}
		if n, err := p.RunPinned(0); n != 4 || err != nil || ran.Load() != 4 {
			t.Fatalf("round %d: RunPinned %d, %v", round, n, err)
		}
		select {
		case <-ready:
			t.Fatalf("round %d: a value after RunPinned ran everything", round)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := p.PinnedReady(nil); !errors.Is(err, ErrInvalid) { //lint:ignore SA1012 the nil is the test
		t.Fatalf("nil ctx: %v", err)
	}
}

// The watch of PinnedReady ends with its context, and with the pool.
func TestPinnedReadyEnds(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newPool(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := p.PinnedReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PinnedReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the watches", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := p.PinnedReady(context.Background()); err != ErrClosed {
		t.Fatalf("PinnedReady on a closed pool: %v", err)
	}
}
