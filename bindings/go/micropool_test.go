package micropool

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func newPool(t *testing.T, threads int) *Pool {
	t.Helper()
	p, err := New(Config{Threads: threads})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestVersion(t *testing.T) {
	if v := Version(); v != "1.1.0" {
		t.Fatalf("Version() = %q", v)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{Threads: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Threads -1: %v", err)
	}
	if _, err := New(Config{Threads: MaxThreads + 1}); !errors.Is(err, ErrInvalid) || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Threads MaxThreads+1: %v", err)
	}
	if _, err := New(Config{Name: "a\x00b"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Name with NUL: %v", err)
	}
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Threads() < 1 {
		t.Errorf("default pool has %d threads", p.Threads())
	}
	for _, spin := range []time.Duration{-1, time.Nanosecond, 5 * time.Millisecond} {
		q, err := New(Config{Threads: 2, Spin: spin, Pin: true, Name: "gotest"})
		if err != nil {
			t.Fatalf("Spin %v: %v", spin, err)
		}
		if err := q.For(100, 1, func(lo, hi int) error { return nil }); err != nil {
			t.Errorf("Spin %v: For: %v", spin, err)
		}
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func TestErrno(t *testing.T) {
	for _, c := range []struct {
		err  Errno
		errn syscall.Errno
	}{
		{ErrInvalid, syscall.EINVAL}, {ErrNoMemory, syscall.ENOMEM}, {ErrBusy, syscall.EBUSY},
		{ErrDeadlock, syscall.EDEADLK}, {ErrShutdown, syscall.ESHUTDOWN}, {ErrCanceled, syscall.ECANCELED},
	} {
		if int(c.err) != -int(c.errn) {
			t.Errorf("%v = %d, want -%d", c.err, int(c.err), int(c.errn))
		}
		if !errors.Is(c.err, c.errn) {
			t.Errorf("errors.Is(%v, %v) is false", c.err, c.errn)
		}
		msg := c.err.Error()
		if !strings.HasPrefix(msg, "micropool: ") || len(msg) <= len("micropool: ") {
			t.Errorf("Error() = %q", msg)
		}
	}
	if errors.Is(ErrInvalid, ErrBusy) || errors.Is(ErrInvalid, syscall.EBUSY) {
		t.Errorf("distinct codes match")
	}
	if !errors.Is(ErrClosed, ErrShutdown) {
		t.Errorf("ErrClosed does not match ErrShutdown")
	}
}

func TestNilCallbacks(t *testing.T) {
	p := newPool(t, 2)
	ok := func() error { return nil }
	if err := p.Join(nil, ok); !errors.Is(err, ErrInvalid) {
		t.Errorf("Join(nil): %v", err)
	}
	if err := p.For(10, 1, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("For(nil): %v", err)
	}
	if err := p.For(-1, 1, func(lo, hi int) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("For(-1): %v", err)
	}
	if _, err := Reduce(p, 10, 0, 0, nil, func(a, b int) int { return a + b }); !errors.Is(err, ErrInvalid) {
		t.Errorf("Reduce(nil fold): %v", err)
	}
	if err := p.Broadcast(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Broadcast(nil): %v", err)
	}
	if err := p.Scope(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Scope(nil): %v", err)
	}
	if err := p.Scope(func(s *Scope) error { s.Spawn(nil); return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("Spawn(nil): %v", err)
	}
	if err := p.Submit(nil).Wait(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Submit(nil): %v", err)
	}
}

// Callbacks run on the pool's threads at the same time: every part of a
// broadcast waits until all parts have arrived, which only returns if they
// all run at once.
func TestCallbacksRunInParallel(t *testing.T) {
	const threads = 2
	if runtime.GOMAXPROCS(0) < threads {
		t.Skipf("GOMAXPROCS is %d: Go code runs on at most that many threads at once", runtime.GOMAXPROCS(0))
	}
	p := newPool(t, threads)
	var arrived sync.WaitGroup
	arrived.Add(threads)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	err := p.Broadcast(func(index, count int) error {
		arrived.Done()
		select {
		case <-all:
			return nil
		case <-time.After(time.Minute):
			return errors.New("the broadcast parts did not run at the same time")
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// The same for ordinary For parts: two ranges meet at a barrier, which
	// is only possible when two threads run them.
	var met sync.WaitGroup
	met.Add(2)
	both := make(chan struct{})
	go func() { met.Wait(); close(both) }()
	var threadsSeen sync.Map
	err = p.For(2, 1, func(lo, hi int) error {
		threadsSeen.Store(p.ThreadIndex(), true)
		for i := lo; i < hi; i++ {
			met.Done()
		}
		select {
		case <-both:
			return nil
		case <-time.After(time.Minute):
			return errors.New("the two For parts did not run at the same time")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	threadsSeen.Range(func(k, v any) bool { n++; return true })
	if n != 2 {
		t.Fatalf("For parts ran on %d thread(s), want 2", n)
	}
}

func TestPanicComesBack(t *testing.T) {
	p := newPool(t, 2)
	check := func(what string, err error, want any) {
		t.Helper()
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: got %v, want a *PanicError", what, err)
		}
		if pe.Value != want {
			t.Fatalf("%s: panic value %v, want %v", what, pe.Value, want)
		}
		if !strings.Contains(pe.Error(), "panic") || len(pe.Stack) == 0 {
			t.Fatalf("%s: PanicError %q with %d bytes of stack", what, pe.Error(), len(pe.Stack))
		}
	}
	check("Join", p.Join(func() error { return nil }, func() error { panic("in b") }), "in b")
	check("For", p.For(100, 1, func(lo, hi int) error {
		if lo <= 42 && 42 < hi {
			panic(42)
		}
		return nil
	}), 42)
	check("Broadcast", p.Broadcast(func(i, n int) error { panic("bc") }), "bc")
	check("Scope body", p.Scope(func(s *Scope) error { panic("body") }), "body")
	check("Scope task", p.Scope(func(s *Scope) error {
		s.Spawn(func() error { panic("task") })
		return nil
	}), "task")
	check("Submit", p.Submit(func() error { panic("bg") }).Wait(), "bg")
	_, err := Reduce(p, 100, 1, 0, func(lo, hi, acc int) int { return acc + hi - lo },
		func(a, b int) int { panic("combine") })
	check("Reduce combine", err, "combine")

	// A panic with an error value is found by errors.Is.
	sentinel := errors.New("sentinel")
	err = p.For(10, 1, func(lo, hi int) error { panic(sentinel) })
	if !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is through PanicError failed: %v", err)
	}

	// The pool still works after all that.
	if v, err := Reduce(p, 1000, 10, 0, func(lo, hi, acc int) int { return acc + hi - lo },
		func(a, b int) int { return a + b }); err != nil || v != 1000 {
		t.Fatalf("after panics: Reduce = %d, %v", v, err)
	}
}

func TestFirstErrorSkipsTheRest(t *testing.T) {
	p := newPool(t, 2)
	stop := errors.New("stop")
	// 64 parts (the Deterministic partition of 64000 items with grain 1000),
	// and every part fails: each thread starts one part, maybe two, before
	// it sees the failure, so far fewer than 64 run, whatever the timing.
	var calls atomic.Int64
	err := p.ForPartition(64000, 1000, Deterministic, func(lo, hi int) error {
		calls.Add(1)
		return stop
	})
	if err != stop {
		t.Fatalf("For: %v", err)
	}
	if calls.Load() >= 64 {
		t.Fatalf("all %d parts ran although the first one failed", calls.Load())
	}
	// Join: if a fails, a b that was not taken yet is skipped; either way
	// the error of a comes back.
	if err := p.Join(func() error { return stop }, func() error { return nil }); err != stop {
		t.Fatalf("Join: %v", err)
	}
}

func TestReduceNonCommutative(t *testing.T) {
	p := newPool(t, 3)
	// String concatenation is associative but not commutative: the result
	// shows whether parts were combined in range order.
	digits := "0123456789"
	n := 2000
	want := strings.Repeat(digits, n/10)
	for _, part := range []Partition{Dynamic, Static, Deterministic} {
		got, err := ReducePartition(p, n, 7, part, "", func(lo, hi int, acc string) string {
			var b strings.Builder
			b.WriteString(acc)
			for i := lo; i < hi; i++ {
				b.WriteByte(digits[i%10])
			}
			return b.String()
		}, func(a, b string) string { return a + b })
		if err != nil || got != want {
			t.Fatalf("partition %d: got %d bytes (err %v), want the digits in order", part, len(got), err)
		}
	}
	// n == 0 gives the identity without calling anything.
	v, err := Reduce(p, 0, 0, "identity", func(lo, hi int, acc string) string { panic("called") },
		func(a, b string) string { panic("called") })
	if err != nil || v != "identity" {
		t.Fatalf("n = 0: %q, %v", v, err)
	}
}

func TestClose(t *testing.T) {
	p, err := New(Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Close from inside a callback of the same pool would wait on itself.
	err = p.For(4, 1, func(lo, hi int) error { return p.Close() })
	if err != ErrDeadlock {
		t.Fatalf("Close inside a callback: %v", err)
	}
	if err := p.Join(func() error { return nil }, func() error { return nil }); err != nil {
		t.Fatalf("the pool must still work after the refused Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.For(10, 1, func(lo, hi int) error { return nil }); err != ErrClosed {
		t.Fatalf("For after Close: %v", err)
	}
	task := p.Submit(func() error { return nil })
	if err := task.Wait(); err != ErrClosed || !task.Done() {
		t.Fatalf("Submit after Close: %v", err)
	}
	if p.Threads() != 0 || p.ThreadIndex() != -1 {
		t.Fatalf("closed pool: Threads %d, ThreadIndex %d", p.Threads(), p.ThreadIndex())
	}
	if _, err := p.Stats(); err != ErrClosed {
		t.Fatalf("Stats after Close: %v", err)
	}
}

func TestTasksDuringClose(t *testing.T) {
	// On a pool of one thread nothing runs a queued task before Close, so
	// the task surely runs while Close is under way.
	p, err := New(Config{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var forErr, closeErr error
	var late *Task
	first := p.Submit(func() error {
		// Still allowed while Close runs the queued tasks.
		forErr = p.For(100, 1, func(lo, hi int) error { return nil })
		late = p.Submit(func() error { return nil })
		closeErr = p.Close()
		return nil
	})
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("queued task: %v", err)
	}
	if forErr != nil {
		t.Fatalf("For inside a task run by Close: %v", forErr)
	}
	if err := late.Wait(); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Submit during Close: %v, want ErrShutdown", err)
	}
	if closeErr == nil {
		t.Fatalf("Close inside a task run by Close succeeded")
	}
}

func TestTaskCancelAndBusy(t *testing.T) {
	p := newPool(t, 2)
	started := make(chan struct{})
	release := make(chan struct{})
	task := p.Submit(func() error { close(started); <-release; return nil })
	<-started
	if err := task.Cancel(); err != ErrBusy {
		t.Fatalf("Cancel of a running task: %v", err)
	}
	if task.Done() {
		t.Fatalf("Done while the task still runs")
	}
	close(release)
	if err := task.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if !task.Done() {
		t.Fatalf("Done false after Wait")
	}
	if err := task.Cancel(); err != ErrBusy {
		t.Fatalf("Cancel of a finished task: %v", err)
	}

	// On a pool of one thread nothing runs a task until someone waits:
	// cancelling twice is fine, and the task never runs.
	q := newPool(t, 1)
	var ran atomic.Bool
	c := q.Submit(func() error { ran.Store(true); return nil })
	if err := c.Cancel(); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatalf("a cancelled task ran")
	}
	// A task on a one-thread pool runs inline in Wait.
	r := newPool(t, 1)
	v := 0
	if err := r.Submit(func() error { v = 7; return nil }).Wait(); err != nil || v != 7 {
		t.Fatalf("inline task: %d, %v", v, err)
	}
}

func TestDroppedTasksStillRun(t *testing.T) {
	p := newPool(t, 2)
	var wg sync.WaitGroup
	const n = 200
	wg.Add(n)
	for i := 0; i < n; i++ {
		p.Submit(func() error { wg.Done(); return nil })
	}
	runtime.GC() // the finalizers release the handles, not the tasks
	runtime.GC()
	wg.Wait()
}

func TestScopeSpawnAfterEnd(t *testing.T) {
	p := newPool(t, 2)
	var kept *Scope
	if err := p.Scope(func(s *Scope) error { kept = s; return nil }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatalf("Spawn after the scope ended did not panic")
		}
	}()
	kept.Spawn(func() error { return nil })
}

func TestScopeBorrowsCallerState(t *testing.T) {
	p := newPool(t, 2)
	data := make([]int, 1000)
	err := p.Scope(func(s *Scope) error {
		for i := range data {
			i := i
			s.Spawn(func() error { data[i] = i * i; return nil })
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range data {
		if v != i*i {
			t.Fatalf("data[%d] = %d", i, v)
		}
	}
}

func TestThreadHooks(t *testing.T) {
	var mu sync.Mutex
	started := map[int]int{}
	stopped := map[int]int{}
	p, err := New(Config{
		Threads:       3,
		OnThreadStart: func(i int) { mu.Lock(); started[i]++; mu.Unlock() },
		OnThreadStop:  func(i int) { mu.Lock(); stopped[i]++; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	// A broadcast reaches every worker, so each has started by its end.
	if err := p.Broadcast(func(i, n int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < 3; i++ {
		if started[i] != 1 || stopped[i] != 1 {
			t.Errorf("worker %d: started %d times, stopped %d times", i, started[i], stopped[i])
		}
	}
	if started[0] != 0 || stopped[0] != 0 || len(started) != 2 || len(stopped) != 2 {
		t.Errorf("hooks ran for %v / %v, want workers 1 and 2 only", started, stopped)
	}

	// A panicking hook comes back from Close.
	q, err := New(Config{Threads: 2, OnThreadStop: func(i int) { panic("stop hook") }})
	if err != nil {
		t.Fatal(err)
	}
	var pe *PanicError
	if err := q.Close(); !errors.As(err, &pe) || pe.Value != "stop hook" {
		t.Fatalf("Close after a panicking hook: %v", err)
	}
}

func TestStats(t *testing.T) {
	p := newPool(t, 2)
	before, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	const tasks = 10
	for i := 0; i < tasks; i++ {
		if err := p.Submit(func() error { return nil }).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if err := p.For(1000, 1, func(lo, hi int) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	after, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Jobs <= before.Jobs {
		t.Errorf("Jobs did not grow: %d -> %d", before.Jobs, after.Jobs)
	}
	// Counters may lag by a few events, so only ask for some progress.
	if after.TasksRun <= before.TasksRun {
		t.Errorf("TasksRun did not grow: %d -> %d", before.TasksRun, after.TasksRun)
	}
}

func TestConcurrentCallers(t *testing.T) {
	p := newPool(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				v, err := Reduce(p, 10000, 100, int64(0), sumIndices, addInt64)
				if err != nil || v != 49995000 {
					errs <- errors.New("wrong sum from a concurrent caller")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
