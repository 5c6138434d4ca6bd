package micropool

// The functions that the C trampolines of bridge.c call. Each one finds
// its operation through the cgo.Handle (of an opSlot, see handles.go) that
// the library passed on as the callback's argument. A file with //export may only declare things in its
// preamble, which is why the trampolines live in bridge.c.

/*
#include <stdint.h>
#include <micropool.h>
*/
import "C"

import "runtime/cgo"

//export micropoolGoJoinPart
func micropoolGoJoinPart(h C.uintptr_t, which C.int) C.int {
	return slotOp(uintptr(h)).(*joinOp).run(int(which))
}

//export micropoolGoRange
func micropoolGoRange(h C.uintptr_t, begin, end C.size_t) C.int {
	return slotOp(uintptr(h)).(*forOp).run(int(begin), int(end))
}

//export micropoolGoMap
func micropoolGoMap(h C.uintptr_t, begin, end C.size_t, acc *C.uint64_t) C.int {
	return slotOp(uintptr(h)).(reducer).mapRange(int(begin), int(end), acc)
}

//export micropoolGoCombine
func micropoolGoCombine(h C.uintptr_t, acc *C.uint64_t, other C.uint64_t) {
	slotOp(uintptr(h)).(reducer).combineSlots(acc, uint64(other))
}

//export micropoolGoBroadcast
func micropoolGoBroadcast(h C.uintptr_t, index, count C.uint) C.int {
	return slotOp(uintptr(h)).(*broadcastOp).run(int(index), int(count))
}

//export micropoolGoScopeBody
func micropoolGoScopeBody(scope *C.mp_scope, h C.uintptr_t) C.int {
	return slotOp(uintptr(h)).(*scopeOp).run(scope)
}

//export micropoolGoTask
func micropoolGoTask(h C.uintptr_t) C.int {
	return slotOp(uintptr(h)).(taskRunner).runTask()
}

//export micropoolGoThreadHook
func micropoolGoThreadHook(h C.uintptr_t, index C.uint, start C.int) {
	hooks := cgo.Handle(h).Value().(*threadHooks)
	f, what := hooks.stop, "Config.OnThreadStop"
	if start != 0 {
		f, what = hooks.start, "Config.OnThreadStart"
	}
	if f == nil {
		return
	}
	if err := callFunc(what, func() error { f(int(index)); return nil }); err != nil {
		hooks.failure.fail(err)
	}
}

//export micropoolGoTrace
func micropoolGoTrace(h C.uintptr_t, kind C.int, index C.uint, name *C.char, end C.int) {
	tr := cgo.Handle(h).Value().(*tracerState)
	var s string
	if name != nil {
		s = C.GoString(name)
	}
	if err := tr.call(TraceKind(kind), int(index), s, end != 0); err != nil {
		tr.failure.fail(err)
	}
}
