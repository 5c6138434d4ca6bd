package micropool

/*
#include "bridge.h"
*/
import "C"

// threadStackSize returns the stack size of the calling thread in bytes,
// 0 if unknown; the tests of Config.StackSize read it on a worker (cgo
// cannot be used in a _test.go file).
func threadStackSize() int {
	return int(C.micropool_go_stack_size())
}
