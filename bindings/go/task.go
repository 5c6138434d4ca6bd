package micropool

/*
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// Task is a background task started by Pool.Submit. Its methods may be
// called from any goroutine, any number of times, also after the pool was
// closed. The C handle behind it is released when the Task is garbage
// collected; dropping a Task does not stop it.
type Task struct {
	c     *C.mp_task // nil when Submit failed
	state *taskState
	fails error // why Submit failed
}

type taskState struct {
	f       func() error
	what    string // the function that submitted it, for the message of Goexit
	err     error  // f's result, set before the task returns to the library
	slot    *opSlot
	dropped atomic.Bool
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
	if err := callFunc(s.what, s.f); err != nil {
		s.err = err
		return failureCode
	}
	return 0
}

// Submit queues f as a background task: the lower priority tier, run by a
// thread of the pool only when it has no Join, For, Reduce, Broadcast or
// Scope work. Tasks start in the order they were submitted. Submit never
// runs f before it returns; on a pool of one thread f runs when a
// goroutine waits for it, or at Close.
//
// Submit always returns a Task. If the task could not be queued (the pool
// is closed or closing, or out of memory), f never runs and the Task's Wait
// returns the reason.
func (p *Pool) Submit(f func() error) *Task {
	if f == nil {
		return &Task{fails: invalidArg("Pool.Submit", "f is nil")}
	}
	return p.submit("Pool.Submit", f)
}

func (p *Pool) submit(what string, f func() error) *Task {
	c, err := p.handle()
	if err != nil {
		return &Task{fails: err}
	}
	st := &taskState{f: f, what: what}
	st.slot = borrowSlot(taskRunner(st))
	t := &Task{state: st}
	rc := C.micropool_go_submit(c, C.uintptr_t(st.slot.arg()), &t.c)
	runtime.KeepAlive(p)
	if rc != 0 {
		st.drop()
		return &Task{fails: Errno(rc)}
	}
	runtime.SetFinalizer(t, (*Task).release)
	return t
}

func (t *Task) release() {
	C.mp_task_release(t.c)
}

// Wait waits for the task and returns what f returned (the same error
// value), its panic as a *PanicError, ErrCanceled if the task was
// cancelled, or the reason Submit failed. A task that has not started yet
// is run by the waiting goroutine itself.
func (t *Task) Wait() error {
	if t.c == nil {
		return t.fails
	}
	rc := C.mp_task_wait(t.c)
	runtime.KeepAlive(t)
	switch {
	case rc == 0:
		return nil
	case isLibraryCode(rc):
		return Errno(rc)
	case t.state.err != nil:
		return t.state.err
	default:
		return fmt.Errorf("micropool: task failed with unexpected code %d", int(rc))
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
	return nil
}
