package micropool_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"micropool.invalid/micropool"
)

func ExampleNew() {
	pool, err := micropool.New(micropool.Config{Threads: 2, Name: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	fmt.Println(pool.Threads(), "threads")
	// Output: 2 threads
}

func ExamplePool_Join() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	var fib func(n int) int
	fib = func(n int) int {
		if n < 2 {
			return n
		}
		if n < 15 { // small problems are faster sequentially
			return fib(n-1) + fib(n-2)
		}
		var x, y int
		pool.Join(func() error { x = fib(n - 1); return nil }, func() error { y = fib(n - 2); return nil })
		return x + y
	}
	fmt.Println(fib(25))
	// Output: 75025
}

func ExamplePool_For() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	squares := make([]int, 10)
	err := pool.For(len(squares), 2, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			squares[i] = i * i
		}
		return nil
	})
	fmt.Println(squares, err)
	// Output: [0 1 4 9 16 25 36 49 64 81] <nil>
}

func ExamplePool_For_error() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	errNegative := errors.New("negative value")
	values := []int{3, 1, -4, 1, 5}
	err := pool.For(len(values), 1, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			if values[i] < 0 {
				return fmt.Errorf("index %d: %w", i, errNegative)
			}
		}
		return nil
	})
	fmt.Println(err, errors.Is(err, errNegative))
	// Output: index 2: negative value true
}

func ExampleReduce() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	sum, err := micropool.Reduce(pool, 1_000_000, 0, int64(0),
		func(lo, hi int, acc int64) int64 {
			for i := lo; i < hi; i++ {
				acc += int64(i)
			}
			return acc
		},
		func(a, b int64) int64 { return a + b })
	fmt.Println(sum, err)
	// Output: 499999500000 <nil>
}

func ExampleReducePartition() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	// A floating-point sum depends on the order of the additions; the
	// Deterministic partition makes it the same whatever the thread count.
	harmonic := func(lo, hi int, acc float64) float64 {
		for i := lo; i < hi; i++ {
			acc += 1 / float64(i+1)
		}
		return acc
	}
	add := func(a, b float64) float64 { return a + b }
	h, _ := micropool.ReducePartition(pool, 1000, 10, micropool.Deterministic, 0.0, harmonic, add)
	fmt.Printf("%.6f\n", h)
	// Output: 7.485471
}

func ExamplePool_Broadcast() {
	pool, _ := micropool.New(micropool.Config{Threads: 3})
	defer pool.Close()

	var seen [3]atomic.Bool
	pool.Broadcast(func(index, count int) error {
		seen[index].Store(pool.ThreadIndex() == index)
		return nil
	})
	fmt.Println(seen[0].Load(), seen[1].Load(), seen[2].Load())
	// Output: true true true
}

func ExamplePool_Scope() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	words := []string{"pear", "fig", "apple", "kiwi"}
	lengths := make([]int, len(words))
	err := pool.Scope(func(s *micropool.Scope) error {
		for i, w := range words {
			i, w := i, w
			s.Spawn(func() error { lengths[i] = len(w); return nil })
		}
		return nil
	})
	fmt.Println(lengths, err)
	// Output: [4 3 5 4] <nil>
}

func ExamplePool_Submit() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	data := []int{5, 2, 9, 1}
	task := pool.Submit(func() error {
		sort.Ints(data)
		return nil
	})
	err := task.Wait()
	fmt.Println(data, err, task.Done())
	// Output: [1 2 5 9] <nil> true
}

func ExampleTask_Cancel() {
	// A pool of one thread runs a task only when someone waits for it (or
	// at Close), so this one can still be cancelled.
	pool, _ := micropool.New(micropool.Config{Threads: 1})
	defer pool.Close()

	task := pool.Submit(func() error { fmt.Println("never printed"); return nil })
	fmt.Println(task.Cancel())
	fmt.Println(errors.Is(task.Wait(), micropool.ErrCanceled))
	// Output:
	// <nil>
	// true
}

func ExamplePanicError() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	err := pool.Join(
		func() error { return nil },
		func() error { panic("something broke") })
	var pe *micropool.PanicError
	if errors.As(err, &pe) {
		fmt.Println("recovered:", pe.Value)
	}
	// Output: recovered: something broke
}

func ExampleErrno() {
	_, err := micropool.New(micropool.Config{Threads: micropool.MaxThreads + 1})
	fmt.Println(errors.Is(err, micropool.ErrInvalid))
	// Output: true
}

func ExamplePool_Stats() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	pool.Submit(func() error { return nil }).Wait()
	stats, err := pool.Stats()
	fmt.Println(stats.TasksRun >= 1, err)
	// Output: true <nil>
}

func ExampleMap() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	words := []string{"fork", "join", "steal"}
	lengths, err := micropool.Map(pool, words, func(w string) int { return len(w) })
	fmt.Println(lengths, err)
	// Output: [4 4 5] <nil>
}

func ExampleSubmitValue() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	task := micropool.SubmitValue(pool, func() (string, error) {
		return "computed in the background", nil
	})
	fmt.Println(task.Wait())
	// Output: computed in the background <nil>
}

func ExamplePool_ForContext() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // done before the call: nothing runs
	err := pool.ForContext(ctx, 100, 1, func(lo, hi int) error {
		fmt.Println("never printed")
		return nil
	})
	fmt.Println(err)
	// Output: context canceled
}

func ExampleGroup() {
	pool, _ := micropool.New(micropool.Config{Threads: 2})
	defer pool.Close()

	g, ctx := pool.GroupContext(context.Background())
	g.SetLimit(4) // at most 4 functions active at once
	results := make([]int, 10)
	for i := range results {
		i := i
		g.Go(func() error {
			if ctx.Err() != nil {
				return ctx.Err() // another function failed
			}
			results[i] = i * 10
			return nil
		})
	}
	err := g.Wait()
	fmt.Println(results, err)
	// Output: [0 10 20 30 40 50 60 70 80 90] <nil>
}
