package micropool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The environment variable that makes the test binary run one of the
// goexitChildren below instead of the tests.
const goexitChildEnv = "MICROPOOL_GOEXIT_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(goexitChildEnv); name != "" {
		os.Exit(runGoexitChild(name))
	}
	os.Exit(m.Run())
}

// goexitChildren call runtime.Goexit in a callback of each kind of
// operation, with the pool's Close deferred as a test would.
var goexitChildren = map[string]struct {
	op  string // the operation that the message must name
	run func(p *Pool) error
}{
	"For": {"Pool.For", func(p *Pool) error {
		return p.For(4, 1, func(lo, hi int) error { runtime.Goexit(); return nil })
	}},
	"Join": {"Pool.Join", func(p *Pool) error {
		return p.Join(func() error { return nil }, func() error { runtime.Goexit(); return nil })
	}},
	"Reduce": {"Reduce", func(p *Pool) error {
		_, err := Reduce(p, 4, 1, 0, func(lo, hi, acc int) int { runtime.Goexit(); return acc },
			func(a, b int) int { return a + b })
		return err
	}},
	"Broadcast": {"Pool.Broadcast", func(p *Pool) error {
		return p.Broadcast(func(index, count int) error { runtime.Goexit(); return nil })
	}},
	"Scope": {"Scope.Spawn", func(p *Pool) error {
		return p.Scope(func(s *Scope) error {
			s.Spawn(func() error { runtime.Goexit(); return nil })
			return nil
		})
	}},
	"Submit": {"Pool.Submit", func(p *Pool) error {
		return p.Submit(func() error { runtime.Goexit(); return nil }).Wait()
	}},
	"SubmitValue": {"SubmitValue", func(p *Pool) error {
		_, err := SubmitValue(p, func() (int, error) { runtime.Goexit(); return 0, nil }).Wait()
		return err
	}},
	"Map": {"Map", func(p *Pool) error {
		_, err := Map(p, make([]int, 100), func(int) int { runtime.Goexit(); return 0 })
		return err
	}},
	"Group": {"Group.Go", func(p *Pool) error {
		g := p.Group()
		g.Go(func() error { runtime.Goexit(); return nil })
		return g.Wait()
	}},
	"ForContext": {"Pool.ForContext", func(p *Pool) error {
		return p.ForContext(context.Background(), 4, 1, func(lo, hi int) error { runtime.Goexit(); return nil })
	}},
}

// runGoexitChild runs one case and returns the exit status; it should
// never return, the process being ended by the binding's report.
func runGoexitChild(name string) int {
	c, ok := goexitChildren[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown case %q\n", name)
		return 4
	}
	done := make(chan error)
	go func() {
		p, err := New(Config{Threads: 2})
		if err != nil {
			done <- err
			return
		}
		defer p.Close()
		done <- c.run(p)
	}()
	fmt.Fprintf(os.Stderr, "the goroutine ended without a report, result %v\n", <-done)
	return 3
}

// A callback that calls runtime.Goexit (t.Fatal in a test) cannot be
// unwound through the library's frames: the process must end at once with
// a message that names the operation and Goexit, instead of running the
// caller's deferred Close inside the callback and hanging there.
func TestGoexitInCallbackFailsLoudly(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	for name, c := range goexitChildren {
		name, c := name, c
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), goexitChildEnv+"="+name)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("the process hung: killed after %v; output:\n%s", time.Since(start).Round(time.Second), out.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Errorf("exit: %v, want status 2 (a Go panic)", err)
			}
			want := "micropool: a callback of " + c.op + " called runtime.Goexit"
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		})
	}
}
