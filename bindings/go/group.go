package micropool

import (
	"context"
	"fmt"
	"sync"
)

// Group runs functions as background tasks of a pool and waits for them,
// in the manner of golang.org/x/sync/errgroup: Go starts one, Wait waits
// for all and returns the first error, SetLimit bounds how many run at
// once, and GroupContext gives a context that is cancelled at the first
// error. A panic in a function comes back from Wait as a *PanicError.
//
// A Group is made by Pool.Group or Pool.GroupContext; the zero Group is
// not usable. Its methods may be called from any goroutine, including the
// group's own functions.
type Group struct {
	pool   *Pool
	cancel context.CancelCauseFunc // nil without a context

	mu    sync.Mutex
	tasks []*Task // submitted since the group was last empty
	next  int     // tasks[:next] have finished
	sem   chan struct{}
	err   error // the first error
}

// Group returns a new, empty group whose functions run on p.
func (p *Pool) Group() *Group {
	return &Group{pool: p}
}

// GroupContext returns a new group whose functions run on p, and a
// context derived from ctx that is cancelled when a function of the group
// first fails or when Wait returns, whichever comes first (its cause is
// then that error). The functions should watch that context to stop early.
func (p *Pool) GroupContext(ctx context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &Group{pool: p, cancel: cancel}, ctx
}

// SetLimit limits the number of functions of the group that are active
// (started by Go and not yet returned) to n; a negative n means no limit,
// the default. It panics if functions of the group are active, as
// errgroup's does. A limit of 0 makes every Go wait for ever.
func (g *Group) SetLimit(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sem != nil && len(g.sem) != 0 {
		panic(fmt.Sprintf("micropool: Group.SetLimit while %d functions of the group are active", len(g.sem)))
	}
	if n < 0 {
		g.sem = nil
		return
	}
	g.sem = make(chan struct{}, n)
}

// Go runs f as a background task of the pool. When the group has a limit
// and that many functions are active, Go first waits until one of them
// returns; meanwhile it runs a function of the group that has not started
// yet, if there is one, so that a limit also works on a pool of one thread.
//
// The first error that a function returns (or its panic) is the one Wait
// returns; with GroupContext it also cancels the context. If the pool
// cannot take the task (it is closed), f does not run and that error is
// recorded instead.
func (g *Group) Go(f func() error) {
	if f == nil {
		g.fail(invalidArg("Group.Go", "f is nil"))
		return
	}
	g.mu.Lock()
	sem := g.sem
	g.mu.Unlock()
	if sem != nil {
		g.acquire(sem)
	}
	g.start(sem, f)
}

// TryGo is Go, except that it does not wait: when the group has a limit
// and that many functions are active, it returns false and does not run f.
func (g *Group) TryGo(f func() error) bool {
	if f == nil {
		g.fail(invalidArg("Group.TryGo", "f is nil"))
		return false
	}
	g.mu.Lock()
	sem := g.sem
	g.mu.Unlock()
	if sem != nil {
		select {
		case sem <- struct{}{}:
		default:
			return false
		}
	}
	g.start(sem, f)
	return true
}

// acquire takes a place in sem, waiting for the functions of the group
// (and running those that have not started) until one is free.
func (g *Group) acquire(sem chan struct{}) {
	for {
		select {
		case sem <- struct{}{}:
			return
		default:
		}
		t := g.unfinished()
		if t == nil {
			// Every function has returned or is returning: a place is
			// free or about to be.
			sem <- struct{}{}
			return
		}
		t.Wait()
	}
}

// unfinished returns a task of the group that has not finished, or nil
// when all have; then it forgets them.
func (g *Group) unfinished() *Task {
	g.mu.Lock()
	defer g.mu.Unlock()
	for ; g.next < len(g.tasks); g.next++ {
		if t := g.tasks[g.next]; !t.Done() {
			return t
		}
	}
	g.tasks, g.next = nil, 0
	return nil
}

// start submits f, whose place in sem (if not nil) is already taken.
func (g *Group) start(sem chan struct{}, f func() error) {
	t := g.pool.submit("Group.Go", func() error {
		if sem != nil {
			defer func() { <-sem }()
		}
		// callFunc records a panic of f, so that its order among the
		// errors of the group is kept.
		err := callFunc("Group.Go", f)
		if err != nil {
			g.fail(err)
		}
		return err
	}, nil)
	if t.c == nil {
		if sem != nil {
			<-sem
		}
		g.fail(t.fails)
		return
	}
	g.mu.Lock()
	g.tasks = append(g.tasks, t)
	g.mu.Unlock()
}

// fail records err if it is the group's first error.
func (g *Group) fail(err error) {
	g.mu.Lock()
	first := g.err == nil
	if first {
		g.err = err
	}
	g.mu.Unlock()
	if first && g.cancel != nil {
		g.cancel(err)
	}
}

// Wait waits until every function started by Go has returned (running
// those that have not started yet on the calling goroutine) and returns
// the first error, or nil. With GroupContext, the context is cancelled
// when Wait returns.
func (g *Group) Wait() error {
	for t := g.unfinished(); t != nil; t = g.unfinished() {
		t.Wait()
	}
	g.mu.Lock()
	err := g.err
	g.mu.Unlock()
	if g.cancel != nil {
		g.cancel(err)
	}
	return err
}
