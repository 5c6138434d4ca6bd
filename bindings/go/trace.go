package micropool

/*
#include "bridge.h"
*/
import "C"

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/cgo"
	"sort"
	"sync"
	"syscall"
	"time"
)

// TraceKind is the kind of a piece of work that a Tracer sees (since
// 1.1).
type TraceKind int

// The kinds of traced work (since 1.1).
const (
	// TraceJob: the second function of a Join run by a thread other than
	// the caller's (stolen), or taken back by the caller through Yield.
	TraceJob TraceKind = iota + 1
	// TracePart: one range of For or part of Reduce, on any thread.
	TracePart
	// TraceBroadcast: one index of Broadcast.
	TraceBroadcast
	// TraceScopeTask: a task spawned in a Scope.
	TraceScopeTask
	// TraceTask: a background task; its name is that of the Name option.
	TraceTask
	// TraceSleep: a thread sleeps in the kernel until it is woken.
	TraceSleep
)

// The values above are the header's: an index out of range, if one
// differs, fails to compile.
var (
	_ = [1]int{}[TraceJob-C.MP_TRACE_JOB]
	_ = [1]int{}[TracePart-C.MP_TRACE_PART]
	_ = [1]int{}[TraceBroadcast-C.MP_TRACE_BROADCAST]
	_ = [1]int{}[TraceScopeTask-C.MP_TRACE_SCOPE_TASK]
	_ = [1]int{}[TraceTask-C.MP_TRACE_TASK]
	_ = [1]int{}[TraceSleep-C.MP_TRACE_SLEEP]
)

var traceKindNames = [...]string{
	TraceJob:       "job",
	TracePart:      "part",
	TraceBroadcast: "broadcast",
	TraceScopeTask: "scope task",
	TraceTask:      "task",
	TraceSleep:     "sleep",
}

// String returns the kind's name, such as "part", or "TraceKind(n)".
func (k TraceKind) String() string {
	if k > 0 && int(k) < len(traceKindNames) {
		return traceKindNames[k]
	}
	return fmt.Sprintf("TraceKind(%d)", int(k))
}

// Tracer is told when a thread of a pool begins and ends a piece of work,
// or a sleep (Config.Tracer, since 1.1). Begin runs on the thread that is
// about to run it, End on the same thread right after; thread is that
// thread's index in the pool (0 for every thread outside it), name the
// task's Name or "". Pieces of work nest on one thread (a range of For may
// run a Join).
//
// The methods are called from the pool's threads, several at once, in the
// pool's hot paths: they must be short, must not block and must not use
// the pool. Each call is a call from C into Go, which costs a fraction of
// a microsecond. A panic in a method is recovered; Close returns the
// first one as a *PanicError.
type Tracer interface {
	Begin(kind TraceKind, thread int, name string)
	End(kind TraceKind, thread int, name string)
}

// tracerState carries Config.Tracer to the trampolines of bridge.c: the
// library keeps only its cgo.Handle.
type tracerState struct {
	t       Tracer
	handle  cgo.Handle
	failure opState
}

func (tr *tracerState) call(kind TraceKind, index int, name string, end bool) (err error) {
	returned := false
	defer catchExit("Config.Tracer", &returned, &err)
	if end {
		tr.t.End(kind, index, name)
	} else {
		tr.t.Begin(kind, index, name)
	}
	returned = true
	return nil
}

// Trace is a Tracer that records what it is told, to write it as a Chrome
// trace-event file (since 1.1), which Perfetto (ui.perfetto.dev) and
// chrome://tracing show as a timeline, one row per thread:
//
//	tr := micropool.NewTrace()
//	pool, err := micropool.New(micropool.Config{Tracer: tr})
//	... // use the pool
//	pool.Close()
//	f, _ := os.Create("trace.json")
//	tr.WriteTo(f)
//
// It keeps every event in memory (some 40 bytes each) until it is written.
// The rows are the system's threads: the threads outside the pool, which
// all have index 0, each get their own.
type Trace struct {
	start time.Time

	mu      sync.Mutex
	events  []traceEvent
	threads map[int]int // system thread id -> index in the pool
}

type traceEvent struct {
	at   time.Duration // since start
	tid  int32
	kind TraceKind
	end  bool
	name string
}

// NewTrace returns an empty Trace whose clock starts now.
func NewTrace() *Trace {
	return &Trace{start: time.Now(), threads: map[int]int{}}
}

// Begin records the start of a piece of work (Tracer).
func (t *Trace) Begin(kind TraceKind, thread int, name string) {
	t.record(kind, thread, name, false)
}

// End records its end (Tracer).
func (t *Trace) End(kind TraceKind, thread int, name string) {
	t.record(kind, thread, name, true)
}

func (t *Trace) record(kind TraceKind, thread int, name string, end bool) {
	tid := syscall.Gettid() // a callback from C runs on that C thread
	t.mu.Lock()
	at := time.Since(t.start) // under the lock: the events stay in time order
	t.events = append(t.events, traceEvent{at: at, tid: int32(tid), kind: kind, end: end, name: name})
	if _, ok := t.threads[tid]; !ok {
		t.threads[tid] = thread
	}
	t.mu.Unlock()
}

// chromeEvent is one entry of the file's traceEvents.
type chromeEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"` // microseconds
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// WriteTo writes what has been recorded so far as a Chrome trace-event
// JSON file ({"traceEvents": [...]}): a begin ("B") and end ("E") event
// per piece of work, named by the task's name or the kind ("part",
// "sleep", ...), and a name for each thread's row ("micropool-<i>" for
// worker i, "thread 0 (<id>)" for a thread outside the pool). It may be
// called while the pool still runs, and more than once.
func (t *Trace) WriteTo(w io.Writer) (int64, error) {
	t.mu.Lock()
	events := append([]traceEvent(nil), t.events...)
	threads := make(map[int]int, len(t.threads))
	for tid, index := range t.threads {
		threads[tid] = index
	}
	t.mu.Unlock()

	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	pid := os.Getpid()
	enc := json.NewEncoder(bw)
	bw.WriteString(`{"displayTimeUnit":"ns","traceEvents":[`)
	first := true
	emit := func(e chromeEvent) {
		if !first {
			bw.WriteString(",")
		}
		first = false
		enc.Encode(e) // ends with a newline, which JSON allows
	}
	tids := make([]int, 0, len(threads))
	for tid := range threads {
		tids = append(tids, tid)
	}
	sort.Ints(tids)
	for _, tid := range tids {
		name := fmt.Sprintf("thread 0 (%d)", tid)
		if i := threads[tid]; i > 0 {
			name = fmt.Sprintf("micropool-%d", i)
		}
		emit(chromeEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: tid, Args: map[string]any{"name": name}})
		emit(chromeEvent{Name: "thread_sort_index", Ph: "M", Pid: pid, Tid: tid, Args: map[string]any{"sort_index": threads[tid]}})
	}
	for _, e := range events {
		name := e.name
		if name == "" {
			name = e.kind.String()
		}
		ph := "B"
		if e.end {
			ph = "E"
		}
		emit(chromeEvent{Name: name, Cat: e.kind.String(), Ph: ph,
			Ts: float64(e.at.Nanoseconds()) / 1e3, Pid: pid, Tid: int(e.tid)})
	}
	bw.WriteString("]}\n")
	// bufio keeps the first error of the writer and returns it here.
	err := bw.Flush()
	return cw.n, err
}

// countingWriter counts the bytes written to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
