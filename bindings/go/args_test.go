package micropool

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// A bad argument is reported by name and value, and the error still
// matches ErrInvalid and syscall.EINVAL.
func TestInvalidArgumentNamed(t *testing.T) {
	p := newPool(t, 2)
	body := func(lo, hi int) error { return nil }
	fold := func(lo, hi, acc int) int { return acc }
	add := func(a, b int) int { return a + b }
	nop := func() error { return nil }
	for _, c := range []struct {
		want string
		err  error
	}{
		{"Pool.For: n = -1", p.For(-1, 1, body)},
		{"Pool.For: grain = -1", p.For(10, -1, body)},
		{"Pool.For: body is nil", p.For(10, 1, nil)},
		{"Pool.ForPartition: partition = 7", p.ForPartition(10, 1, 7, body)},
		{"Reduce: n = -5", func() error { _, err := Reduce(p, -5, 0, 0, fold, add); return err }()},
		{"ReducePartition: grain = -2", func() error { _, err := ReducePartition(p, 5, -2, Static, 0, fold, add); return err }()},
		{"Reduce: fold is nil", func() error { _, err := Reduce(p, 5, 0, 0, nil, add); return err }()},
		{"Reduce: combine is nil", func() error { _, err := Reduce(p, 5, 0, 0, fold, nil); return err }()},
		{"Pool.Join: a is nil", p.Join(nil, nop)},
		{"Pool.Join: b is nil", p.Join(nop, nil)},
		{"Pool.Broadcast: fn is nil", p.Broadcast(nil)},
		{"Pool.Scope: body is nil", p.Scope(nil)},
		{"Scope.Spawn: f is nil", p.Scope(func(s *Scope) error { s.Spawn(nil); return nil })},
		{"Pool.Submit: f is nil", p.Submit(nil).Wait()},
		{"New: Threads = -3", func() error { _, err := New(Config{Threads: -3}); return err }()},
		{"New: Threads = 1025", func() error { _, err := New(Config{Threads: MaxThreads + 1}); return err }()},
		{`New: Name = "a\x00b"`, func() error { _, err := New(Config{Name: "a\x00b"}); return err }()},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.want)
			continue
		}
		if !errors.Is(c.err, ErrInvalid) || !errors.Is(c.err, syscall.EINVAL) {
			t.Errorf("%s: %v does not match ErrInvalid and EINVAL", c.want, c.err)
		}
		if msg := c.err.Error(); !strings.HasPrefix(msg, "micropool: "+c.want) {
			t.Errorf("error %q, want it to begin with %q", msg, "micropool: "+c.want)
		}
	}
}
