package micropool

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// osThreads returns the number of OS threads of this process.
func osThreads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatalf("counting threads: %v", err)
	}
	return len(tasks)
}

// A pool that becomes unreachable without Close is destroyed by its
// finalizer: its worker threads end.
func TestUnclosedPoolIsDestroyed(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skipf("cannot count the threads of the process here: %v", err)
	}
	const pools = 50
	before := osThreads(t)
	for i := 0; i < pools; i++ {
		if _, err := New(Config{Threads: 2}); err != nil {
			t.Fatalf("New: %v", err)
		}
	}
	if n := osThreads(t); n < before+pools {
		t.Fatalf("%d threads with %d pools of 2 threads, %d before", n, pools, before)
	}
	// The runtime may start a few threads of its own meanwhile.
	const slack = 8
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		n := osThreads(t)
		if n <= before+slack {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d threads 30 s after %d unclosed pools became unreachable, %d before", n, pools, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
