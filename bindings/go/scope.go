package micropool

/*
#include "bridge.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Scope is a group of tasks that Pool.Scope waits for. It is valid only
// until the Pool.Scope call that created it returns.
type Scope struct {
	c  *C.mp_scope
	op *scopeOp
}

type scopeOp struct {
	opState
	body  func(*Scope) error
	ended atomic.Bool

	mu    sync.Mutex
	slots []*opSlot // of every spawned task, given back when the scope ends
}

// Scope runs body, which may spawn any number of tasks with s.Spawn (so may
// the spawned tasks), and returns only when body and every task spawned in
// the scope have finished; the tasks may therefore use variables of the
// caller freely. While it waits, the calling goroutine runs tasks of the
// scope.
//
// It returns the first error (or panic) of body or of a task; tasks not yet
// started are then skipped.
func (p *Pool) Scope(body func(s *Scope) error) error {
	if body == nil {
		return invalidArg("Pool.Scope", "body is nil")
	}
	c, err := p.handle()
	if err != nil {
		return err
	}
	op := &scopeOp{body: body}
	slot := borrowSlot(op)
	rc := C.micropool_go_scope_run(c, C.uintptr_t(slot.arg()))
	runtime.KeepAlive(p)
	op.ended.Store(true)
	slot.giveBack()
	// Tasks skipped after a failure never ran, so their slots are only
	// given back here, all at once.
	op.mu.Lock()
	for _, s := range op.slots {
		s.giveBack()
	}
	op.slots = nil
	op.mu.Unlock()
	return op.result(rc)
}

func (op *scopeOp) run(c *C.mp_scope) C.int {
	if err := op.call(&Scope{c: c, op: op}); err != nil {
		return op.fail(err)
	}
	return 0
}

func (op *scopeOp) call(s *Scope) (err error) {
	returned := false
	defer catchExit("Pool.Scope", &returned, &err)
	err = op.body(s)
	returned = true
	return err
}

// Spawn adds f to the scope; it runs on any thread of the pool before the
// Pool.Scope call returns. Its error (or panic) becomes the scope's error
// if it is the first. If the library cannot take the task (out of memory),
// f does not run and the scope returns ErrNoMemory.
//
// Spawn panics when called after the Pool.Scope call has returned.
func (s *Scope) Spawn(f func() error) {
	if f == nil {
		s.op.fail(invalidArg("Scope.Spawn", "f is nil"))
		return
	}
	if s.op.ended.Load() {
		panic("micropool: Scope.Spawn after the scope has ended")
	}
	slot := borrowSlot(taskRunner(&spawned{scope: s.op, f: f}))
	s.op.mu.Lock()
	s.op.slots = append(s.op.slots, slot)
	s.op.mu.Unlock()
	if rc := C.micropool_go_scope_spawn(s.c, C.uintptr_t(slot.arg())); rc != 0 {
		s.op.fail(Errno(rc))
	}
}

// taskRunner is what the exported task callback sees: a task spawned in a
// scope or a background task.
type taskRunner interface {
	runTask() C.int
}

type spawned struct {
	scope *scopeOp
	f     func() error
}

func (t *spawned) runTask() C.int {
	if err := callFunc("Scope.Spawn", t.f); err != nil {
		return t.scope.fail(err)
	}
	return 0
}
