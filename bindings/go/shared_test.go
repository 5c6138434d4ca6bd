package micropool

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestShared(t *testing.T) {
	t.Setenv("MICROPOOL_THREADS", "3")
	a, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.Threads() != 3 || b.Threads() != 3 {
		t.Fatalf("two references: %p %p, %d and %d threads, want 3", a, b, a.Threads(), b.Threads())
	}
	// The same pool: a task of one is a prerequisite of the other, and a
	// callback of one runs on a thread of the other.
	first := a.Submit(func() error { return nil })
	err = b.Submit(func() error { return nil }, After(first)).Wait()
	if err != nil {
		t.Fatalf("a task of one reference after a task of the other: %v", err)
	}
	err = a.Broadcast(func(index, count int) error {
		if got := b.ThreadIndex(); got != index {
			return errors.New("the other reference does not see the same thread")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// New with a zero Config makes a pool of its own.
	own, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := own.Submit(func() error { return nil }, After(first)).Wait(); err == nil ||
		!strings.Contains(err.Error(), "another pool") {
		t.Fatalf("New(Config{}) shares the shared pool: %v", err)
	}
	own.Close()

	// Dropping one reference leaves the other working.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Join(func() error { return nil }, func() error { return nil }); err != ErrClosed {
		t.Fatalf("a dropped reference: %v", err)
	}
	if err := b.For(100, 1, func(lo, hi int) error { return nil }); err != nil {
		t.Fatalf("the other reference after the first was dropped: %v", err)
	}
	// A callback cannot drop its own pool's reference.
	if err := b.Join(func() error { return b.Close() }, func() error { return nil }); err != ErrDeadlock {
		t.Fatalf("Close from a callback: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// The last one dropped, the next Shared makes a new pool, and reads
	// the environment again (a bad value is ignored: one that a prefix
	// parse would take for a number other than the default).
	def, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	bad := fmt.Sprintf("%dx", def.Threads()+1)
	t.Setenv("MICROPOOL_THREADS", bad)
	c, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Threads() != def.Threads() {
		t.Fatalf("MICROPOOL_THREADS=%s: %d threads, the default is %d", bad, c.Threads(), def.Threads())
	}
}
