package micropool

/*
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"syscall"
)

// Errno is an error code of the C library: a negative errno value, such
// as ErrInvalid (-EINVAL). Compare it with errors.Is against the sentinel
// values below; it also matches the syscall.Errno of the same number, so
// errors.Is(err, syscall.EINVAL) holds for ErrInvalid.
type Errno int

// The library's error codes.
const (
	// ErrInvalid: a bad argument (nil callback, negative size, unknown
	// flag, too many threads).
	ErrInvalid Errno = -22 // -EINVAL
	// ErrNoMemory: memory or a thread could not be had.
	ErrNoMemory Errno = -12 // -ENOMEM
	// ErrBusy: Task.Cancel found the task started or finished.
	ErrBusy Errno = -16 // -EBUSY
	// ErrDeadlock: the call would wait on itself, such as Close called
	// from a callback of the same pool.
	ErrDeadlock Errno = -35 // -EDEADLK
	// ErrShutdown: the pool is being closed.
	ErrShutdown Errno = -108 // -ESHUTDOWN
	// ErrCanceled: Task.Wait on a task that was cancelled.
	ErrCanceled Errno = -125 // -ECANCELED
	// ErrTimedOut: Task.WaitTimeout ran out of time before the task
	// finished (since 1.1).
	ErrTimedOut Errno = -110 // -ETIMEDOUT
)

// The values above are the header's: an index out of range, if one
// differs, fails to compile.
var (
	_ = [1]int{}[ErrInvalid-C.MP_EINVAL]
	_ = [1]int{}[ErrNoMemory-C.MP_ENOMEM]
	_ = [1]int{}[ErrBusy-C.MP_EBUSY]
	_ = [1]int{}[ErrDeadlock-C.MP_EDEADLK]
	_ = [1]int{}[ErrShutdown-C.MP_ESHUTDOWN]
	_ = [1]int{}[ErrCanceled-C.MP_ECANCELED]
	_ = [1]int{}[ErrTimedOut-C.MP_ETIMEDOUT]
)

// ErrClosed is returned by the methods of a Pool once its Close has
// returned (and by a second Close). It matches ErrShutdown with errors.Is.
var ErrClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string        { return "micropool: pool is closed" }
func (closedError) Is(target error) bool { return target == ErrShutdown }

// Error returns the library's description of the code.
func (e Errno) Error() string {
	var buf [96]C.char
	C.micropool_go_strerror(C.int(e), &buf[0], C.size_t(len(buf)))
	return "micropool: " + C.GoString(&buf[0])
}

// Is reports whether target is the syscall.Errno with the same number, so
// that errors.Is(ErrInvalid, syscall.EINVAL) holds.
func (e Errno) Is(target error) bool {
	t, ok := target.(syscall.Errno)
	return ok && int(t) == -int(e)
}

// isLibraryCode reports whether rc is one of the library's own codes
// rather than a callback's result: they are negative errno values.
func isLibraryCode(rc C.int) bool {
	return rc < 0 && rc >= -4095
}

// PanicError is the error that an operation returns when one of its
// callbacks panicked. The panic was recovered on the thread where it
// happened; Value is what was passed to panic and Stack the stack trace of
// that goroutine at that moment.
type PanicError struct {
	Value any
	Stack []byte
}

// Error describes the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("micropool: panic in callback: %v", e.Value)
}

// Unwrap returns the panic value when it is an error, so that errors.Is
// and errors.As see through a panic(err).
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// invalidArg is the error of a bad argument: it names the function, the
// argument and its value, and matches ErrInvalid (and so syscall.EINVAL)
// with errors.Is.
func invalidArg(fn, format string, args ...any) error {
	return &argError{fn + ": " + fmt.Sprintf(format, args...)}
}

type argError struct{ what string }

func (e *argError) Error() string { return "micropool: " + e.what + ": invalid argument" }
func (e *argError) Unwrap() error { return ErrInvalid }

// catchExit is deferred by every function that calls a callback, with
// *returned set to true once the callback has returned. Otherwise the
// callback either panicked, and the panic becomes a *PanicError in *err,
// or it called runtime.Goexit (from Go 1.21 on, recover returns nil only
// then), which ends the process: see goexitInCallback.
func catchExit(what string, returned *bool, err *error) {
	if *returned {
		return
	}
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
		return
	}
	goexitInCallback(what)
}

// goexitInCallback runs when a callback of what has called runtime.Goexit.
// The goroutine is then running its deferred calls on the way out, and the
// next frames down are the library's C frames, which Go would skip without
// running them: the operation would never end (the caller's deferred
// Close would then wait for it for ever) and the other threads would go on
// using the memory of those frames. Goexit cannot be stopped once it has
// begun, so the process ends here: a panic on a new goroutine, which no
// caller can recover, while this goroutine waits so that no further
// deferred call of it runs.
func goexitInCallback(what string) {
	msg := fmt.Sprintf("micropool: a callback of %s called runtime.Goexit "+
		"(t.Fatal, t.FailNow or t.SkipNow in a test?). "+
		"Goexit cannot unwind through the pool's C frames, so the process stops; "+
		"a callback must return an error or panic instead.\n\n"+
		"The goroutine that called Goexit:\n%s", what, debug.Stack())
	go func() { panic(goexitError(msg)) }()
	select {}
}

// goexitError is the value of the panic that goexitInCallback raises.
type goexitError string

// canceledError is what Task.Wait returns for a task of SubmitContext
// that its context cancelled before it started: it matches both
// ErrCanceled and the context's error.
type canceledError struct{ cause error }

func (e *canceledError) Error() string        { return "micropool: task cancelled: " + e.cause.Error() }
func (e *canceledError) Unwrap() error        { return e.cause }
func (e *canceledError) Is(target error) bool { return target == ErrCanceled }

func (e goexitError) Error() string { return string(e) }

// failureCode is what a Go callback returns to the library when it fails;
// the error itself is kept in the operation's opState. It is positive, so
// it can never be taken for one of the library's codes.
const failureCode C.int = 1

// opState keeps the first error of one operation's callbacks.
type opState struct {
	first atomic.Pointer[error]
}

// fail records err if it is the operation's first error and returns the
// code that the callback hands back to the library.
func (s *opState) fail(err error) C.int {
	// A copy made here, so that only a failure allocates: with &err, the
	// caller's error variable would move to the heap at every call.
	first := new(error)
	*first = err
	s.first.CompareAndSwap(nil, first)
	return failureCode
}

// err returns the first recorded error, or nil.
func (s *opState) err() error {
	if e := s.first.Load(); e != nil {
		return *e
	}
	return nil
}

// result turns the library's return value into the operation's error: a
// library code becomes an Errno, a callback failure the error that the
// callback returned or the panic it raised.
func (s *opState) result(rc C.int) error {
	if isLibraryCode(rc) {
		return Errno(rc)
	}
	if err := s.err(); err != nil {
		return err
	}
	if rc != 0 {
		// Only Go callbacks run in an operation of this package, and they
		// always record their error first.
		return fmt.Errorf("micropool: operation failed with unexpected code %d", int(rc))
	}
	return nil
}
