package micropool

// Benchmarks that compare the pool with what a Go programmer writes
// without it: a goroutine per item joined with a sync.WaitGroup. Run them
// with
//
//	go test -run '^$' -bench Compare -benchtime 2s
//
// Each BenchmarkCompareMap case maps compareItems items of about 1, 10 or
// 100 us of CPU work each, sequentially, with the WaitGroup fan-out, with
// Map (the library picks the grain) and with a Static ForPartition of
// grain 1; speed-up is the sequential time of the same run (the best of
// the runs) divided by the best time of the case.

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

const compareItems = 256

// spinFor returns a function of about d of CPU work for an item.
func spinFor(d time.Duration) func(int) uint64 {
	// cpuWork is about 1 us; calibrate the number of rounds here.
	const probe = 200
	t0 := time.Now()
	for i := 0; i < probe; i++ {
		sink.Add(int64(cpuWork(i)))
	}
	per := time.Since(t0) / probe
	rounds := int(d / max(per, time.Nanosecond))
	rounds = max(rounds, 1)
	return func(i int) uint64 {
		var x uint64
		for r := 0; r < rounds; r++ {
			x += cpuWork(i + r)
		}
		return x
	}
}

func BenchmarkCompareMap(b *testing.B) {
	for _, us := range []int{1, 10, 100} {
		work := spinFor(time.Duration(us) * time.Microsecond)
		in := make([]int, compareItems)
		for i := range in {
			in[i] = i
		}
		out := make([]uint64, compareItems)
		seq := func() {
			for i, x := range in {
				out[i] = work(x)
			}
		}
		variants := []struct {
			name string
			run  func(p *Pool)
		}{
			{"waitgroup", func(*Pool) {
				var wg sync.WaitGroup
				for i, x := range in {
					wg.Add(1)
					go func(i, x int) {
						defer wg.Done()
						out[i] = work(x)
					}(i, x)
				}
				wg.Wait()
			}},
			{"map", func(p *Pool) {
				r, err := Map(p, in, work)
				if err != nil {
					b.Fatal(err)
				}
				copy(out, r)
			}},
			{"static", func(p *Pool) {
				err := p.ForPartition(len(in), 1, Static, func(lo, hi int) error {
					for i := lo; i < hi; i++ {
						out[i] = work(in[i])
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}},
		}
		for _, v := range variants {
			b.Run(fmt.Sprintf("work=%dus/%s", us, v.name), func(b *testing.B) {
				p := benchPool(b, 2)
				bestSeq, best := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					seq()
					t1 := time.Now()
					v.run(p)
					t2 := time.Now()
					bestSeq = min(bestSeq, t1.Sub(t0))
					best = min(best, t2.Sub(t1))
				}
				b.ReportMetric(float64(bestSeq)/float64(best), "speedup")
			})
		}
	}
}

// Join of two empty functions: a goroutine and a WaitGroup against the
// pool's Join.
func BenchmarkCompareJoin(b *testing.B) {
	f := func() error { return nil }
	b.Run("waitgroup", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				f()
			}()
			f()
			wg.Wait()
		}
	})
	b.Run("join", func(b *testing.B) {
		p := benchPool(b, 2)
		for i := 0; i < b.N; i++ {
			if err := p.Join(f, f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
