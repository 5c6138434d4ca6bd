package micropool

import (
	"runtime/cgo"
	"sync"
)

// What C sees of a Go callback: the argument that the library passes to a
// trampoline of bridge.c is a runtime/cgo.Handle, never a Go pointer.
//
// Creating and deleting a cgo.Handle costs a few hundred nanoseconds (a
// sync.Map insert of a new key), more than the rest of a small For. So a
// handle is made once for an opSlot and kept with it: an operation borrows
// a slot, points it at its own state, passes the slot's handle to C, and
// gives the slot back when C can no longer call it. A bounded free list
// keeps the slots; past its size they are dropped and their handles
// deleted.

type opSlot struct {
	handle cgo.Handle
	op     any // the operation's state while the slot is borrowed

	// The state of a For or a Join, which then points op at it; the
	// other operations allocate their own.
	forOp  forOp
	joinOp joinOp
}

const maxFreeSlots = 256

var freeSlots struct {
	mu    sync.Mutex
	slots []*opSlot
}

// borrowSlot returns a slot that leads to op.
func borrowSlot(op any) *opSlot {
	freeSlots.mu.Lock()
	var s *opSlot
	if n := len(freeSlots.slots); n > 0 {
		s = freeSlots.slots[n-1]
		freeSlots.slots[n-1] = nil
		freeSlots.slots = freeSlots.slots[:n-1]
	}
	freeSlots.mu.Unlock()
	if s == nil {
		s = &opSlot{}
		s.handle = cgo.NewHandle(s)
	}
	s.op = op
	return s
}

// arg is the value that C passes back to the trampolines.
func (s *opSlot) arg() uintptr {
	return uintptr(s.handle)
}

// giveBack returns the slot once no callback can use it any more.
func (s *opSlot) giveBack() {
	s.op = nil
	s.forOp.body, s.forOp.ctx = nil, nil
	s.forOp.first.Store(nil)
	s.joinOp.a, s.joinOp.b, s.joinOp.ctx = nil, nil, nil
	s.joinOp.first.Store(nil)
	freeSlots.mu.Lock()
	if len(freeSlots.slots) < maxFreeSlots {
		freeSlots.slots = append(freeSlots.slots, s)
		s = nil
	}
	freeSlots.mu.Unlock()
	if s != nil {
		s.handle.Delete()
	}
}

// slotOp returns the operation that the handle h leads to.
func slotOp(h uintptr) any {
	return cgo.Handle(h).Value().(*opSlot).op
}
