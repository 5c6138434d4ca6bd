package micropool

/*
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"strings"
)

// Level is the priority of a background task (since 1.1): High, Normal
// (the default) or Low. A thread that looks for background work takes the
// oldest task of the highest level that has one, first in, first out
// within a level. Every level is below Join, For, Reduce, Broadcast and
// Scope work. Nothing bounds how long a lower level waits while higher
// levels keep coming.
type Level int

// The priority levels of background tasks (since 1.1).
const (
	Low    Level = -1
	Normal Level = 0
	High   Level = 1
)

// The values above are the header's: an index out of range, if one
// differs, fails to compile.
var (
	_ = [1]int{}[Low-C.MP_PRIO_LOW]
	_ = [1]int{}[Normal-C.MP_PRIO_NORMAL]
	_ = [1]int{}[High-C.MP_PRIO_HIGH]
)

// String returns "High", "Normal" or "Low", or "Level(n)" for any other
// value.
func (l Level) String() string {
	switch l {
	case High:
		return "High"
	case Normal:
		return "Normal"
	case Low:
		return "Low"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// TaskOption changes how Pool.Submit, Pool.SubmitContext or SubmitValue
// queue a task (since 1.1). Make one with After, CancelOnError, Priority,
// OnThread or Name; the zero TaskOption changes nothing. Options apply in
// order; for Priority, OnThread and Name the last one wins, After adds to
// the prerequisites of the ones before it.
type TaskOption struct {
	apply func(o *taskOptions) error
}

type taskOptions struct {
	priority Level
	thread   int // -1: any thread
	after    []*Task
	flags    C.uint
	name     string
}

// After makes the task start only once every one of tasks has finished
// or was cancelled (since 1.1), whatever they returned unless
// CancelOnError is given too. The tasks must belong to the same pool
// (Submit returns an error that names the task otherwise) and must have
// been submitted: a nil Task or one whose Submit failed is an error too.
// A task can only depend on tasks submitted before it, so no cycle can
// form. The prerequisites need not be kept: dropping them after Submit has
// returned changes nothing.
func After(tasks ...*Task) TaskOption {
	tasks = append([]*Task(nil), tasks...) // the caller may reuse its slice
	return TaskOption{func(o *taskOptions) error {
		o.after = append(o.after, tasks...)
		return nil
	}}
}

// CancelOnError makes a prerequisite (see After) that failed, panicked or
// was cancelled cancel the task instead of running it (since 1.1): its
// Wait then returns ErrCanceled, and the tasks that depend on it with
// CancelOnError are cancelled in turn.
func CancelOnError() TaskOption {
	return TaskOption{func(o *taskOptions) error {
		o.flags |= C.MP_AFTER_CANCEL_ON_ERROR
		return nil
	}}
}

// Priority queues the task at level l (since 1.1); Submit without it
// queues at Normal. Any level other than High, Normal and Low is an error
// that names it.
func Priority(l Level) TaskOption {
	return TaskOption{func(o *taskOptions) error {
		if l != High && l != Normal && l != Low {
			return fmt.Errorf("Priority(%d): want High, Normal or Low", int(l))
		}
		o.priority = l
		return nil
	}}
}

// OnThread binds the task to one thread of the pool (since 1.1): worker i
// for i in 1..Threads()-1, which alone runs it; or, for i = 0, the
// goroutines outside the pool, which run such tasks only in RunPinned, in
// Task.Wait on that very task, and in Close: the "main thread" pattern for
// work that must run on the thread that owns a window, a GL context or an
// audio device (see RunPinned). A negative i, or one not below Threads(),
// is an error that names it.
//
// A callback of the pool that waits for a task bound to another thread
// blocks until that thread runs it: avoiding such a wait cycle is the
// caller's part.
func OnThread(i int) TaskOption {
	return TaskOption{func(o *taskOptions) error {
		if i < 0 {
			return fmt.Errorf("OnThread(%d): the index is negative", i)
		}
		o.thread = i
		return nil
	}}
}

// Name gives the task a name for tracing (since 1.1): Config.Tracer sees
// it in the Begin and End of the task, and Trace shows it. It costs
// nothing on a pool without a tracer. A name that holds a NUL byte is an
// error.
func Name(name string) TaskOption {
	return TaskOption{func(o *taskOptions) error {
		if strings.IndexByte(name, 0) >= 0 {
			return fmt.Errorf("Name(%q) holds a NUL byte", name)
		}
		o.name = name
		return nil
	}}
}

// parseOptions applies opts for the function fn.
func parseOptions(fn string, opts []TaskOption) (taskOptions, error) {
	o := taskOptions{thread: -1}
	for _, opt := range opts {
		if opt.apply == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return o, invalidArg(fn, "%v", err)
		}
	}
	return o, nil
}
