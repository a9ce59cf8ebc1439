package pool

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is the error an acquire gets, wrapped in an *AcquireError with
// Reason FailClosed, when the pool is closed or closes while it waits. Test for
// it with errors.Is.
var ErrClosed = errors.New("pool: closed")

// ErrBroken is the cause, in EventConnClosed, of closing an idle connection that
// Config.Broken reported broken.
var ErrBroken = errors.New("pool: connection broke while idle")

// FailReason says why an acquire failed.
type FailReason uint8

const (
	// FailExhausted: AcquireTimeout passed with no connection to hand over
	// and no dial failing. Usually every connection the pool may open (Max)
	// stayed leased: the pool is too small for the load, or leases are held
	// too long. With Active below Max, the rest were being reset, or dialed
	// by a backend that did not answer within an AcquireTimeout shorter
	// than ConnectTimeout (see Config.AcquireTimeout).
	FailExhausted FailReason = iota + 1
	// FailUnreachable: the pool needed a new connection and every dial failed
	// for at least ConnectTimeout (or until AcquireTimeout). Err is the last
	// dial error.
	FailUnreachable
	// FailClosed: the pool is closed. Err is ErrClosed.
	FailClosed
	// FailCanceled: the caller's context ended first. Err is ctx.Err(), so
	// errors.Is(err, context.DeadlineExceeded) and context.Canceled work.
	FailCanceled
)

// String returns "exhausted", "unreachable", "closed" or "canceled".
func (r FailReason) String() string {
	switch r {
	case FailExhausted:
		return "exhausted"
	case FailUnreachable:
		return "unreachable"
	case FailClosed:
		return "closed"
	case FailCanceled:
		return "canceled"
	}
	return fmt.Sprintf("FailReason(%d)", uint8(r))
}

// AcquireError is the error of every failed acquire. Active, Max and Waiting
// describe the pool at the moment the acquire gave up; they say whether the
// pool was full (Active == Max) and how long the queue was.
type AcquireError struct {
	Reason  FailReason
	Active  int           // leased connections
	Max     int           // effective maximum: min(MaxSize, limit)
	Waiting int           // other acquirers still waiting
	Waited  time.Duration // how long this acquire waited
	// Err is the cause: the last dial error (FailUnreachable), ctx.Err()
	// (FailCanceled), ErrClosed (FailClosed) or nil (FailExhausted).
	Err error
}

// Error describes the failure in one lowercase line.
func (e *AcquireError) Error() string {
	switch e.Reason {
	case FailExhausted:
		return fmt.Sprintf("pool: exhausted: %d/%d connections active, %d waiting, waited %v",
			e.Active, e.Max, e.Waiting, e.Waited)
	case FailUnreachable:
		return fmt.Sprintf("pool: backend unreachable: waited %v: %v", e.Waited, e.Err)
	case FailClosed:
		return "pool: closed"
	}
	return fmt.Sprintf("pool: acquire %v after %v: %v", e.Reason, e.Waited, e.Err)
}

// Unwrap returns Err.
func (e *AcquireError) Unwrap() error { return e.Err }

// DestroyReason says why the pool closed a connection.
type DestroyReason uint8

const (
	// DestroyIdle: idle longer than IdleTimeout while above MinSize.
	DestroyIdle DestroyReason = iota
	// DestroyLifetime: older than MaxLifetime (with its jitter).
	DestroyLifetime
	// DestroyValidation: Validate failed before reuse.
	DestroyValidation
	// DestroyError: the holder called Lease.Destroy, Reset failed, a
	// validation was cut short by its acquirer's context, or Config.Broken
	// reported an idle connection broken.
	DestroyError
	// DestroyResize: above the maximum after Resize or SetLimit.
	DestroyResize
	// DestroyClosed: the pool closed.
	DestroyClosed
	// DestroyDiscarded: the holder called Lease.Discard: the connection works
	// but must not be reused (it holds state the next holder must not see).
	DestroyDiscarded
)

// NumDestroyReasons is the number of DestroyReason values, for arrays indexed by
// reason such as Stats.DestroyedBy.
const NumDestroyReasons = 7

// String returns "idle", "lifetime", "validation", "error", "resize",
// "closed" or "discarded", suitable as a metric label.
func (r DestroyReason) String() string {
	switch r {
	case DestroyIdle:
		return "idle"
	case DestroyLifetime:
		return "lifetime"
	case DestroyValidation:
		return "validation"
	case DestroyError:
		return "error"
	case DestroyResize:
		return "resize"
	case DestroyClosed:
		return "closed"
	case DestroyDiscarded:
		return "discarded"
	}
	return fmt.Sprintf("DestroyReason(%d)", uint8(r))
}
