// Command poolapp is a module of its own that imports the Go binding, as a
// program outside the micropool tree would: its go.mod requires micropool
// v1.0.0 and replaces it by a directory that holds the binding's source.
// It prints the library's version and a parallel sum.
package main

import (
	"fmt"
	"os"

	"micropool.invalid/micropool"
)

func main() {
	pool, err := micropool.New(micropool.Config{Threads: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer pool.Close()
	squares, err := micropool.Map(pool, []int{1, 2, 3, 4}, func(x int) int { return x * x })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sum := 0
	for _, s := range squares {
		sum += s
	}
	fmt.Printf("micropool %s: sum of squares %d\n", micropool.Version(), sum)
}
