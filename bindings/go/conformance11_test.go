package micropool

// The kinds of tests/conformance/cases-1.1.txt, which says what each one
// does and expects.

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// levelOf is the level of task i in the kinds that mix them: Low, Normal
// and High in turn.
func levelOf(i int) Level { return Level(i%3 - 1) }

// waitRun waits for a task without running it on this goroutine.
func waitRun(t *testing.T, task *Task) error {
	t.Helper()
	err := task.WaitTimeout(30 * time.Second)
	if errors.Is(err, ErrTimedOut) {
		t.Fatalf("a task did not finish in 30 s")
	}
	return err
}

func confPrioOrder(t *testing.T, c confCase) confResult {
	p := newConfPool(t, 2)
	started, open := make(chan struct{}), make(chan struct{})
	gate := p.Submit(func() error { close(started); <-open; return nil })
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		close(open)
		t.Fatal("the worker did not take the gate task")
	}
	var next atomic.Int64
	seen := make([]int, c.a)
	tasks := make([]*Task, c.a)
	prio := [3]Level{High, Normal, Low}
	for i := range tasks {
		i := i
		tasks[i] = p.Submit(func() error {
			seen[next.Add(1)-1] = i
			return nil
		}, Priority(prio[i%3]))
	}
	close(open)
	// Only the worker may run them: a wait that runs a task here would
	// run it beside the worker, out of its order.
	for _, task := range append(tasks, gate) {
		if err := waitRun(t, task); err != nil {
			return confResult{err: err}
		}
	}
	var good, pos int64
	for level := 0; level < 3; level++ {
		for i := level; i < c.a; i += 3 {
			if seen[pos] == i {
				good++
			}
			pos++
		}
	}
	return confResult{value: good}
}

func confAfterChain(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	var next atomic.Int64
	seen := make([]int, c.a)
	var prev *Task
	for i := 0; i < c.a; i++ {
		i := i
		f := func() error { seen[next.Add(1)-1] = i; return nil }
		if prev == nil {
			prev = p.Submit(f)
		} else {
			prev = p.Submit(f, After(prev)) // the one before is dropped
		}
	}
	if err := prev.Wait(); err != nil {
		return confResult{err: err}
	}
	var good int64
	for i, v := range seen {
		if v == i {
			good++
		}
	}
	return confResult{value: good}
}

func confAfterDiamond(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	var ran atomic.Int64
	count := func() error { ran.Add(1); return nil }
	root := p.Submit(count)
	mid := make([]*Task, c.a)
	for i := range mid {
		mid[i] = p.Submit(count, After(root))
	}
	var saw int64
	end := p.Submit(func() error { saw = ran.Load(); ran.Add(1); return nil }, After(mid...))
	if err := end.Wait(); err != nil {
		return confResult{err: err}
	}
	if saw != int64(c.a)+1 {
		t.Fatalf("the last task saw %d of %d tasks done", saw, c.a+1)
	}
	return confResult{value: ran.Load()}
}

func confAfterCancelOnError(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	errRoot := errors.New("prerequisite failed")
	root := p.Submit(func() error { return errRoot })
	var ran atomic.Int64
	cancelled := 0
	for i := 0; i < c.a+c.b; i++ {
		opts := []TaskOption{After(root)}
		if i < c.a {
			opts = append(opts, CancelOnError())
		}
		err := p.Submit(func() error { ran.Add(1); return nil }, opts...).Wait()
		switch {
		case i < c.a && errors.Is(err, ErrCanceled):
			cancelled++
		case i < c.a || err != nil:
			t.Fatalf("dependent %d: Wait = %v", i, err)
		}
	}
	if err := root.Wait(); err != errRoot {
		t.Fatalf("the failing prerequisite's Wait = %v, not its error", err)
	}
	if cancelled != c.a {
		t.Fatalf("%d of %d dependents with CancelOnError were cancelled", cancelled, c.a)
	}
	return confResult{value: ran.Load()}
}

func confBoundWorker(t *testing.T, c confCase) confResult {
	if c.threads < 2 {
		t.Fatalf("bound_worker needs a pool with workers (threads >= 2), got %d", c.threads)
	}
	p := newConfPool(t, c.threads)
	var good atomic.Int64
	tasks := make([]*Task, c.a)
	for i := range tasks {
		want := 1 + i%(c.threads-1)
		tasks[i] = p.Submit(func() error {
			if p.ThreadIndex() == want {
				good.Add(1)
			}
			return nil
		}, OnThread(want))
	}
	for _, task := range tasks {
		if err := task.Wait(); err != nil {
			return confResult{err: err}
		}
	}
	return confResult{value: good.Load()}
}

func confPinnedRun(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	var ran atomic.Int64
	for i := 0; i < c.a; i++ {
		if err := p.Submit(func() error { ran.Add(1); return nil }, OnThread(0), Priority(levelOf(i))); err.c == nil {
			return confResult{err: err.fails}
		}
	}
	time.Sleep(10 * time.Millisecond)
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d tasks bound to thread 0 ran on a worker", n)
	}
	n, err := p.RunPinned(0)
	if err != nil {
		return confResult{err: err}
	}
	if int64(n) != ran.Load() {
		t.Fatalf("RunPinned = %d, but %d ran", n, ran.Load())
	}
	return confResult{value: int64(n)}
}

func confWaitForTimeout(t *testing.T, c confCase) confResult {
	p := newConfPool(t, 1) // no worker: nobody runs the task
	task := SubmitValue(p, func() (int64, error) { return 7, nil })
	if _, err := task.WaitTimeout(time.Duration(c.b) * time.Microsecond); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("WaitTimeout = %v, want ErrTimedOut", err)
	}
	if task.Done() {
		t.Fatal("the task is done after the timeout")
	}
	v, err := task.Wait()
	return confResult{value: v, err: err}
}

func confYieldOutside(t *testing.T, c confCase) confResult {
	p := newConfPool(t, 1)
	var ran atomic.Int64
	for i := 0; i < c.a; i++ {
		opts := []TaskOption{Priority(levelOf(i))}
		if i%2 == 1 {
			opts = append(opts, OnThread(0))
		}
		p.Submit(func() error { ran.Add(1); return nil }, opts...)
	}
	var yields int64
	for p.Yield() {
		yields++
	}
	if yields != ran.Load() {
		t.Fatalf("%d yields ran a task, %d tasks ran", yields, ran.Load())
	}
	return confResult{value: yields}
}
