package micropool

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// RunPinned runs the tasks bound to thread 0 (OnThread(0)) on the calling
// goroutine's thread, highest level first and oldest first within a
// level, until none is left or d has passed (looked at after each task;
// d = 0: only the tasks queued when it was called), and returns how many
// it ran (since 1.1). It never sleeps.
//
// A task that must run on one particular thread (the owner of a window, a
// GL context or an audio device) needs a goroutine that stays on that
// thread: call runtime.LockOSThread first, on that goroutine (in func
// init for the main thread), and call RunPinned from it only. Without the
// lock the goroutine may move between threads from one call to the next.
// PinnedReady tells such a goroutine when to call it.
//
// A negative d is an error; so is a call from a callback that runs on a
// worker of the pool.
func (p *Pool) RunPinned(d time.Duration) (int, error) {
	if d < 0 {
		return 0, invalidArg("Pool.RunPinned", "d = %v is negative", d)
	}
	c, err := p.handle()
	if err != nil {
		return 0, err
	}
	n := C.mp_pool_run_pinned(c, C.uint64_t(d))
	runtime.KeepAlive(p)
	p.pinnedRan()
	if n < 0 {
		if Errno(n) == ErrInvalid {
			return 0, invalidArg("Pool.RunPinned", "called on worker %d of the pool", p.ThreadIndex())
		}
		return 0, Errno(n)
	}
	return int(n), nil
}

// pinnedWatch is what the watches of PinnedReady share with the pool
// (not the Pool itself, so that a watch does not keep an unclosed pool
// from its finalizer).
type pinnedWatch struct {
	mu     sync.Mutex
	ran    chan struct{} // closed by the next RunPinned; nil when nobody waits
	files  map[*os.File]struct{}
	closed bool
}

// watch returns the pool's pinnedWatch, made on the first call.
func (p *Pool) watch() *pinnedWatch {
	if w := p.pinned.Load(); w != nil {
		return w
	}
	p.pinned.CompareAndSwap(nil, &pinnedWatch{files: map[*os.File]struct{}{}})
	return p.pinned.Load()
}

// nextRun returns a channel that the next RunPinned closes.
func (w *pinnedWatch) nextRun() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ran == nil {
		w.ran = make(chan struct{})
	}
	return w.ran
}

// pinnedRan tells the watches that RunPinned has returned.
func (p *Pool) pinnedRan() {
	w := p.pinned.Load()
	if w == nil {
		return
	}
	w.mu.Lock()
	if w.ran != nil {
		close(w.ran)
		w.ran = nil
	}
	w.mu.Unlock()
}

// add registers the descriptor of a new watch; false once the pool is
// closed.
func (w *pinnedWatch) add(f *os.File) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.files[f] = struct{}{}
	return true
}

// end closes the descriptor of one watch, which ends its wait.
func (w *pinnedWatch) end(f *os.File) {
	w.mu.Lock()
	delete(w.files, f)
	w.mu.Unlock()
	f.Close()
}

// closePinned ends every watch: the pool is being closed.
func (p *Pool) closePinned() {
	w := p.pinned.Load()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.closed = true
	files := w.files
	w.files = nil
	w.mu.Unlock()
	for f := range files {
		f.Close()
	}
}

// PinnedReady returns a channel for a select loop that runs the tasks
// bound to thread 0 (since 1.1): it receives a value when such tasks are
// queued, and again, after each RunPinned, whenever tasks are still or
// again queued. The goroutine that receives is meant to call RunPinned
// then (a value is not repeated until a RunPinned call has returned):
//
//	runtime.LockOSThread()
//	ready, err := pool.PinnedReady(ctx)
//	...
//	for {
//		select {
//		case <-ready:
//			pool.RunPinned(2 * time.Millisecond)
//		case ev := <-events:
//			handle(ev)
//		case <-ctx.Done():
//			return
//		}
//	}
//
// The watch ends when ctx is done (the channel is not closed) or when the
// pool is closed. It waits in the runtime's network poller on a duplicate
// of the library's descriptor (mp_pool_pinned_fd), so it holds no thread.
func (p *Pool) PinnedReady(ctx context.Context) (<-chan struct{}, error) {
	const fn = "Pool.PinnedReady"
	if ctx == nil {
		return nil, invalidArg(fn, "ctx is nil")
	}
	c, err := p.handle()
	if err != nil {
		return nil, err
	}
	fd := C.mp_pool_pinned_fd(c)
	runtime.KeepAlive(p)
	if fd < 0 {
		return nil, Errno(fd)
	}
	// The pool owns fd and closes it in Close: the watch has its own.
	dup, err := syscall.Dup(int(fd))
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), "micropool-pinned")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	w := p.watch()
	if !w.add(f) {
		f.Close()
		return nil, ErrClosed
	}
	ready := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { w.end(f) }) // ends a wait in the poller
	go func() {
		defer w.end(f)
		defer stop()
		for {
			// Read calls the function again after each edge that the
			// poller sees, until it returns true: when the descriptor
			// is readable (nothing is read from it).
			err := raw.Read(func(fd uintptr) bool {
				return C.micropool_go_readable(C.int(fd)) != 0
			})
			if err != nil {
				return // f was closed: ctx is done or the pool closed
			}
			ran := w.nextRun()
			select {
			case ready <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case <-ran:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ready, nil
}
