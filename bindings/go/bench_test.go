package micropool

// Benchmarks of the crossing between Go and the pool. Run them with
//
//	go test -run '^$' -bench . -benchtime 2s
//
// ns/callback is the cost of one body call through the pool, ns/item the
// cost of the same body called from a plain Go loop.

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

var sink atomic.Int64

func benchPool(b *testing.B, threads int) *Pool {
	b.Helper()
	p, err := New(Config{Threads: threads})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

// One callback per item. A Dynamic For hands out ranges longer than grain
// when no thread is idle, so this uses the Deterministic partition, which
// cuts n <= 64 items with grain 1 into exactly n one-item ranges: 64
// callbacks per For on 2 threads (a pool of one thread runs a For inline in
// one call). The callbacks are counted.
func BenchmarkForPerItem(b *testing.B) {
	for _, threads := range []int{2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			p := benchPool(b, threads)
			const n = 64
			var calls atomic.Int64
			body := func(lo, hi int) error {
				calls.Add(1)
				return nil
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := p.ForPartition(n, 1, Deterministic, body); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if calls.Load() != int64(n*b.N) {
				b.Fatalf("%d callbacks for %d items", calls.Load(), n*b.N)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls.Load()), "ns/callback")
		})
	}
}

// The same body called from a plain Go loop, one call per item.
func BenchmarkPlainLoopPerItem(b *testing.B) {
	const n = 64
	var calls atomic.Int64
	body := func(lo, hi int) error {
		calls.Add(1)
		return nil
	}
	for i := 0; i < b.N; i++ {
		for j := 0; j < n; j++ {
			if err := body(j, j+1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls.Load()), "ns/item")
}

// A Dynamic For over 1024 items with grain 1: the engine picks the range
// lengths; callbacks/op says how many calls it made.
func BenchmarkForGrain1(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			p := benchPool(b, threads)
			const n = 1024
			var calls atomic.Int64
			body := func(lo, hi int) error {
				calls.Add(1)
				return nil
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := p.For(n, 1, body); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(calls.Load())/float64(b.N), "callbacks/op")
		})
	}
}

// Broadcast on 2 threads: every call crosses into Go on both threads.
func BenchmarkBroadcast2(b *testing.B) {
	p := benchPool(b, 2)
	fn := func(index, count int) error { return nil }
	for i := 0; i < b.N; i++ {
		if err := p.Broadcast(fn); err != nil {
			b.Fatal(err)
		}
	}
}

// Join of two empty functions on 2 threads.
func BenchmarkJoin2(b *testing.B) {
	p := benchPool(b, 2)
	f := func() error { return nil }
	for i := 0; i < b.N; i++ {
		if err := p.Join(f, f); err != nil {
			b.Fatal(err)
		}
	}
}

// A CPU-bound loop: cpuItems items of cpuWork each, sequentially in Go and
// on a pool of 2 threads. The ratio of the two times is the speed-up.
const cpuItems = 1 << 12

// cpuWork is a chain of multiplications and shifts that stays in
// registers: about a microsecond of pure CPU work, no memory traffic.
func cpuWork(i int) uint64 {
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for k := 0; k < 500; k++ {
		x ^= x >> 29
		x *= 0xBF58476D1CE4E5B9
	}
	return x >> 32
}

func cpuFold(lo, hi int, acc uint64) uint64 {
	for j := lo; j < hi; j++ {
		acc += cpuWork(j)
	}
	return acc
}

func cpuAdd(x, y uint64) uint64 { return x + y }

func BenchmarkCPUSequential(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink.Add(int64(cpuFold(0, cpuItems, 0)))
	}
}

func BenchmarkCPUParallel2(b *testing.B) {
	p := benchPool(b, 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Reduce(p, cpuItems, 16, uint64(0), cpuFold, cpuAdd)
		if err != nil {
			b.Fatal(err)
		}
		sink.Add(int64(s))
	}
}

// Both loops in turn, b.N times each, and the ratio of their best times:
// on a machine shared with other work the best of several runs is the
// figure least disturbed by it.
func BenchmarkCPUSpeedup2(b *testing.B) {
	p := benchPool(b, 2)
	bestSeq, bestPar := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		seq := cpuFold(0, cpuItems, 0)
		t1 := time.Now()
		par, err := Reduce(p, cpuItems, 16, uint64(0), cpuFold, cpuAdd)
		t2 := time.Now()
		if err != nil || par != seq {
			b.Fatalf("parallel %d (%v), sequential %d", par, err, seq)
		}
		bestSeq = min(bestSeq, t1.Sub(t0))
		bestPar = min(bestPar, t2.Sub(t1))
	}
	b.ReportMetric(float64(bestSeq.Microseconds()), "seq-best-us")
	b.ReportMetric(float64(bestPar.Microseconds()), "par-best-us")
	b.ReportMetric(float64(bestSeq)/float64(bestPar), "speedup")
}
