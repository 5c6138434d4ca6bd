package micropool

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The conformance cases shared by every binding: those of ABI 1.0 in
// cases.txt, those of 1.1 in cases-1.1.txt. CTest passes the files in
// MICROPOOL_CONFORMANCE_CASES and MICROPOOL_CONFORMANCE_CASES_1_1; a plain
// `go test` in the source tree finds them by their place in the
// repository.
const (
	casesEnv   = "MICROPOOL_CONFORMANCE_CASES"
	cases11Env = "MICROPOOL_CONFORMANCE_CASES_1_1"
)

type confCase struct {
	line    int
	name    string
	kind    string
	threads int
	a, b    int
	expect  string
}

func loadCases(t *testing.T, env, file string) []confCase {
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join("..", "..", "tests", "conformance", file)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("no conformance cases: %s is not set and %s does not exist (%v)", env, path, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("conformance cases: %v", err)
	}
	defer f.Close()

	var cases []confCase
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 6 {
			t.Fatalf("%s:%d: want 6 columns, got %d", path, n, len(fields))
		}
		c := confCase{line: n, name: fields[0], kind: fields[1], expect: fields[5]}
		ints := []*int{&c.threads, &c.a, &c.b}
		for i, s := range fields[2:5] {
			if s == "-" {
				continue
			}
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%s:%d: column %d: %v", path, n, i+3, err)
			}
			*ints[i] = v
		}
		if seen[c.name] {
			t.Fatalf("%s:%d: case %s appears twice", path, n, c.name)
		}
		seen[c.name] = true
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return cases
}

// A conformance kind runs one case and returns its result: an integer, or
// for the error kinds the error that came back and the error that the
// failing callback raised.
type confResult struct {
	value    int64
	err      error // what the operation returned
	injected error // what the failing part returned or panicked with
}

type confKind func(t *testing.T, c confCase) confResult

var confKinds = map[string]confKind{
	"for_cover":       func(t *testing.T, c confCase) confResult { return confFor(t, c, Dynamic) },
	"for_static":      func(t *testing.T, c confCase) confResult { return confFor(t, c, Static) },
	"reduce_sum":      confReduceSum,
	"reduce_hash":     confReduceHash,
	"reduce_det":      confReduceDet,
	"join_fib":        confJoinFib,
	"join_error":      confJoinError,
	"for_error":       confForError,
	"reduce_error":    confReduceError,
	"broadcast_all":   confBroadcastAll,
	"broadcast_error": confBroadcastError,
	"nested_for":      confNestedFor,
	"nested_join_for": confNestedJoinFor,
	"scope_tree":      confScopeTree,
	"scope_error":     confScopeError,
	"submit_wait":     confSubmitWait,
	"submit_error":    confSubmitError,
	"submit_cancel":   confSubmitCancel,
	"close_pending":   confClosePending,
	"thread_index":    confThreadIndex,
}

// The kinds of cases-1.1.txt (conformance11_test.go).
var confKinds11 = map[string]confKind{
	"prio_order":            confPrioOrder,
	"after_chain":           confAfterChain,
	"after_diamond":         confAfterDiamond,
	"after_cancel_on_error": confAfterCancelOnError,
	"bound_worker":          confBoundWorker,
	"pinned_run":            confPinnedRun,
	"wait_for_timeout":      confWaitForTimeout,
	"yield_outside":         confYieldOutside,
}

// TestConformance runs both files; it passes only if every case of both
// ran and passed (a kind that the binding does not implement fails).
func TestConformance(t *testing.T) {
	t.Run("1.0", func(t *testing.T) {
		runCases(t, loadCases(t, casesEnv, "cases.txt"), confKinds)
	})
	t.Run("1.1", func(t *testing.T) {
		runCases(t, loadCases(t, cases11Env, "cases-1.1.txt"), confKinds11)
	})
}

func runCases(t *testing.T, cases []confCase, kinds map[string]confKind) {
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			kind, ok := kinds[c.kind]
			if !ok {
				t.Fatalf("line %d: kind %q is not implemented by the Go binding", c.line, c.kind)
			}
			r := kind(t, c)
			if t.Failed() {
				return
			}
			if where, isErr := strings.CutPrefix(c.expect, "error:"); isErr {
				if r.err == nil {
					t.Fatalf("expected the failure of %s to come back, got nil (value %d)", where, r.value)
				}
				if r.injected == nil {
					t.Fatalf("case did not inject a failure")
				}
				if !errors.Is(r.err, r.injected) {
					t.Fatalf("expected the error raised by %s (%v), got %#v (%v)", where, r.injected, r.err, r.err)
				}
				return
			}
			want, err := strconv.ParseInt(c.expect, 10, 64)
			if err != nil {
				t.Fatalf("line %d: bad expect %q", c.line, c.expect)
			}
			if r.err != nil {
				t.Fatalf("unexpected error: %v", r.err)
			}
			if r.value != want {
				t.Fatalf("got %d, want %d", r.value, want)
			}
		})
	}
}

// newConfPool creates a pool of the case's size and closes it at the end
// of the test, failing it if Close fails.
func newConfPool(t *testing.T, threads int) *Pool {
	t.Helper()
	p, err := New(Config{Threads: threads})
	if err != nil {
		t.Fatalf("New(%d threads): %v", threads, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func confFor(t *testing.T, c confCase, part Partition) confResult {
	p := newConfPool(t, c.threads)
	visits := make([]int32, c.a)
	var sum, calls atomic.Int64
	var bad atomic.Value
	err := p.ForPartition(c.a, c.b, part, func(lo, hi int) error {
		calls.Add(1)
		if lo < 0 || hi > c.a || lo >= hi {
			bad.CompareAndSwap(nil, fmt.Sprintf("bad range [%d, %d)", lo, hi))
			return nil
		}
		var s int64
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&visits[i], 1)
			s += int64(i)
		}
		sum.Add(s)
		return nil
	})
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	for i, v := range visits {
		if v != 1 {
			t.Fatalf("index %d visited %d times", i, v)
		}
	}
	if c.a == 0 && calls.Load() != 0 {
		t.Fatalf("n = 0 called body %d times", calls.Load())
	}
	if part == Static && calls.Load() > int64(p.Threads()) {
		t.Fatalf("static partition made %d parts for %d threads", calls.Load(), p.Threads())
	}
	return confResult{value: sum.Load(), err: err}
}

func sumIndices(lo, hi int, acc int64) int64 {
	for i := lo; i < hi; i++ {
		acc += int64(i)
	}
	return acc
}

func addInt64(a, b int64) int64 { return a + b }

func confReduceSum(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	v, err := Reduce(p, c.a, c.b, int64(0), sumIndices, addInt64)
	return confResult{value: v, err: err}
}

// hashAcc is the non-commutative fold of reduce_hash: h over len items.
type hashAcc struct {
	h   uint64
	len int
}

const hashMod = 1000003

func powMod(base uint64, exp int) uint64 {
	r := uint64(1)
	base %= hashMod
	for ; exp > 0; exp >>= 1 {
		if exp&1 == 1 {
			r = r * base % hashMod
		}
		base = base * base % hashMod
	}
	return r
}

func confReduceHash(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	v, err := Reduce(p, c.a, c.b, hashAcc{},
		func(lo, hi int, acc hashAcc) hashAcc {
			for i := lo; i < hi; i++ {
				acc.h = (acc.h*31 + uint64(i)) % hashMod
				acc.len++
			}
			return acc
		},
		func(x, y hashAcc) hashAcc {
			return hashAcc{h: (x.h*powMod(31, y.len) + y.h) % hashMod, len: x.len + y.len}
		})
	if err == nil && v.len != c.a {
		t.Fatalf("fold covered %d items, want %d", v.len, c.a)
	}
	return confResult{value: int64(v.h), err: err}
}

func confReduceDet(t *testing.T, c confCase) confResult {
	var first uint64
	for threads := 1; threads <= 4; threads++ {
		p := newConfPool(t, threads)
		v, err := ReducePartition(p, c.a, c.b, Deterministic, 0.0,
			func(lo, hi int, acc float64) float64 {
				for i := lo; i < hi; i++ {
					acc += 1 / float64(i+1)
				}
				return acc
			},
			func(x, y float64) float64 { return x + y })
		if err != nil {
			return confResult{err: err}
		}
		bits := math.Float64bits(v)
		if threads == 1 {
			first = bits
		} else if bits != first {
			t.Logf("%d threads: %v, 1 thread: %v", threads, v, math.Float64frombits(first))
			return confResult{value: 0}
		}
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	return confResult{value: 1}
}

func fibJoin(p *Pool, n, cutoff int) (int64, error) {
	if n < 2 {
		return int64(n), nil
	}
	if n <= cutoff {
		x, _ := fibJoin(p, n-1, cutoff)
		y, _ := fibJoin(p, n-2, cutoff)
		return x + y, nil
	}
	var x, y int64
	err := p.Join(
		func() (err error) { x, err = fibJoin(p, n-1, cutoff); return },
		func() (err error) { y, err = fibJoin(p, n-2, cutoff); return })
	return x + y, err
}

func confJoinFib(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	v, err := fibJoin(p, c.a, c.b)
	return confResult{value: v, err: err}
}

func confJoinError(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	errB := errors.New("join part b failed")
	var aRan atomic.Bool
	err := p.Join(func() error { aRan.Store(true); return nil }, func() error { return errB })
	if !aRan.Load() {
		t.Errorf("part a did not run")
	}
	if err != errB {
		t.Errorf("Join returned %v, not the very error value of b", err)
	}
	return confResult{err: err, injected: errB}
}

func confForError(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	errFor := fmt.Errorf("index %d failed", c.b)
	err := p.For(c.a, 1, func(lo, hi int) error {
		if lo <= c.b && c.b < hi {
			return errFor
		}
		return nil
	})
	if err != errFor {
		t.Errorf("For returned %v, not the very error value of the part", err)
	}
	return confResult{err: err, injected: errFor}
}

func confReduceError(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	// fold has no error result: it fails by panicking with an error.
	errMap := fmt.Errorf("fold of index %d failed", c.b)
	_, err := Reduce(p, c.a, 1, int64(0), func(lo, hi int, acc int64) int64 {
		if lo <= c.b && c.b < hi {
			panic(errMap)
		}
		return sumIndices(lo, hi, acc)
	}, addInt64)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != errMap {
		t.Errorf("Reduce returned %v, want a *PanicError carrying the fold's panic value", err)
	}
	return confResult{err: err, injected: errMap}
}

func confBroadcastAll(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	runs := make([]int32, c.threads)
	var badCount atomic.Int32
	err := p.Broadcast(func(index, count int) error {
		if count != c.threads || index < 0 || index >= count {
			badCount.Add(1)
			return nil
		}
		atomic.AddInt32(&runs[index], 1)
		return nil
	})
	if badCount.Load() != 0 {
		t.Fatalf("%d parts saw a wrong index or count", badCount.Load())
	}
	var total int64
	for i, r := range runs {
		if r != 1 {
			t.Fatalf("index %d ran %d times", i, r)
		}
		total++
	}
	return confResult{value: total, err: err}
}

func confBroadcastError(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	errPart := fmt.Errorf("broadcast part %d failed", c.threads-1)
	err := p.Broadcast(func(index, count int) error {
		if index == count-1 {
			return errPart
		}
		return nil
	})
	if err != errPart {
		t.Errorf("Broadcast returned %v, not the very error value of the part", err)
	}
	return confResult{err: err, injected: errPart}
}

func confNestedFor(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	var count atomic.Int64
	err := p.For(c.a, 1, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			if err := p.For(c.b, 1, func(lo, hi int) error {
				count.Add(int64(hi - lo))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return confResult{value: count.Load(), err: err}
}

func confNestedJoinFor(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	run := func() (int64, error) {
		var items atomic.Int64
		if err := p.For(c.a, 0, func(lo, hi int) error {
			items.Add(int64(hi - lo))
			return nil
		}); err != nil {
			return 0, err
		}
		s, err := Reduce(p, c.b, 0, int64(0), sumIndices, addInt64)
		return items.Load() + s, err
	}
	var x, y int64
	err := p.Join(func() (err error) { x, err = run(); return }, func() (err error) { y, err = run(); return })
	if err == nil && x != y {
		t.Fatalf("the halves disagree: %d and %d", x, y)
	}
	return confResult{value: x, err: err}
}

func confScopeTree(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	var runs atomic.Int64
	err := p.Scope(func(s *Scope) error {
		for i := 0; i < c.a; i++ {
			s.Spawn(func() error {
				runs.Add(1)
				for j := 0; j < c.b; j++ {
					s.Spawn(func() error { runs.Add(1); return nil })
				}
				return nil
			})
		}
		return nil
	})
	return confResult{value: runs.Load(), err: err}
}

func confScopeError(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	errTask := fmt.Errorf("task %d failed", c.b)
	err := p.Scope(func(s *Scope) error {
		for i := 0; i < c.a; i++ {
			i := i
			s.Spawn(func() error {
				if i == c.b {
					return errTask
				}
				return nil
			})
		}
		return nil
	})
	if err != errTask {
		t.Errorf("Scope returned %v, not the very error value of the task", err)
	}
	return confResult{err: err, injected: errTask}
}

func confSubmitWait(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	results := make([]int64, c.a)
	tasks := make([]*Task, c.a)
	for i := range tasks {
		i := i
		tasks[i] = p.Submit(func() error { results[i] = int64(i); return nil })
	}
	var sum int64
	for i, task := range tasks {
		if err := task.Wait(); err != nil {
			return confResult{err: err}
		}
		if !task.Done() {
			t.Fatalf("task %d: Done is false after Wait", i)
		}
		sum += results[i]
	}
	return confResult{value: sum}
}

func confSubmitError(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	errTask := errors.New("submitted task failed")
	task := p.Submit(func() error { return errTask })
	err := task.Wait()
	if err != errTask {
		t.Errorf("Wait returned %v, not the very error value of the task", err)
	}
	if again := task.Wait(); again != err {
		t.Errorf("a second Wait returned %v, the first %v", again, err)
	}
	return confResult{err: err, injected: errTask}
}

func confSubmitCancel(t *testing.T, c confCase) confResult {
	p := newConfPool(t, 1)
	var runs atomic.Int64
	task := p.Submit(func() error { runs.Add(1); return nil })
	if err := task.Cancel(); err != nil {
		t.Fatalf("Cancel of a task that cannot have started: %v", err)
	}
	if err := task.Wait(); !errors.Is(err, ErrCanceled) {
		t.Fatalf("Wait after Cancel returned %v, want ErrCanceled", err)
	}
	if !task.Done() {
		t.Fatalf("Done is false for a cancelled task")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return confResult{value: runs.Load()}
}

func confClosePending(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	var runs atomic.Int64
	for i := 0; i < c.a; i++ {
		p.Submit(func() error { runs.Add(1); return nil }) // detached
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return confResult{value: runs.Load()}
}

func confThreadIndex(t *testing.T, c confCase) confResult {
	p := newConfPool(t, c.threads)
	if i := p.ThreadIndex(); i != -1 {
		t.Fatalf("ThreadIndex outside any call = %d, want -1", i)
	}
	var mu sync.Mutex
	seen := map[int]int{}
	err := p.Broadcast(func(index, count int) error {
		got := p.ThreadIndex()
		mu.Lock()
		defer mu.Unlock()
		if got != index {
			return fmt.Errorf("part %d ran with thread index %d", index, got)
		}
		seen[index]++
		return nil
	})
	if i := p.ThreadIndex(); i != -1 {
		t.Fatalf("ThreadIndex after the broadcast = %d, want -1", i)
	}
	return confResult{value: int64(len(seen)), err: err}
}
