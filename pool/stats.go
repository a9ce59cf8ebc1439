package pool

import "time"

// counters are the pool's statistics. Protected by Pool.mu.
type counters struct {
	acquired, released, created, waits uint64 // the first two are hot
	timeouts, unreachable, canceled    uint64
	validationFailures, dialErrors     uint64
	leaks, eventsDropped               uint64
	// unrecorded counts acquires handed to a waiter whose wait time is not yet in
	// the histogram (the waiter records it once it runs), so that Stats does not
	// count them as acquires that did not wait.
	unrecorded  uint64
	destroyed   [NumDestroyReasons]uint64
	lifetimeSum time.Duration // ages of destroyed connections
	// leaseSum and waitSum are the lengths of the leases and waits that ended.
	leaseSum, waitSum int64
	// sampled is the clock reading up to which the latest Stats counted the
	// leases and waits under way.
	sampled int64
}

// endedAt returns when a lease or wait ending at now counts as ended: no
// earlier than the latest Stats counted it as under way, so that ActiveTime
// and WaitTime never decrease. (Callers read now before taking the lock, and
// Stats may have taken it in between with a later reading.)
func (c *counters) endedAt(now int64) int64 { return max(now, c.sampled) }

// Stats is a snapshot of a pool. Counters count from New; gauges are the
// current values. Taking one costs a short lock and no allocation, so a
// monitor can sample every second; subtract two snapshots' counters, and
// their AcquireTime histograms (Histogram.Sub), to get rates and
// percentiles for the interval.
type Stats struct {
	MinSize int // minimum size in force (Config.MinSize, Resize or Reconfigure)
	MaxSize int // maximum size in force (Config.MaxSize, Resize or Reconfigure)
	Limit   int // external cap from SetLimit; -1 when none
	Max     int // effective maximum: min(MaxSize, Limit)

	Total      int // connections counted against Max, in every state
	Creating   int // dials in flight, including those waiting out a backoff
	Idle       int
	Active     int // leased
	Validating int // being validated at acquire or reset after release
	Destroying int // being closed
	Waiting    int // acquirers waiting for a connection (pending requests)
	// OldestWait is how long the acquirer at the head of the line, the one
	// waiting longest, has waited so far; 0 when nobody waits. Unlike
	// AcquireP99 it counts acquirers that will time out or give up, and
	// drops to 0 as soon as the line empties (PgBouncer's maxwait). Its
	// start may be read up to 10 ms early, as Acquire reads a coarse clock.
	OldestWait time.Duration

	// ActiveTime and WaitTime are the time integrals of Active and Waiting
	// since New: the lengths of all leases and of all waits in line, those
	// under way included. Their growth over an interval, divided by its
	// length, is the mean number of connections leased and of acquirers
	// waiting during it, bursts between two snapshots included. They are read
	// with the coarse clock (10 ms).
	ActiveTime, WaitTime time.Duration
	// At is the time ActiveTime and WaitTime were read at, exactly: the
	// growth of ActiveTime between two snapshots divided by that of At is
	// the mean number of leased connections between them, to the
	// nanosecond. It never goes back from one snapshot to the next.
	At time.Time

	// Utilization is Active/Max. It may exceed 1 just after a shrink, as
	// leases are not interrupted; when Max is 0 it is 1 if anyone holds or
	// waits for a connection, else 0.
	Utilization float64

	Created     uint64                    // connections opened
	Destroyed   uint64                    // connections closed, the sum of DestroyedBy
	DestroyedBy [NumDestroyReasons]uint64 // indexed by DestroyReason
	Acquired    uint64                    // leases granted
	Released    uint64                    // leases ended by Release, Destroy or Close; Acquired-Released = Active
	Waits       uint64                    // acquires that had to wait in line

	AcquireTimeouts    uint64 // acquires failed with FailExhausted
	AcquireUnreachable uint64 // acquires failed with FailUnreachable
	AcquireCanceled    uint64 // acquires failed with FailCanceled
	ValidationFailures uint64 // Validate errors (= DestroyedBy[DestroyValidation])
	DialErrors         uint64 // failed dials
	// ConnectionErrors is DialErrors plus connections closed for errors
	// (DestroyedBy[DestroyError]).
	ConnectionErrors uint64
	LeaksDetected    uint64 // leases reported as leaks
	EventsDropped    uint64 // events not delivered because the queue was full

	// AcquireTime is the distribution of how long successful acquires took:
	// waiting in line and validating. Acquires served from the idle stack at
	// once are in bucket 0.
	AcquireTime Histogram
	AcquireMean time.Duration // AcquireTime.Mean()
	AcquireP50  time.Duration // AcquireTime.Quantile(0.50)
	AcquireP95  time.Duration // AcquireTime.Quantile(0.95)
	AcquireP99  time.Duration // AcquireTime.Quantile(0.99)

	// MeanLifetime is the mean age of the connections closed so far.
	MeanLifetime time.Duration

	// LastDialError is the error of the last dial if it failed, nil once a
	// dial succeeds.
	LastDialError error
}

// Stats returns a snapshot of the pool. It is safe to call at any time,
// including after Close.
func (p *Pool[C]) Stats() Stats {
	var s Stats
	now := p.clock.read() // before the lock: a waiter queued since is 0 old
	p.mu.Lock()
	now = p.st.endedAt(now) // an earlier Stats may have read a later time
	p.st.sampled = now
	p.hist.load(&s.AcquireTime) // under the lock, consistent with acquired and unrecorded
	s.MinSize, s.MaxSize, s.Limit, s.Max = p.minSize, p.maxSize, p.limit, p.maxLocked()
	s.Total = len(p.conns)
	s.Creating = p.count[StateCreating]
	s.Idle = p.count[StateIdle]
	s.Active = p.count[StateActive]
	s.Validating = p.count[StateValidating]
	s.Destroying = p.count[StateDestroying]
	s.Waiting = p.waiters.n
	if w := p.waiters.front(); w != nil {
		s.OldestWait = since(now, w.start)
	}
	s.ActiveTime, s.WaitTime = time.Duration(p.st.leaseSum), time.Duration(p.st.waitSum)
	s.At = p.clock.time(now)
	for w := p.waiters.front(); w != nil; w = w.next {
		s.WaitTime += since(now, w.start)
	}
	for _, e := range p.conns {
		if e.state == StateActive && !e.forced {
			s.ActiveTime += since(now, e.leased)
		}
	}
	st := p.st
	s.LastDialError = p.dialing.lastErr
	p.unlock()

	s.Created, s.DestroyedBy = st.created, st.destroyed
	for _, n := range st.destroyed {
		s.Destroyed += n
	}
	s.Acquired, s.Released, s.Waits = st.acquired, st.released, st.waits
	s.AcquireTimeouts, s.AcquireUnreachable, s.AcquireCanceled = st.timeouts, st.unreachable, st.canceled
	s.ValidationFailures, s.DialErrors = st.validationFailures, st.dialErrors
	s.ConnectionErrors = st.dialErrors + st.destroyed[DestroyError]
	s.LeaksDetected, s.EventsDropped = st.leaks, st.eventsDropped
	if s.Destroyed > 0 {
		s.MeanLifetime = st.lifetimeSum / time.Duration(s.Destroyed)
	}
	switch {
	case s.Max > 0:
		s.Utilization = float64(s.Active) / float64(s.Max)
	case s.Active > 0 || s.Waiting > 0:
		s.Utilization = 1
	}
	if recorded := s.AcquireTime.Count + st.unrecorded; s.Acquired > recorded { // the rest did not wait
		n := s.Acquired - recorded
		s.AcquireTime.Buckets[0] += n
		s.AcquireTime.Count += n
	}
	h := &s.AcquireTime
	s.AcquireMean, s.AcquireP50, s.AcquireP95, s.AcquireP99 = h.Mean(), h.Quantile(0.5), h.Quantile(0.95), h.Quantile(0.99)
	return s
}
