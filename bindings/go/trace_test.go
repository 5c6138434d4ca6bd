package micropool

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
)

// workerStack returns the stack size of worker 1 of a pool of 2 threads
// made with StackSize size.
func workerStack(t *testing.T, size int) int {
	t.Helper()
	p, err := New(Config{Threads: 2, StackSize: size})
	if err != nil {
		t.Fatalf("StackSize %d: %v", size, err)
	}
	defer p.Close()
	var got int
	err = p.Broadcast(func(index, count int) error {
		if index == 1 {
			got = threadStackSize()
		}
		return nil
	})
	if err != nil || got == 0 {
		t.Fatalf("the stack size of a worker: %d, %v", got, err)
	}
	return got
}

func TestStackSize(t *testing.T) {
	// The C library may hand a thread a larger stack that it kept from
	// an earlier thread, never a smaller one.
	page := os.Getpagesize()
	def := workerStack(t, 0)
	small := 256 << 10
	if got := workerStack(t, small); got < small || got >= def {
		t.Fatalf("StackSize %d: the worker's stack is %d bytes, the default %d", small, got, def)
	}
	large := 2*def + 1
	if got := workerStack(t, large); got < (large+page-1)/page*page {
		t.Fatalf("StackSize %d: the worker's stack is %d bytes", large, got)
	}
	for _, c := range []struct {
		size int
		want string
	}{{-1, "StackSize = -1 is negative"}, {100, "StackSize = 100 is below the system's minimum"}} {
		if _, err := New(Config{Threads: 2, StackSize: c.size}); !errors.Is(err, ErrInvalid) ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("StackSize %d: %v, want %q", c.size, err, c.want)
		}
	}
}

// traceFile is what Trace.WriteTo writes.
type traceFile struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

func TestTrace(t *testing.T) {
	tr := NewTrace()
	p, err := New(Config{Threads: 2, Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.For(1000, 1, func(lo, hi int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.Broadcast(func(index, count int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.Scope(func(s *Scope) error {
		s.Spawn(func() error { return nil })
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(func() error { return nil }, Name("physics")).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(func() error { return nil }).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := tr.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d bytes, %v; %d written", n, err, buf.Len())
	}
	var f traceFile
	if err := json.Unmarshal(buf.Bytes(), &f); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	seen := map[string]int{}
	open := map[int][]string{} // per thread, the names begun and not ended
	threadNames := map[int]string{}
	last := 0.0
	for _, e := range f.TraceEvents {
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				threadNames[e.Tid], _ = e.Args["name"].(string)
			}
		case "B":
			open[e.Tid] = append(open[e.Tid], e.Name)
			seen[e.Cat+":"+e.Name]++
		case "E":
			stack := open[e.Tid]
			if len(stack) == 0 || stack[len(stack)-1] != e.Name {
				t.Fatalf("end of %s on thread %d, which has %v open", e.Name, e.Tid, stack)
			}
			open[e.Tid] = stack[:len(stack)-1]
		default:
			t.Fatalf("event of phase %q", e.Ph)
		}
		if e.Ph != "M" {
			if e.Ts < last {
				t.Fatalf("events out of time order: %v after %v", e.Ts, last)
			}
			last = e.Ts
		}
	}
	for _, want := range []string{"part:part", "broadcast:broadcast", "scope task:scope task", "task:physics", "task:task"} {
		if seen[want] == 0 {
			t.Errorf("no %s in the trace; seen %v", want, seen)
		}
	}
	if seen["broadcast:broadcast"] != 2 {
		t.Errorf("%d broadcast parts traced, want 2", seen["broadcast:broadcast"])
	}
	worker := false
	for _, name := range threadNames {
		worker = worker || name == "micropool-1"
	}
	if !worker {
		t.Errorf("no row for worker 1: %v", threadNames)
	}
}

// A Tracer of our own sees what the pool does; its panic comes back from
// Close.
type countTracer struct {
	mu          sync.Mutex
	begun, ends map[TraceKind]int
	panicAt     TraceKind
}

func (c *countTracer) Begin(kind TraceKind, thread int, name string) {
	c.mu.Lock()
	c.begun[kind]++
	c.mu.Unlock()
	if kind == c.panicAt {
		panic("tracer failed")
	}
}

func (c *countTracer) End(kind TraceKind, thread int, name string) {
	c.mu.Lock()
	c.ends[kind]++
	c.mu.Unlock()
}

func TestTracerPanic(t *testing.T) {
	c := &countTracer{begun: map[TraceKind]int{}, ends: map[TraceKind]int{}, panicAt: TraceBroadcast}
	p, err := New(Config{Threads: 2, Tracer: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Broadcast(func(index, count int) error { return nil }); err != nil {
		t.Fatalf("a panic of the tracer reached the operation: %v", err)
	}
	err = p.Close()
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "tracer failed" {
		t.Fatalf("Close: %v, want the tracer's panic", err)
	}
	if c.begun[TraceBroadcast] != 2 || c.ends[TraceBroadcast] != 2 {
		t.Fatalf("broadcast: %d begun, %d ended, want 2 and 2", c.begun[TraceBroadcast], c.ends[TraceBroadcast])
	}
	if TraceSleep.String() != "sleep" || TraceKind(9).String() != "TraceKind(9)" {
		t.Fatalf("TraceKind.String: %q, %q", TraceSleep, TraceKind(9))
	}
}
