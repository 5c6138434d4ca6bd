package micropool

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// Task is a background task started by Pool.Submit. Its methods may be
// called from any goroutine, any number of times, also after the pool was
// closed. The C handle behind it is released when the Task is garbage
// collected; dropping a Task does not stop it.
type Task struct {
	c     *C.mp_task // nil when Submit failed
	pool  *C.mp_pool // the pool it was submitted to, for After
	state *taskState
	fails error // why Submit failed
}

type taskState struct {
	f       func() error
	what    string // the function that submitted it, for the message of Goexit
	err     error  // f's result, set before the task returns to the library
	slot    *opSlot
	dropped atomic.Bool

	// Since 1.1. The task may be cancelled without Go being told (by a
	// prerequisite, with CancelOnError), or has C memory to free once it
	// is done (its name): the Task's finalizer then waits for it to be done.
	settleFirst bool
	cname       *C.char

	// SubmitContext: stop ends the watch of the context once the task has
	// started; canceled is the context's error once the watch cancelled
	// the task.
	started  atomic.Bool
	stop     atomic.Pointer[func() bool]
	canceled atomic.Pointer[error]
}

// drop gives the slot back once: after the task ran, or when it can no
// longer run.
func (s *taskState) drop() {
	if s.dropped.CompareAndSwap(false, true) {
		s.slot.giveBack()
	}
}

func (s *taskState) runTask() C.int {
	defer s.drop()
	s.started.Store(true)
	if stop := s.stop.Load(); stop != nil {
		(*stop)()
	}
	if err := callFunc(s.what, s.f); err != nil {
		s.err = err
		return failureCode
	}
	return 0
}

// Submit queues f as a background task: the lower priority tier, run by a
// thread of the pool only when it has no Join, For, Reduce, Broadcast or
// Scope work. Tasks of one level start in the order they were submitted
// (a task with prerequisites once they have finished). Submit never
// runs f before it returns; on a pool of one thread f runs when a
// goroutine waits for it, or at Close.
//
// Since 1.1, options set the task's priority level, the thread that runs
// it, the tasks it waits for and its name: see TaskOption. A bad option
// (a thread index the pool does not have, a prerequisite of another pool)
// is an error that names it and matches ErrInvalid, and f never runs.
//
// Submit always returns a Task. If the task could not be queued (the pool
// is closed or closing, or out of memory, or an option is bad), f never
// runs and the Task's Wait returns the reason.
func (p *Pool) Submit(f func() error, opts ...TaskOption) *Task {
	if f == nil {
		return &Task{fails: invalidArg("Pool.Submit", "f is nil")}
	}
	return p.submit("Pool.Submit", f, opts)
}

// SubmitContext is Submit with a context (since 1.1): once ctx is done, a
// task that has not started is cancelled, and its Wait returns an error
// that matches both ErrCanceled and ctx.Err() (errors.Is(err,
// context.DeadlineExceeded), for one). A task that has started runs to its
// end; f may watch ctx itself to stop sooner. If ctx is done before the
// call, f never runs and Wait returns ctx.Err().
func (p *Pool) SubmitContext(ctx context.Context, f func() error, opts ...TaskOption) *Task {
	const fn = "Pool.SubmitContext"
	if ctx == nil {
		return &Task{fails: invalidArg(fn, "ctx is nil")}
	}
	if f == nil {
		return &Task{fails: invalidArg(fn, "f is nil")}
	}
	if err := ctx.Err(); err != nil {
		return &Task{fails: err}
	}
	t := p.submit(fn, f, opts)
	if t.c == nil || ctx.Done() == nil {
		return t
	}
	st := t.state
	c := t.c
	stop := context.AfterFunc(ctx, func() {
		// Recorded first: a waiter woken by the cancel must find it.
		err := ctx.Err()
		st.canceled.CompareAndSwap(nil, &err)
		if C.mp_task_cancel(c) == 0 {
			st.drop()
		}
		runtime.KeepAlive(t)
	})
	st.stop.Store(&stop)
	if st.started.Load() {
		stop() // the task may have started before the watch was stored
	}
	return t
}

func (p *Pool) submit(what string, f func() error, opts []TaskOption) *Task {
	c, err := p.handle()
	if err != nil {
		return &Task{fails: err}
	}
	st := &taskState{f: f, what: what}
	if len(opts) == 0 {
		st.slot = borrowSlot(taskRunner(st))
		t := &Task{pool: c, state: st}
		rc := C.micropool_go_submit(c, C.uintptr_t(st.slot.arg()), &t.c)
		runtime.KeepAlive(p)
		if rc != 0 {
			st.drop()
			return &Task{fails: Errno(rc)}
		}
		runtime.SetFinalizer(t, (*Task).release)
		return t
	}

	o, err := parseOptions(what, opts)
	if err != nil {
		return &Task{fails: err}
	}
	thread := C.uint(C.MP_ANY_THREAD)
	if o.thread >= 0 {
		if n := int(C.mp_pool_threads(c)); o.thread >= n {
			return &Task{fails: invalidArg(what, "OnThread(%d): the pool has threads 0..%d", o.thread, n-1)}
		}
		thread = C.uint(o.thread)
	}
	var after []*C.mp_task
	if len(o.after) > 0 {
		after = make([]*C.mp_task, len(o.after))
		for i, pre := range o.after {
			switch {
			case pre == nil:
				return &Task{fails: invalidArg(what, "After: task %d of %d is nil", i, len(o.after))}
			case pre.c == nil:
				return &Task{fails: invalidArg(what, "After: task %d of %d was never submitted (%v)", i, len(o.after), pre.fails)}
			case pre.pool != c:
				return &Task{fails: invalidArg(what, "After: task %d of %d belongs to another pool", i, len(o.after))}
			}
			after[i] = pre.c
		}
	}
	st.settleFirst = o.flags&C.MP_AFTER_CANCEL_ON_ERROR != 0
	if o.name != "" {
		st.cname = C.CString(o.name)
		st.settleFirst = true
	}
	st.slot = borrowSlot(taskRunner(st))
	t := &Task{pool: c, state: st}
	var afterPtr **C.mp_task
	if len(after) > 0 {
		afterPtr = &after[0]
	}
	rc := C.micropool_go_submit_ex(c, C.uintptr_t(st.slot.arg()), C.int(o.priority), thread,
		afterPtr, C.size_t(len(after)), o.flags, st.cname, &t.c)
	runtime.KeepAlive(p)
	runtime.KeepAlive(o.after)
	if rc != 0 {
		st.drop()
		if st.cname != nil {
			C.free(unsafe.Pointer(st.cname))
		}
		return &Task{fails: Errno(rc)}
	}
	runtime.SetFinalizer(t, (*Task).release)
	return t
}

// release is the Task's finalizer. A task that may settle without Go
// being told, or whose name is C memory, is released only once it is
// done: until then the finalizer is set again, for a later collection.
func (t *Task) release() {
	if C.mp_task_done(t.c) == 1 {
		t.state.drop() // a task that never ran: cancelled
		if t.state.cname != nil {
			C.free(unsafe.Pointer(t.state.cname))
			t.state.cname = nil
		}
	} else if t.state.settleFirst {
		runtime.SetFinalizer(t, (*Task).release)
		return
	}
	C.mp_task_release(t.c)
}

// Wait waits for the task and returns what f returned (the same error
// value), its panic as a *PanicError, ErrCanceled if the task was
// cancelled, or the reason Submit failed. A task that has not started yet
// is run by the waiting goroutine itself, unless it is bound to another
// thread (OnThread): then Wait lasts until that thread has run it.
func (t *Task) Wait() error {
	if t.c == nil {
		return t.fails
	}
	rc := C.mp_task_wait(t.c)
	runtime.KeepAlive(t)
	return t.result(rc)
}

// result turns what a wait returned into the task's error.
func (t *Task) result(rc C.int) error {
	switch {
	case rc == 0:
		return nil
	case rc == C.MP_ECANCELED:
		if cause := t.state.canceled.Load(); cause != nil {
			return &canceledError{cause: *cause}
		}
		return ErrCanceled
	case isLibraryCode(rc):
		return Errno(rc)
	case t.state.err != nil:
		return t.state.err
	default:
		return fmt.Errorf("micropool: task failed with unexpected code %d", int(rc))
	}
}

// WaitTimeout is Wait bounded to d (since 1.1): it returns ErrTimedOut
// when the task has not finished within d (d <= 0: when it has not
// finished yet), and leaves the task as it was, so that a later Wait,
// Done or Cancel works as before. Unlike Wait it never runs the task on
// the calling goroutine: on a pool of one thread, a task that nobody runs
// times out.
func (t *Task) WaitTimeout(d time.Duration) error {
	if t.c == nil {
		return t.fails
	}
	if d < 0 {
		d = 0
	}
	rc := C.mp_task_wait_for(t.c, C.uint64_t(d))
	runtime.KeepAlive(t)
	return t.result(rc)
}

// waitSlice is how long one bounded wait of WaitContext lasts at most
// when the context could be cancelled before its deadline: the delay, at
// worst, with which WaitContext sees such a cancellation.
const waitSlice = time.Millisecond

// WaitContext is Wait with a context (since 1.1): it returns ctx.Err()
// once ctx is done before the task has finished, and leaves the task as
// it was (it goes on, or waits to be run, as if nobody had waited). A task
// that has finished gives its result, even when ctx is done. Like
// WaitTimeout, it never runs the task on the calling goroutine.
//
// It waits with the library's bounded wait until the deadline of ctx; a
// context that can be cancelled earlier is looked at every millisecond
// meanwhile.
func (t *Task) WaitContext(ctx context.Context) error {
	if ctx == nil {
		return invalidArg("Task.WaitContext", "ctx is nil")
	}
	if t.c == nil {
		return t.fails
	}
	defer runtime.KeepAlive(t)
	if ctx.Done() == nil { // never done: no limit
		return t.result(C.mp_task_wait_for(t.c, ^C.uint64_t(0)))
	}
	if err := ctx.Err(); err != nil {
		if rc := C.mp_task_wait_for(t.c, 0); rc != C.MP_ETIMEDOUT {
			return t.result(rc)
		}
		return err
	}
	deadline, hasDeadline := ctx.Deadline()
	for {
		d := waitSlice
		if hasDeadline {
			if left := time.Until(deadline); left < d {
				d = max(left, 0)
			}
		}
		if rc := C.mp_task_wait_for(t.c, C.uint64_t(d)); rc != C.MP_ETIMEDOUT {
			return t.result(rc)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Done reports whether the task has finished or was cancelled (or could not
// be submitted). It never blocks.
func (t *Task) Done() bool {
	if t.c == nil {
		return true
	}
	done := C.mp_task_done(t.c) == 1
	runtime.KeepAlive(t)
	return done
}

// Cancel makes sure that a task that has not started never runs. It returns
// nil if the task will never run (also when it was already cancelled, or
// could not be submitted), ErrBusy if it has started or finished.
func (t *Task) Cancel() error {
	if t.c == nil {
		return nil
	}
	rc := C.mp_task_cancel(t.c)
	runtime.KeepAlive(t)
	if rc != 0 {
		return Errno(rc)
	}
	t.state.drop()
	if stop := t.state.stop.Load(); stop != nil {
		(*stop)()
	}
	return nil
}

// Yield runs at most one piece of work of the pool that the calling
// goroutine's thread may run, and reports whether it ran one (since 1.1).
// Inside a callback of the pool, a long callback calls it to let waiting
// work through (rayon's yield_now): work of the callback's own joins first,
// then stolen work, loop parts, scope tasks, a background task. From
// outside the pool it runs one background task, tasks bound to thread 0
// among them. It never waits for work; what it runs may itself take long.
// It returns false on a closed pool.
func (p *Pool) Yield() bool {
	c, err := p.handle()
	if err != nil {
		return false
	}
	ran := C.mp_yield(c) == 1
	runtime.KeepAlive(p)
	return ran
}
