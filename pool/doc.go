// Package pool is motorpool's connection pool core: a generic pool of
// connections of any type C, the engine under every protocol adapter of the
// motorpool proxy and a library Go programs can use directly.
//
// It is mechanism only. It knows nothing of any protocol, does not log, and
// exports no metrics; it exposes a Stats snapshot, a connection listing
// (Conns) and an event hook (Config.OnEvent), and the hooks that sizing and
// budget policies drive (Resize, SetLimit), and Reconfigure to change
// sizes and timeouts at runtime. It uses only the standard library.
//
// # Leases
//
// Acquire returns a Lease, a small value that must be ended exactly once, by
// Release (the connection is clean and goes back) or Destroy (it is broken).
// Ending a lease twice, or using it after it ended, panics. An uncontended
// Acquire and Release take one uncontended mutex each and do not allocate.
//
// # Order
//
// Acquirers are served first come, first served: when no connection is idle
// they wait in line, and a released or newly dialed connection is handed
// directly to the head of the line. Idle connections are reused last in,
// first out. Dials run in the background, at most Config.MaxConnecting at a
// time, and only while someone waits whom no dial already under way will
// serve, or to keep Config.MinSize; a waiter takes whichever connection comes
// first and never waits on a dial of its own. Failed dials are retried after
// an exponential backoff with jitter.
//
// # Failures
//
// A failed acquire returns an *AcquireError whose Reason tells the pool being
// exhausted (every connection stayed leased until Config.AcquireTimeout) from
// the backend being unreachable (dials kept failing; the waiter gives up after
// Config.ConnectTimeout with the last dial error rather than waiting out
// AcquireTimeout), the pool being closed, and the caller's context ending.
//
// # Lifecycle
//
// The pool keeps Config.MinSize connections open, closes idle connections
// above it after Config.IdleTimeout, retires connections at
// Config.MaxLifetime give or take a jitter (leased ones when released),
// validates idle connections before reuse when they have been idle longer
// than Config.ValidateIdleAfter (replacing those that fail, unseen by the
// acquirer), and reports leases held longer than Config.LeakThreshold as
// leaks. Config.Reset, if set, cleans each connection after Release on a
// pool goroutine before it is reused.
//
// Times on the acquire and release path come from a coarse clock with a
// 10 ms resolution; all else uses the monotonic clock. The pool reads time
// only through the time package, so testing/synctest drives it.
//
// # Goroutines
//
// A pool runs a maintainer goroutine, a clock goroutine while busy, one
// goroutine per dial, close and reset in flight, and an event dispatcher if
// OnEvent is set. Close stops them all and waits for them.
package pool
