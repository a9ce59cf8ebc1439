//go:build unix

package pool_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system. The
// benchmarks report it per operation (cpu-ns/op) next to wall time: on a
// loaded machine wall time also counts the time the benchmark waited for a
// CPU, CPU time does not.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
