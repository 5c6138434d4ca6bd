package micropool

import (
	"errors"
	"strconv"
	"testing"
)

func TestSubmitValue(t *testing.T) {
	p := newPool(t, 2)
	task := SubmitValue(p, func() (string, error) { return "forty-two", nil })
	if v, err := task.Wait(); v != "forty-two" || err != nil {
		t.Errorf("Wait: %q, %v", v, err)
	}
	if v, err := task.Wait(); v != "forty-two" || err != nil || !task.Done() {
		t.Errorf("second Wait: %q, %v, done %v", v, err, task.Done())
	}
	boom := errors.New("boom")
	if v, err := SubmitValue(p, func() (int, error) { return 7, boom }).Wait(); v != 7 || err != boom {
		t.Errorf("with an error: %d, %v", v, err)
	}
	var pe *PanicError
	if v, err := SubmitValue(p, func() (int, error) { panic("no") }).Wait(); v != 0 || !errors.As(err, &pe) {
		t.Errorf("panic: %d, %v", v, err)
	}
	if _, err := SubmitValue[int](p, nil).Wait(); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil f: %v", err)
	}
	// Many at once, waited for in any order.
	tasks := make([]*TaskOf[int], 100)
	for i := range tasks {
		i := i
		tasks[i] = SubmitValue(p, func() (int, error) { return i * i, nil })
	}
	for i := len(tasks) - 1; i >= 0; i-- {
		if v, err := tasks[i].Wait(); v != i*i || err != nil {
			t.Fatalf("task %d: %d, %v", i, v, err)
		}
	}
	q, err := New(Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	if v, err := SubmitValue(q, func() (int, error) { return 1, nil }).Wait(); v != 0 || err != ErrClosed {
		t.Errorf("closed pool: %d, %v", v, err)
	}
}

func TestSubmitValueCancel(t *testing.T) {
	p := newPool(t, 1) // a task waits there until someone waits for it
	ran := false
	task := SubmitValue(p, func() (int, error) { ran = true; return 1, nil })
	if err := task.Cancel(); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if v, err := task.Wait(); v != 0 || err != ErrCanceled || ran {
		t.Errorf("Wait: %d, %v, ran %v", v, err, ran)
	}
}

func TestMap(t *testing.T) {
	p := newPool(t, 2)
	for _, n := range []int{0, 1, 7, 1000, 100000} {
		in := make([]int, n)
		for i := range in {
			in[i] = i
		}
		out, err := Map(p, in, strconv.Itoa)
		if err != nil || len(out) != n {
			t.Fatalf("n=%d: %d results, %v", n, len(out), err)
		}
		for i, s := range out {
			if s != strconv.Itoa(i) {
				t.Fatalf("n=%d: out[%d] = %q", n, i, s)
			}
		}
	}
	out, err := Map(p, []int{1, 2, 3}, func(x int) int {
		if x == 2 {
			panic(errors.ErrUnsupported)
		}
		return x
	})
	if out != nil || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("panic: %v, %v", out, err)
	}
	if _, err := Map[int, int](p, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil f: %v", err)
	}
}
