//go:build !unix

package pool_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
