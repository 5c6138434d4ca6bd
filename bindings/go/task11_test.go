package micropool

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdWorker occupies the only worker of a pool of 2 threads until the
// returned function is called.
func holdWorker(t *testing.T, p *Pool) (release func()) {
	t.Helper()
	started, open := make(chan struct{}), make(chan struct{})
	p.Submit(func() error { close(started); <-open; return nil })
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not take the holding task")
	}
	return func() { close(open) }
}

func TestPriorityLevels(t *testing.T) {
	p := newPool(t, 2)
	release := holdWorker(t, p)
	var mu sync.Mutex
	var order []Level
	levels := []Level{Low, Normal, High, Low, High, Normal}
	tasks := make([]*Task, len(levels))
	for i, l := range levels {
		l := l
		tasks[i] = p.Submit(func() error {
			mu.Lock()
			order = append(order, l)
			mu.Unlock()
			return nil
		}, Priority(l))
	}
	release()
	for _, task := range tasks {
		// Waiting from here could run a task on this goroutine, out of
		// the worker's order: wait without running.
		if err := task.WaitTimeout(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	want := []Level{High, High, Normal, Normal, Low, Low}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("ran in the order %v, want %v", order, want)
		}
	}
}

func TestTaskOptionErrors(t *testing.T) {
	p := newPool(t, 2)
	other := newPool(t, 2)
	foreign := other.Submit(func() error { return nil })
	failed := p.Submit(nil)
	cases := []struct {
		opt  TaskOption
		want string
	}{
		{Priority(2), "Priority(2)"},
		{OnThread(-1), "OnThread(-1)"},
		{OnThread(2), "OnThread(2): the pool has threads 0..1"},
		{After(nil), "After: task 0 of 1 is nil"},
		{After(foreign), "After: task 0 of 1 belongs to another pool"},
		{After(failed), "After: task 0 of 1 was never submitted"},
		{Name("a\x00b"), "NUL"},
	}
	for _, c := range cases {
		var ran atomic.Bool
		err := p.Submit(func() error { ran.Store(true); return nil }, c.opt).Wait()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) ||
			!strings.HasPrefix(err.Error(), "micropool: Pool.Submit: ") {
			t.Errorf("want an ErrInvalid that says %q, got %v", c.want, err)
		}
		if ran.Load() {
			t.Errorf("%s: the task ran", c.want)
		}
	}
	if err := foreign.Wait(); err != nil {
		t.Fatal(err)
	}
	// The zero option changes nothing.
	if err := p.Submit(func() error { return nil }, TaskOption{}).Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestAfterOrder(t *testing.T) {
	p := newPool(t, 3)
	var mu sync.Mutex
	var order []int
	record := func(i int) func() error {
		return func() error {
			time.Sleep(time.Millisecond)
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			return nil
		}
	}
	a := p.Submit(record(0))
	b := p.Submit(record(1))
	c := SubmitValue(p, func() (int, error) { record(2)(); return 2, nil }, After(a, b))
	d := p.Submit(record(3), After(c.Task()))
	if err := d.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(order) != 4 || order[2] != 2 || order[3] != 3 {
		t.Fatalf("ran in the order %v: 2 must follow 0 and 1, and 3 follow 2", order)
	}
}

func TestCancelOnError(t *testing.T) {
	p := newPool(t, 2)
	errRoot := errors.New("root failed")
	root := p.Submit(func() error { return errRoot })
	var ran atomic.Int32
	flagged := p.Submit(func() error { ran.Add(1); return nil }, After(root), CancelOnError())
	chained := p.Submit(func() error { ran.Add(1); return nil }, After(flagged), CancelOnError())
	plain := p.Submit(func() error { ran.Add(100); return nil }, After(root))
	if err := flagged.Wait(); !errors.Is(err, ErrCanceled) {
		t.Fatalf("a flagged dependent of a failed task: %v, want ErrCanceled", err)
	}
	if err := chained.Wait(); !errors.Is(err, ErrCanceled) {
		t.Fatalf("a flagged dependent of a cancelled task: %v, want ErrCanceled", err)
	}
	if err := plain.Wait(); err != nil {
		t.Fatalf("a dependent without the flag: %v", err)
	}
	if err := root.Wait(); err != errRoot {
		t.Fatalf("root: %v", err)
	}
	if n := ran.Load(); n != 100 {
		t.Fatalf("runs counted %d, want 100 (only the dependent without the flag)", n)
	}
}

// A task that never runs, cancelled by its prerequisite without Go being
// told, lets go of its function once its Task is dropped.
func TestCancelledDependentIsFreed(t *testing.T) {
	p := newPool(t, 2)
	root := p.Submit(func() error { return errors.New("fail") })
	freed := make(chan struct{})
	func() {
		big := new([1 << 16]byte)
		runtime.SetFinalizer(big, func(*[1 << 16]byte) { close(freed) })
		p.Submit(func() error { big[0]++; return nil }, After(root), CancelOnError(), Name("dependent"))
	}()
	root.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the function of a cancelled dependent is still referenced")
		}
	}
}

func TestOnThreadWorker(t *testing.T) {
	p := newPool(t, 3)
	for w := 1; w <= 2; w++ {
		got := SubmitValue(p, func() (int, error) { return p.ThreadIndex(), nil }, OnThread(w))
		if i, err := got.Wait(); err != nil || i != w {
			t.Fatalf("a task bound to worker %d ran on thread %d (%v)", w, i, err)
		}
	}
}

func TestWaitTimeout(t *testing.T) {
	p := newPool(t, 1) // no worker: nobody runs the task
	task := SubmitValue(p, func() (int, error) { return 7, nil })
	start := time.Now()
	if _, err := task.WaitTimeout(20 * time.Millisecond); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("WaitTimeout: %v, want ErrTimedOut", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("WaitTimeout returned after %v", d)
	}
	if _, err := task.WaitTimeout(-1); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("WaitTimeout(-1): %v, want ErrTimedOut", err)
	}
	if task.Done() {
		t.Fatal("done after the timeouts")
	}
	if v, err := task.Wait(); v != 7 || err != nil {
		t.Fatalf("Wait after the timeouts: %d, %v", v, err)
	}
	if v, err := task.WaitTimeout(0); v != 7 || err != nil {
		t.Fatalf("WaitTimeout(0) of a finished task: %d, %v", v, err)
	}
}

func TestWaitContext(t *testing.T) {
	p := newPool(t, 1)
	var ran atomic.Bool
	task := p.Submit(func() error { ran.Store(true); return nil })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := task.WaitContext(ctx); err != context.DeadlineExceeded {
		t.Fatalf("WaitContext past the deadline: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start := time.Now()
	if err := task.WaitContext(ctx); err != context.Canceled {
		t.Fatalf("WaitContext cancelled: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the cancellation was seen after %v", d)
	}
	if ran.Load() || task.Done() {
		t.Fatal("WaitContext ran the task or changed it")
	}
	if err := task.WaitContext(nil); !errors.Is(err, ErrInvalid) { //lint:ignore SA1012 the nil is the test
		t.Fatalf("nil ctx: %v", err)
	}
	if err := task.Wait(); err != nil || !ran.Load() {
		t.Fatalf("Wait: %v", err)
	}
	// A finished task gives its result even with a context that is done.
	if err := task.WaitContext(ctx); err != nil {
		t.Fatalf("WaitContext of a finished task, ctx done: %v", err)
	}
	// On a pool with a worker, the wait ends when the task does.
	q := newPool(t, 2)
	v := SubmitValue(q, func() (int, error) { time.Sleep(5 * time.Millisecond); return 3, nil })
	if got, err := v.WaitContext(context.Background()); got != 3 || err != nil {
		t.Fatalf("WaitContext: %d, %v", got, err)
	}
}

func TestSubmitContext(t *testing.T) {
	p := newPool(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	task := p.SubmitContext(ctx, func() error { ran.Store(true); return nil })
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for !task.Done() {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled context did not cancel the task")
		}
		time.Sleep(time.Millisecond)
	}
	err := task.Wait()
	if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait: %v, want ErrCanceled and context.Canceled", err)
	}
	if ran.Load() {
		t.Fatal("the cancelled task ran")
	}
	// Done before the call: never submitted.
	if err := p.SubmitContext(ctx, func() error { ran.Store(true); return nil }).Wait(); err != context.Canceled {
		t.Fatalf("SubmitContext with a done ctx: %v", err)
	}
	// A live context changes nothing, and options still apply.
	q := newPool(t, 2)
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	errTask := errors.New("task error")
	if err := q.SubmitContext(ctx2, func() error { return errTask }, Priority(High)).Wait(); err != errTask {
		t.Fatalf("SubmitContext: %v", err)
	}
	if ran.Load() {
		t.Fatal("a task with a done context ran")
	}
}

func TestYield(t *testing.T) {
	p := newPool(t, 1)
	var ran atomic.Int32
	for i := 0; i < 3; i++ {
		p.Submit(func() error { ran.Add(1); return nil }, Priority(Level(i%3-1)))
	}
	for i := 1; i <= 3; i++ {
		if !p.Yield() || ran.Load() != int32(i) {
			t.Fatalf("Yield %d: ran %d", i, ran.Load())
		}
	}
	if p.Yield() {
		t.Fatal("Yield ran something with nothing queued")
	}
	p.Close()
	if p.Yield() {
		t.Fatal("Yield on a closed pool")
	}
}
