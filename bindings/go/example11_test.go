package micropool_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"micropool.invalid/micropool"
)

func ExampleAfter() {
	pool, err := micropool.New(micropool.Config{Threads: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	var log []string
	load := pool.Submit(func() error { log = append(log, "load"); return nil })
	step := pool.Submit(func() error { log = append(log, "step"); return nil },
		micropool.After(load), micropool.Priority(micropool.High), micropool.Name("physics"))
	if err := step.Wait(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(log)
	// Output: [load step]
}

func ExampleTask_WaitTimeout() {
	pool, err := micropool.New(micropool.Config{Threads: 1}) // no worker
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	task := pool.Submit(func() error { return nil })
	err = task.WaitTimeout(time.Millisecond)
	fmt.Println(errors.Is(err, micropool.ErrTimedOut))

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	fmt.Println(task.WaitContext(ctx))
	fmt.Println(task.Wait()) // runs it here
	// Output:
	// true
	// context deadline exceeded
	// <nil>
}

func ExamplePool_RunPinned() {
	pool, err := micropool.New(micropool.Config{Threads: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	// The goroutine that owns the thread (a window, a GL context) locks
	// it; the tasks bound to thread 0 run only there.
	// runtime.LockOSThread()
	for i := 0; i < 3; i++ {
		pool.Submit(func() error { return nil }, micropool.OnThread(0))
	}
	n, err := pool.RunPinned(0)
	fmt.Println(n, err)
	// Output: 3 <nil>
}

func ExampleShared() {
	pool, err := micropool.Shared()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close() // drops this reference
	sum, err := micropool.Reduce(pool, 100, 0, 0,
		func(lo, hi, acc int) int {
			for i := lo; i < hi; i++ {
				acc += i
			}
			return acc
		},
		func(a, b int) int { return a + b })
	fmt.Println(sum, err)
	// Output: 4950 <nil>
}
