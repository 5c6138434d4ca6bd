package micropool

/*
#include "bridge.h"
*/
import "C"

import (
	"runtime"
	"sync"
)

// Partition chooses how For and Reduce cut [0, n) into ranges. It never
// chooses which thread runs a range: any thread may run any range.
type Partition uint

const (
	// Dynamic cuts the input into chunks of at least grain items, balanced
	// by whichever thread is free. The default.
	Dynamic Partition = 0
	// Static gives each thread at most one contiguous share and does not
	// split it further: the lowest overhead for uniform work.
	Static Partition = 1
	// Deterministic makes the partition and, for Reduce, the combine
	// order depend only on (n, grain), so results are bitwise equal
	// whatever the number of threads or the timing (floating-point sums
	// included).
	Deterministic Partition = 2
)

// The values above are the header's: an index out of range, if one
// differs, fails to compile.
var (
	_ = [1]int{}[Dynamic-C.MP_SPLIT_DYNAMIC]
	_ = [1]int{}[Static-C.MP_SPLIT_STATIC]
	_ = [1]int{}[Deterministic-C.MP_DETERMINISTIC]
)

// Join runs a and b, potentially in parallel, and returns when both have
// finished. The calling goroutine runs a itself; b may be taken by an idle
// thread of the pool, else it runs after a.
//
// It returns the first error (or panic, as a *PanicError) of a or b; if a
// fails before b has started, b is skipped.
func (p *Pool) Join(a, b func() error) error {
	return p.join(watchJoin, a, b)
}

// join is Join or JoinContext, as w tells.
func (p *Pool) join(w *ctxWatch, a, b func() error) error {
	fn := w.what
	if a == nil {
		return invalidArg(fn, "a is nil")
	}
	if b == nil {
		return invalidArg(fn, "b is nil")
	}
	c, err := p.handle()
	if err != nil {
		return err
	}
	// As for For, the state lives in the reused slot.
	slot := borrowSlot(nil)
	op := &slot.joinOp
	op.a, op.b, op.ctx = a, b, w
	slot.op = op
	rc := C.micropool_go_join(c, C.uintptr_t(slot.arg()))
	runtime.KeepAlive(p)
	err = op.result(rc)
	slot.giveBack()
	return err
}

type joinOp struct {
	opState
	a, b func() error
	ctx  *ctxWatch // watchJoin for Join
}

func (op *joinOp) run(which int) C.int {
	if op.ctx.stopped() {
		return op.ctx.skip(&op.opState)
	}
	f := op.a
	if which != 0 {
		f = op.b
	}
	if err := callFunc(op.ctx.what, f); err != nil {
		return op.fail(err)
	}
	return 0
}

// callFunc runs f, a callback of what, and returns its error, or its panic
// as a *PanicError.
func callFunc(what string, f func() error) (err error) {
	returned := false
	defer catchExit(what, &returned, &err)
	err = f()
	returned = true
	return err
}

// For calls body on disjoint, non-empty ranges [lo, hi) that together
// cover [0, n) exactly once, in parallel, and returns when all calls have
// finished. grain is the smallest range worth handing to another thread;
// 0 lets the library choose. It is ForPartition with Dynamic.
//
// It returns the first error (or panic) of body, after which the ranges not
// yet started are skipped. A negative n or grain or a nil body gives an
// error that names the argument and matches ErrInvalid. n == 0 calls
// nothing.
func (p *Pool) For(n, grain int, body func(lo, hi int) error) error {
	return p.forPartition(watchFor, n, grain, Dynamic, body)
}

// ForPartition is For with a chosen partition: Dynamic, Static, or
// Deterministic (the partition that ReducePartition uses with it).
func (p *Pool) ForPartition(n, grain int, part Partition, body func(lo, hi int) error) error {
	return p.forPartition(watchForPartition, n, grain, part, body)
}

// checkRange checks the arguments that For and Reduce have in common.
func checkRange(fn string, n, grain int, part Partition) error {
	if n < 0 {
		return invalidArg(fn, "n = %d is negative", n)
	}
	if grain < 0 {
		return invalidArg(fn, "grain = %d is negative", grain)
	}
	if part > Deterministic {
		return invalidArg(fn, "partition = %d is not Dynamic, Static or Deterministic", uint(part))
	}
	return nil
}

// forPartition is For, ForPartition, ForContext or Map, as w tells.
func (p *Pool) forPartition(w *ctxWatch, n, grain int, part Partition, body func(lo, hi int) error) error {
	fn := w.what
	if err := checkRange(fn, n, grain, part); err != nil {
		return err
	}
	if body == nil {
		return invalidArg(fn, "body is nil")
	}
	c, err := p.handle()
	if err != nil {
		return err
	}
	// The state of a For lives in the slot, which is reused: a For
	// allocates nothing of its own.
	slot := borrowSlot(nil)
	op := &slot.forOp
	op.body, op.ctx = body, w
	slot.op = op
	rc := C.micropool_go_for(c, C.size_t(n), C.size_t(grain), C.uint(part), C.uintptr_t(slot.arg()))
	runtime.KeepAlive(p)
	err = op.result(rc)
	slot.giveBack()
	return err
}

type forOp struct {
	opState
	body func(lo, hi int) error
	ctx  *ctxWatch // a static watch without a context
}

func (op *forOp) run(lo, hi int) C.int {
	if op.ctx.stopped() {
		return op.ctx.skip(&op.opState)
	}
	if err := op.call(lo, hi); err != nil {
		return op.fail(err)
	}
	return 0
}

func (op *forOp) call(lo, hi int) (err error) {
	returned := false
	defer catchExit(op.ctx.what, &returned, &err)
	err = op.body(lo, hi)
	returned = true
	return err
}

// Broadcast runs fn(index, count) once for every index 0..count-1, count
// being p.Threads(), and returns when all have finished. Called from outside
// the pool, the calling goroutine runs index 0 and worker i runs index i,
// all at the same time, so the parts may wait for each other (a barrier
// works). Called from a callback on worker k, that worker runs index k and
// also index 0.
//
// It returns the first error (or panic) of fn; parts not yet started are
// then skipped.
func (p *Pool) Broadcast(fn func(index, count int) error) error {
	if fn == nil {
		return invalidArg("Pool.Broadcast", "fn is nil")
	}
	c, err := p.handle()
	if err != nil {
		return err
	}
	op := &broadcastOp{fn: fn}
	slot := borrowSlot(op)
	defer slot.giveBack()
	rc := C.micropool_go_broadcast(c, C.uintptr_t(slot.arg()))
	runtime.KeepAlive(p)
	return op.result(rc)
}

type broadcastOp struct {
	opState
	fn func(index, count int) error
}

func (op *broadcastOp) run(index, count int) C.int {
	if err := op.call(index, count); err != nil {
		return op.fail(err)
	}
	return 0
}

func (op *broadcastOp) call(index, count int) (err error) {
	returned := false
	defer catchExit("Pool.Broadcast", &returned, &err)
	err = op.fn(index, count)
	returned = true
	return err
}

// Reduce folds [0, n) in parallel. Each part of the input gets its own
// accumulator, starting from identity; fold(lo, hi, acc) folds the items
// [lo, hi) into acc and returns the new accumulator, and combine(a, b)
// merges two partial results. Partial results are combined in range order,
// left to right, so combine must be associative but need not be
// commutative. It is ReducePartition with Dynamic.
//
// identity is copied by assignment: if T holds a slice, map or pointer,
// fold must not change what identity refers to.
//
// fold and combine have no error result: a panic in either comes back as
// a *PanicError (panic with an error value to have errors.Is find it). n ==
// 0 returns identity at once. A negative n or grain or a nil fold or
// combine gives an error that names the argument and matches ErrInvalid.
func Reduce[T any](p *Pool, n, grain int, identity T,
	fold func(lo, hi int, acc T) T, combine func(a, b T) T) (T, error) {
	return reducePartition(watchReduce, p, n, grain, Dynamic, identity, fold, combine)
}

// ReducePartition is Reduce with a chosen partition. With Deterministic,
// the input is cut into ceil(n/grain) equal parts (64 with grain 0), at
// most 64, folded and combined in the same tree whatever the number of
// threads, so the result is bitwise reproducible.
func ReducePartition[T any](p *Pool, n, grain int, part Partition, identity T,
	fold func(lo, hi int, acc T) T, combine func(a, b T) T) (T, error) {
	return reducePartition(watchReducePartition, p, n, grain, part, identity, fold, combine)
}

// reducePartition is Reduce, ReducePartition or ReduceContext, as w tells.
func reducePartition[T any](w *ctxWatch, p *Pool, n, grain int, part Partition, identity T,
	fold func(lo, hi int, acc T) T, combine func(a, b T) T) (T, error) {
	fn := w.what
	if err := checkRange(fn, n, grain, part); err != nil {
		return identity, err
	}
	if fold == nil {
		return identity, invalidArg(fn, "fold is nil")
	}
	if combine == nil {
		return identity, invalidArg(fn, "combine is nil")
	}
	c, err := p.handle()
	if err != nil {
		return identity, err
	}
	op := &reduceOp[T]{identity: identity, fold: fold, combine: combine, ctx: w}
	slot := borrowSlot(reducer(op))
	defer slot.giveBack()
	// The C accumulator is only a slot number: 0 stands for the identity,
	// k > 0 for op.slots[k-1]. Go values never live in C memory.
	var acc C.uint64_t
	rc := C.micropool_go_reduce(c, C.size_t(n), C.size_t(grain), C.uint(part), &acc, C.uintptr_t(slot.arg()))
	runtime.KeepAlive(p)
	if err := op.result(rc); err != nil {
		var zero T
		return zero, err
	}
	return op.value(uint64(acc)), nil
}

// reducer is what the exported map and combine callbacks see of a
// reduceOp[T], whatever T.
type reducer interface {
	mapRange(lo, hi int, acc *C.uint64_t) C.int
	combineSlots(acc *C.uint64_t, other uint64)
}

type reduceOp[T any] struct {
	opState
	identity T
	fold     func(lo, hi int, acc T) T
	combine  func(a, b T) T
	ctx      *ctxWatch // a static watch without a context

	mu    sync.Mutex
	slots []*T
}

// value returns the accumulator that slot stands for. A slot belongs to
// one private accumulator of the library, which only one thread uses at a
// time, so only the slice itself needs the lock.
func (op *reduceOp[T]) value(slot uint64) T {
	if slot == 0 {
		return op.identity
	}
	op.mu.Lock()
	v := op.slots[slot-1]
	op.mu.Unlock()
	return *v
}

// store makes *acc hold v, taking a new slot when it still stands for the
// identity.
func (op *reduceOp[T]) store(acc *C.uint64_t, v T) {
	if *acc != 0 {
		op.mu.Lock()
		op.slots[*acc-1] = &v
		op.mu.Unlock()
		return
	}
	op.mu.Lock()
	op.slots = append(op.slots, &v)
	*acc = C.uint64_t(len(op.slots))
	op.mu.Unlock()
}

func (op *reduceOp[T]) mapRange(lo, hi int, acc *C.uint64_t) C.int {
	if op.ctx.stopped() {
		return op.ctx.skip(&op.opState)
	}
	v, err := op.callFold(lo, hi, op.value(uint64(*acc)))
	if err != nil {
		return op.fail(err)
	}
	op.store(acc, v)
	return 0
}

func (op *reduceOp[T]) callFold(lo, hi int, acc T) (v T, err error) {
	returned := false
	defer catchExit(op.ctx.what, &returned, &err)
	v = op.fold(lo, hi, acc)
	returned = true
	return v, nil
}

func (op *reduceOp[T]) combineSlots(acc *C.uint64_t, other uint64) {
	if op.err() != nil {
		return // the operation has failed; its result is thrown away
	}
	v, err := op.callCombine(op.value(uint64(*acc)), op.value(other))
	if err != nil {
		// combine cannot report a failure to the library; the recorded
		// error is what the operation returns all the same.
		op.fail(err)
		return
	}
	op.store(acc, v)
}

func (op *reduceOp[T]) callCombine(a, b T) (v T, err error) {
	returned := false
	defer catchExit(op.ctx.what, &returned, &err)
	v = op.combine(a, b)
	returned = true
	return v, nil
}
