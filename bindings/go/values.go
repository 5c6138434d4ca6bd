package micropool

import (
	"context"
	"time"
)

// TaskOf is a background task that computes a value of type T, started
// by SubmitValue. Like Task, its methods may be called from any goroutine,
// any number of times, also after the pool was closed.
type TaskOf[T any] struct {
	task  *Task
	value *T // set by the task before it returns to the library
}

// SubmitValue is Submit for a function with a result: f runs as a
// background task, and Wait returns what it returned. f must not be nil.
// The options (since 1.1) are those of Submit.
func SubmitValue[T any](p *Pool, f func() (T, error), opts ...TaskOption) *TaskOf[T] {
	v := new(T)
	if f == nil {
		return &TaskOf[T]{task: &Task{fails: invalidArg("SubmitValue", "f is nil")}, value: v}
	}
	t := p.submit("SubmitValue", func() error {
		r, err := f()
		*v = r
		return err
	}, opts)
	return &TaskOf[T]{task: t, value: v}
}

// Wait waits for the task and returns the value and the error that f
// returned. If f panicked, was cancelled or could not be submitted, it
// returns the zero T and the error that Task.Wait would give: a
// *PanicError, ErrCanceled or the reason. A task that has not started yet
// is run by the waiting goroutine itself.
func (t *TaskOf[T]) Wait() (T, error) {
	err := t.task.Wait()
	return *t.value, err
}

// WaitTimeout is Wait bounded to d, as Task.WaitTimeout (since 1.1): the
// zero T and ErrTimedOut when the task has not finished in time.
func (t *TaskOf[T]) WaitTimeout(d time.Duration) (T, error) {
	if err := t.task.WaitTimeout(d); err != nil {
		var zero T
		return zero, err
	}
	return *t.value, nil
}

// WaitContext is Wait with a context, as Task.WaitContext (since 1.1):
// the zero T and ctx.Err() when ctx is done before the task has finished.
func (t *TaskOf[T]) WaitContext(ctx context.Context) (T, error) {
	if err := t.task.WaitContext(ctx); err != nil {
		var zero T
		return zero, err
	}
	return *t.value, nil
}

// Task returns the Task behind t, for After (since 1.1).
func (t *TaskOf[T]) Task() *Task { return t.task }

// Done reports whether the task has finished or was cancelled (or could
// not be submitted). It never blocks.
func (t *TaskOf[T]) Done() bool { return t.task.Done() }

// Cancel makes sure that a task that has not started never runs, as
// Task.Cancel.
func (t *TaskOf[T]) Cancel() error { return t.task.Cancel() }

// Map returns the slice of f(x) for every x of in, in the same order,
// computed in parallel with p.For: out[i] = f(in[i]). A panic in f comes
// back as a *PanicError, with a nil slice; the items not yet started are
// then skipped.
func Map[T, U any](p *Pool, in []T, f func(T) U) ([]U, error) {
	if f == nil {
		return nil, invalidArg("Map", "f is nil")
	}
	out := make([]U, len(in))
	err := p.forPartition(watchMap, len(in), 0, Dynamic, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			out[i] = f(in[i])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
