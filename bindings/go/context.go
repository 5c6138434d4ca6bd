package micropool

// #include <stdint.h>
import "C"

import (
	"context"
	"sync/atomic"
)

// ctxWatch follows the context of one operation of ForContext,
// ReduceContext or JoinContext: done is set once the context is done, and
// every part reads it before it starts. A flag set by context.AfterFunc
// costs a part one atomic load, where ctx.Err() would take a lock.
//
// It also names the function that started the operation, for messages.
// The operations without a context share the static watches below, whose
// flag is never set: an operation then needs no allocation for its watch
// and its state grows by one pointer only.
type ctxWatch struct {
	ctx  context.Context // nil in the static watches
	done atomic.Bool
	what string
}

var (
	watchFor             = &ctxWatch{what: "Pool.For"}
	watchForPartition    = &ctxWatch{what: "Pool.ForPartition"}
	watchMap             = &ctxWatch{what: "Map"}
	watchReduce          = &ctxWatch{what: "Reduce"}
	watchReducePartition = &ctxWatch{what: "ReducePartition"}
	watchJoin            = &ctxWatch{what: "Pool.Join"}
)

// watchContext returns the watch for ctx and a function that stops
// watching (a context that can never be done is not watched, its flag
// stays false). It returns ctx.Err() when ctx is done already.
func watchContext(fn string, ctx context.Context) (*ctxWatch, func() bool, error) {
	if ctx == nil {
		return nil, nil, invalidArg(fn, "ctx is nil")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	w := &ctxWatch{ctx: ctx, what: fn}
	if ctx.Done() == nil {
		return w, func() bool { return true }, nil
	}
	stop := context.AfterFunc(ctx, func() { w.done.Store(true) })
	return w, stop, nil
}

// stopped reports whether the part that is about to start must be
// skipped. It is small enough to be inlined.
func (w *ctxWatch) stopped() bool {
	return w.done.Load()
}

// skip records ctx.Err() as the error of the operation whose part is
// skipped and returns the code that the part hands back to the library.
func (w *ctxWatch) skip(s *opState) C.int {
	return s.fail(w.ctx.Err())
}

// ForContext is For with a context: once ctx is done, the ranges that have
// not started are skipped and ForContext returns ctx.Err() (unless body
// failed first). A range that has started runs to its end; body may watch
// ctx itself to stop sooner. If ctx is done before the call, body is never
// called. If every range had started when ctx became done, the result is
// that of For.
func (p *Pool) ForContext(ctx context.Context, n, grain int, body func(lo, hi int) error) error {
	w, stop, err := watchContext("Pool.ForContext", ctx)
	if err != nil {
		return err
	}
	defer stop()
	return p.forPartition(w, n, grain, Dynamic, body)
}

// ReduceContext is Reduce with a context: once ctx is done, the parts of
// the input that have not started are skipped and ReduceContext returns
// the zero T and ctx.Err() (unless fold or combine panicked first). A part
// that has started is folded to its end. If ctx is done before the call,
// fold is never called.
func ReduceContext[T any](ctx context.Context, p *Pool, n, grain int, identity T,
	fold func(lo, hi int, acc T) T, combine func(a, b T) T) (T, error) {
	w, stop, err := watchContext("ReduceContext", ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer stop()
	return reducePartition(w, p, n, grain, Dynamic, identity, fold, combine)
}

// JoinContext is Join with a context: a function that has not started when
// ctx is done is skipped, and JoinContext then returns ctx.Err() (unless
// the other function failed first). If ctx is done before the call,
// neither runs.
func (p *Pool) JoinContext(ctx context.Context, a, b func() error) error {
	w, stop, err := watchContext("Pool.JoinContext", ctx)
	if err != nil {
		return err
	}
	defer stop()
	return p.join(w, a, b)
}
