// Package micropool is the Go binding of libmicropool, a low-latency
// work-stealing thread pool written in C.
//
// A Pool of N threads starts N-1 worker threads; the goroutine that calls
// Join, For, Reduce, Broadcast or Scope does its share of the work on its
// own thread instead of waiting idle. The callbacks you pass run on the
// pool's threads, truly in parallel (up to GOMAXPROCS of them run Go code at
// the same time), and they may use the pool again: nested parallelism cannot
// deadlock by itself.
//
// Errors travel back unchanged. The first error that a callback of one
// operation returns makes the pool skip the parts of that operation that
// have not started yet, and the operation returns that very error value once
// the parts that did start have finished. A panic in a callback is
// recovered on the thread where it happened and comes back the same way, as
// a *PanicError that carries the panic value. Errors of the library itself
// are of type Errno and can be compared with errors.Is against ErrInvalid,
// ErrNoMemory, ErrBusy, ErrDeadlock, ErrShutdown and ErrCanceled.
//
// The C library never holds a Go pointer: every callback is reached through
// a runtime/cgo.Handle that lives exactly as long as the C side may use it.
//
// Callbacks must not call runtime.Goexit (and so not testing.T.FailNow or
// t.Fatal): a callback runs on top of C stack frames that cannot be unwound
// that way. Return an error or panic instead. A callback that calls Goexit
// ends the process at once with a panic that no caller can recover, whose
// message names the operation and Goexit and holds the stack of the
// callback (running the caller's deferred calls instead, such as a
// deferred Close, would hang or corrupt memory).
//
// The package finds the C library through pkg-config (package micropool).
package micropool

/*
#cgo pkg-config: micropool
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"math"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// MaxThreads is the largest number of threads one pool may have.
const MaxThreads = 1024

// The value above is the header's: an index out of range, if it differs,
// fails to compile.
var _ = [1]int{}[MaxThreads-C.MP_THREADS_MAX]

// Version returns the version of the C library in use, such as "1.0.0".
func Version() string {
	return C.GoString(C.mp_version())
}

// Config describes a pool. The zero Config asks for the library's
// defaults: one thread per CPU this process may run on, the default spin
// window, no pinning, threads named "micropool-<i>".
type Config struct {
	// Threads is the number of threads in all, the calling thread counted:
	// a pool of N threads starts N-1 workers. 0 means one per CPU that
	// this process may run on; at most MaxThreads.
	Threads int

	// Spin is how long an idle thread looks for work before it sleeps in
	// the kernel. 0 means the library's default (MP_SPIN_US_DEFAULT, a few
	// tens of microseconds); a negative value means do not spin at all. It
	// is rounded up to whole microseconds.
	Spin time.Duration

	// Pin pins worker i to the i-th CPU of the process's affinity mask,
	// wrapping around. Calling threads are never moved.
	Pin bool

	// Name is the prefix of the worker threads' names ("<Name>-<i>", cut
	// to 15 bytes by the system). Empty means "micropool".
	Name string

	// OnThreadStart, if not nil, runs on worker i (1..Threads-1) before it
	// takes any work. It never runs for calling threads.
	OnThreadStart func(index int)

	// OnThreadStop, if not nil, runs on worker i after its last work,
	// during Close.
	OnThreadStop func(index int)

	// StackSize is the size of each worker's stack in bytes (since 1.1),
	// rounded up to a page; 0 means the system's default. Go callbacks
	// run on goroutine stacks of their own: this is the stack of the C
	// code of the library and of C code that callbacks call. A size below
	// the system's minimum (PTHREAD_STACK_MIN, 16 KiB on Linux) is an
	// error.
	StackSize int

	// Tracer, if not nil, is told when each thread of the pool begins and
	// ends a piece of work or a sleep (since 1.1); Trace records it for
	// a Chrome trace file. Without it, tracing costs nothing.
	Tracer Tracer
}

// Pool is a thread pool. Its methods may be called from any goroutine,
// from several at once, and from inside the callbacks of any pool. Its
// threads live until Close.
//
// Close is the way to end a pool. A pool that becomes unreachable without
// Close is destroyed by a finalizer, as Close would (tasks already
// submitted run first), so that its threads are not left running for good;
// but that happens only at some garbage collection after the last use,
// possibly never before the program exits, and a panic of an
// OnThreadStop hook then goes unreported.
type Pool struct {
	c       atomic.Pointer[poolRef] // nil once closed
	closing atomic.Bool             // set by the Close that destroys the pool
	hooks   *threadHooks
	tracer  *tracerState
	pinned  atomic.Pointer[pinnedWatch] // the watches of PinnedReady, made by the first
}

// poolRef holds the C pool (sync/atomic cannot point at an incomplete C
// type directly).
type poolRef struct{ c *C.mp_pool }

// threadHooks carries Config.OnThreadStart and OnThreadStop to the
// workers. A panic in a hook cannot be returned by anything that runs at
// that moment, so the first one is kept and Close returns it.
type threadHooks struct {
	start, stop func(index int)
	handle      cgo.Handle
	failure     opState
}

// New creates a pool described by cfg.
//
// It returns an error that matches ErrInvalid, naming the field, for a
// negative or too large Threads, a Name that holds a NUL byte or a
// StackSize below the system's minimum, and ErrNoMemory when the threads
// could not be started.
func New(cfg Config) (*Pool, error) {
	if cfg.Threads < 0 || cfg.Threads > MaxThreads {
		return nil, invalidArg("New", "Threads = %d, want 0..%d", cfg.Threads, MaxThreads)
	}
	if cfg.StackSize < 0 {
		return nil, invalidArg("New", "StackSize = %d is negative", cfg.StackSize)
	}
	if strings.IndexByte(cfg.Name, 0) >= 0 {
		return nil, invalidArg("New", "Name = %q holds a NUL byte", cfg.Name)
	}
	spinUS := C.int(-1) // the library's default
	switch {
	case cfg.Spin < 0:
		spinUS = 0
	case cfg.Spin > 0:
		us := (cfg.Spin + time.Microsecond - 1) / time.Microsecond
		if us > math.MaxInt32 {
			us = math.MaxInt32
		}
		spinUS = C.int(us)
	}
	pin := C.int(0)
	if cfg.Pin {
		pin = 1
	}
	var name *C.char
	if cfg.Name != "" {
		name = C.CString(cfg.Name)
		defer C.free(unsafe.Pointer(name))
	}

	p := &Pool{}
	var hookArg C.uintptr_t
	if cfg.OnThreadStart != nil || cfg.OnThreadStop != nil {
		p.hooks = &threadHooks{start: cfg.OnThreadStart, stop: cfg.OnThreadStop}
		p.hooks.handle = cgo.NewHandle(p.hooks)
		hookArg = C.uintptr_t(p.hooks.handle)
	}

	var traceArg C.uintptr_t
	if cfg.Tracer != nil {
		p.tracer = &tracerState{t: cfg.Tracer}
		p.tracer.handle = cgo.NewHandle(p.tracer)
		traceArg = C.uintptr_t(p.tracer.handle)
	}

	var c C.mp_config
	C.micropool_go_config(&c, C.uint(cfg.Threads), spinUS, pin, name, hookArg)
	c.stack_size = C.size_t(cfg.StackSize)
	var pool *C.mp_pool
	if rc := C.micropool_go_create(&c, traceArg, &pool); rc != 0 {
		p.deleteHandles()
		if Errno(rc) == ErrInvalid && cfg.StackSize != 0 {
			// The other fields were checked above.
			return nil, invalidArg("New", "StackSize = %d is below the system's minimum", cfg.StackSize)
		}
		return nil, Errno(rc)
	}
	p.c.Store(&poolRef{c: pool})
	runtime.SetFinalizer(p, (*Pool).finalize)
	return p, nil
}

// Shared returns a reference to the process-wide pool of the library
// (mp_pool_shared, since 1.1), the one that C libraries and the Lua and
// Ruby bindings in the same process use when their caller names no pool,
// so that a process starts one set of workers, not one per library. It
// is made by the first call in the process, with the defaults of a zero
// Config, except that the environment variable MICROPOOL_THREADS, when it
// holds a number from 1 to MaxThreads, sets the number of threads.
//
// Every call returns a new *Pool that refers to the same pool (tasks of
// one may be prerequisites of the other's). Close drops that reference
// only; the pool itself is closed, as Close does it, when the last
// reference in the process is dropped, and a later Shared makes a new one.
// A reference that becomes unreachable without Close is dropped by a
// finalizer. New never returns the shared pool: a zero Config makes a new
// pool of its own.
//
// It returns ErrNoMemory when the pool could not be made.
func Shared() (*Pool, error) {
	var c *C.mp_pool
	if rc := C.mp_pool_shared(&c); rc != 0 {
		return nil, Errno(rc)
	}
	p := &Pool{}
	p.c.Store(&poolRef{c: c})
	runtime.SetFinalizer(p, (*Pool).finalize)
	return p, nil
}

// finalize destroys a pool that has become unreachable without Close, so
// that its threads do not outlive it. No goroutine can call a method of p
// any more, and no callback of p can be running: an operation keeps p
// reachable until it returns (runtime.KeepAlive below each C call), a
// pending task through its closure if that refers to p. Tasks already
// submitted still run first, on the finalizer goroutine's watch.
func (p *Pool) finalize() {
	ref := p.c.Load()
	if ref == nil || !p.closing.CompareAndSwap(false, true) {
		return
	}
	if C.mp_pool_destroy(ref.c) != 0 {
		return // only possible from a thread of the pool, which this is not
	}
	p.c.Store(nil)
	p.closePinned()
	p.deleteHandles()
}

// deleteHandles deletes the handles of the hooks once the pool is gone.
func (p *Pool) deleteHandles() {
	if p.hooks != nil {
		p.hooks.handle.Delete()
	}
	if p.tracer != nil {
		p.tracer.handle.Delete()
	}
}

// handle returns the C pool, or ErrClosed once Close has returned.
func (p *Pool) handle() (*C.mp_pool, error) {
	ref := p.c.Load()
	if ref == nil {
		return nil, ErrClosed
	}
	return ref.c, nil
}

// Close runs every background task already submitted (they may still use
// the pool; what they submit then fails with ErrShutdown), stops the
// workers and frees the pool.
//
// On a reference returned by Shared, Close drops that reference; only the
// last one in the process closes the pool as above.
//
// Called from a callback or task running on this pool it returns
// ErrDeadlock and does nothing. Once one call of Close from outside the
// pool has begun, the others return ErrClosed at once. If an OnThreadStart
// or OnThreadStop hook panicked, Close returns that panic as a *PanicError
// once the pool is closed, and so does Close for a panic of a
// Config.Tracer. Close must not race with calls of other
// goroutines that still use the pool, other than the tasks it runs.
func (p *Pool) Close() error {
	ref := p.c.Load()
	if ref == nil {
		return ErrClosed
	}
	// Checked before the closing flag, so that callbacks that call Close
	// at the same time all get ErrDeadlock.
	if C.mp_pool_thread_index(ref.c) >= 0 {
		return ErrDeadlock
	}
	if !p.closing.CompareAndSwap(false, true) {
		return ErrClosed
	}
	if rc := C.mp_pool_destroy(ref.c); rc != 0 {
		p.closing.Store(false)
		return Errno(rc)
	}
	p.c.Store(nil)
	p.closePinned()
	runtime.SetFinalizer(p, nil)
	p.deleteHandles()
	if p.hooks != nil {
		if err := p.hooks.failure.err(); err != nil {
			return err
		}
	}
	if p.tracer != nil {
		return p.tracer.failure.err()
	}
	return nil
}

// Threads returns the number of threads of the pool, the calling thread
// counted (the resolved value when Config.Threads was 0), or 0 once the
// pool is closed.
func (p *Pool) Threads() int {
	c, err := p.handle()
	if err != nil {
		return 0
	}
	n := int(C.mp_pool_threads(c))
	runtime.KeepAlive(p)
	return n
}

// ThreadIndex returns the index of the thread that runs the current
// callback of this pool: 0 for a calling thread, 1..Threads()-1 for the
// workers. It returns -1 when called outside any callback of this pool
// (a goroutine started by a callback runs outside it too).
func (p *Pool) ThreadIndex() int {
	c, err := p.handle()
	if err != nil {
		return -1
	}
	i := int(C.mp_pool_thread_index(c))
	runtime.KeepAlive(p)
	return i
}

// Stats holds counters of a pool, totals since it was created. They may
// lag behind by a few events.
type Stats struct {
	Jobs     uint64 // operations started
	Steals   uint64 // pieces of work taken from another thread
	Sleeps   uint64 // times a thread went to sleep in the kernel
	Wakeups  uint64 // kernel wake-ups issued
	TasksRun uint64 // background tasks run
}

// Stats returns the pool's counters, or ErrClosed.
func (p *Pool) Stats() (Stats, error) {
	c, err := p.handle()
	if err != nil {
		return Stats{}, err
	}
	var s C.mp_stats
	s.size = C.size_t(unsafe.Sizeof(s))
	rc := C.mp_pool_stats(c, &s)
	runtime.KeepAlive(p)
	if rc != 0 {
		return Stats{}, Errno(rc)
	}
	return Stats{
		Jobs:     uint64(s.jobs),
		Steals:   uint64(s.steals),
		Sleeps:   uint64(s.sleeps),
		Wakeups:  uint64(s.wakeups),
		TasksRun: uint64(s.tasks_run),
	}, nil
}
