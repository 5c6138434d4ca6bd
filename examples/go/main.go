// Command micropool-go-demo shows the Go binding of micropool at work: a
// parallel sum with Reduce and a parallel quicksort with Join, each checked
// against a sequential run, with the median time of both.
//
// usage: micropool-go-demo [-threads T] [-n N] [-quick]
//
// The exit status is 0 when every result was verified, 1 otherwise.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"sort"
	"time"

	"micropool.invalid/micropool"
)

func main() {
	threads := flag.Int("threads", 0, "threads of the pool, the calling one counted (0: one per CPU)")
	n := flag.Int("n", 4_000_000, "items to sum and to sort")
	quick := flag.Bool("quick", false, "a smaller input and 5 runs instead of 9")
	flag.Parse()
	runs := 9
	if *quick {
		*n, runs = 1_000_000, 5
	}

	pool, err := micropool.New(micropool.Config{Threads: *threads})
	if err != nil {
		fmt.Fprintln(os.Stderr, "micropool:", err)
		os.Exit(1)
	}
	defer pool.Close()
	fmt.Printf("micropool %s from %s: %d threads, GOMAXPROCS %d\n",
		micropool.Version(), runtime.Version(), pool.Threads(), runtime.GOMAXPROCS(0))

	ok := demoSum(pool, *n, runs)
	ok = demoSort(pool, *n, runs) && ok
	ok = demoPanic(pool) && ok
	if !ok {
		os.Exit(1)
	}
}

// median runs f once to warm up (wake the workers, fault in the memory),
// then `runs` times, and returns the median duration.
func median(runs int, f func()) time.Duration {
	f()
	times := make([]time.Duration, runs)
	for i := range times {
		start := time.Now()
		f()
		times[i] = time.Since(start)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[runs/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// The sum of f(i) over the items, f being a little arithmetic so that the
// loop is bound by the CPU rather than by memory.
func item(i int) uint64 {
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for k := 0; k < 8; k++ {
		x ^= x >> 29
		x *= 0xBF58476D1CE4E5B9
	}
	return x >> 40
}

func sumRange(lo, hi int, acc uint64) uint64 {
	for i := lo; i < hi; i++ {
		acc += item(i)
	}
	return acc
}

func demoSum(pool *micropool.Pool, n, runs int) bool {
	var seq, par uint64
	var err error
	tSeq := median(runs, func() { seq = sumRange(0, n, 0) })
	tPar := median(runs, func() {
		par, err = micropool.Reduce(pool, n, 4096, uint64(0), sumRange,
			func(a, b uint64) uint64 { return a + b })
	})
	if err != nil || par != seq {
		fmt.Printf("sum: WRONG: parallel %d (%v), sequential %d\n", par, err, seq)
		return false
	}
	fmt.Printf("sum of %d items: %d, parallel %s, sequential %s (%.2fx)\n",
		n, par, ms(tPar), ms(tSeq), float64(tSeq)/float64(tPar))
	return true
}

// quicksort sorts a with a join at every partition larger than cutoff.
func quicksort(pool *micropool.Pool, a []int32, cutoff int) error {
	if len(a) <= cutoff {
		slices.Sort(a)
		return nil
	}
	p := partition(a)
	return pool.Join(
		func() error { return quicksort(pool, a[:p], cutoff) },
		func() error { return quicksort(pool, a[p:], cutoff) })
}

// partition is Hoare's, around the median of three; it returns p with
// 0 < p < len(a) and every a[:p] <= every a[p:]. len(a) >= 3.
func partition(a []int32) int {
	mid, last := len(a)/2, len(a)-1
	if a[mid] < a[0] {
		a[mid], a[0] = a[0], a[mid]
	}
	if a[last] < a[0] {
		a[last], a[0] = a[0], a[last]
	}
	if a[last] < a[mid] {
		a[last], a[mid] = a[mid], a[last]
	}
	pivot := a[mid]
	i, j := -1, len(a)
	for {
		for i++; a[i] < pivot; i++ {
		}
		for j--; a[j] > pivot; j-- {
		}
		if i >= j {
			return j + 1
		}
		a[i], a[j] = a[j], a[i]
	}
}

func demoSort(pool *micropool.Pool, n, runs int) bool {
	rng := rand.New(rand.NewSource(1))
	input := make([]int32, n)
	for i := range input {
		input[i] = rng.Int31()
	}
	want := slices.Clone(input)
	slices.Sort(want)

	work := make([]int32, n)
	var err error
	tSeq := median(runs, func() { copy(work, input); err = quicksort(nil, work, n) })
	tPar := median(runs, func() { copy(work, input); err = quicksort(pool, work, 5000) })
	if err != nil || !slices.Equal(work, want) {
		fmt.Printf("quicksort: WRONG result (%v)\n", err)
		return false
	}
	fmt.Printf("quicksort of %d ints: sorted, parallel %s, sequential %s (%.2fx)\n",
		n, ms(tPar), ms(tSeq), float64(tSeq)/float64(tPar))
	return true
}

// demoPanic shows a panic on a pool thread coming back as an error.
func demoPanic(pool *micropool.Pool) bool {
	err := pool.For(100, 1, func(lo, hi int) error {
		if lo <= 42 && 42 < hi {
			panic(fmt.Sprintf("item %d is cursed", 42))
		}
		return nil
	})
	var pe *micropool.PanicError
	if !errors.As(err, &pe) {
		fmt.Printf("panic: WRONG: For returned %v\n", err)
		return false
	}
	fmt.Printf("a panic in a callback came back as an error: %v\n", err)
	return true
}
