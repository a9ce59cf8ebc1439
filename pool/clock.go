package pool

import (
	"sync/atomic"
	"time"
)

// clockResolution bounds how stale a hot-path time reading may be.
const clockResolution = 10 * time.Millisecond

// never is a clock reading later than any other.
const never = int64(1<<63 - 1)

// clock hands out monotonic nanoseconds since the pool was created.
//
// Reading the system clock costs about 30 ns on common VMs (kvm-clock), more
// than half the budget of a whole acquire+release, so Acquire and Release read
// a coarse value that a ticker goroutine refreshes every clockResolution while
// the pool is in use. The ticker stops after a tick with no readers; a reader
// that finds it stopped reads the system clock itself and restarts it. An idle
// pool therefore costs no wakeups, and a reading is never more than
// clockResolution old. Everything else (maintenance, waits, dials) uses exact
// readings.
//
// All readings derive from time.Since(epoch), so testing/synctest's fake clock
// drives them.
type clock struct {
	epoch  time.Time
	coarse atomic.Int64  // latest reading; only increases
	state  atomic.Int32  // clockStopped, clockIdle or clockBusy
	wake   chan struct{} // 1-buffered; restarts the ticker
}

const (
	clockStopped = iota // the ticker waits for wake; coarse may be old
	clockIdle           // the ticker runs; nobody read coarse since its last tick
	clockBusy           // the ticker runs and coarse was read since its last tick
)

func (c *clock) init() {
	c.epoch = time.Now()
	c.wake = make(chan struct{}, 1)
}

// now returns a reading at most clockResolution old. Its common case is two
// loads, and it inlines.
func (c *clock) now() int64 {
	if c.state.Load() == clockBusy {
		return c.coarse.Load()
	}
	return c.slowNow()
}

func (c *clock) slowNow() int64 {
	for {
		switch c.state.Load() {
		case clockBusy:
			return c.coarse.Load()
		case clockIdle:
			if c.state.CompareAndSwap(clockIdle, clockBusy) {
				return c.coarse.Load()
			}
		default:
			n := c.read()
			if c.state.CompareAndSwap(clockStopped, clockBusy) {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
			return n
		}
	}
}

// read returns an exact reading and publishes it for now.
func (c *clock) read() int64 {
	n := int64(time.Since(c.epoch))
	for {
		old := c.coarse.Load()
		if n <= old || c.coarse.CompareAndSwap(old, n) {
			return n
		}
	}
}

// time converts a reading to a time.Time.
func (c *clock) time(n int64) time.Time { return c.epoch.Add(time.Duration(n)) }

// run is the ticker goroutine; it returns when stop is closed.
func (c *clock) run(stop <-chan struct{}) {
	t := time.NewTicker(clockResolution)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.wake:
		}
		t.Reset(clockResolution)
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			c.read()
			if !c.state.CompareAndSwap(clockBusy, clockIdle) &&
				c.state.CompareAndSwap(clockIdle, clockStopped) {
				break // nobody read the clock for a whole tick
			}
		}
		t.Stop()
	}
}
