package scale

import "time"

// Sample is one reading of a pool's counters, as pool.Stats gives them.
// Counters are cumulative (they only grow while the pool lives); Max is the
// pool's effective maximum at the time.
type Sample struct {
	// At is when the counters were read. The window between two samples is
	// measured with it, so it should be read together with them.
	At time.Time
	// ActiveTime and WaitTime are the time integrals of leased connections
	// and of waiting acquirers (pool.Stats.ActiveTime and WaitTime).
	ActiveTime, WaitTime time.Duration
	// Acquired counts successful acquires; Failed the acquires that got no
	// connection because the pool was exhausted or the server unreachable.
	// Acquires the caller gave up on count in neither.
	Acquired, Failed uint64
	// Max is the pool's effective maximum size.
	Max int
}

// Metrics are what a pool did over a window, the inputs of Rules.
type Metrics struct {
	// Window is the length of the window; the other fields are zero when it
	// is not positive.
	Window time.Duration
	// MeanActive and MeanWaiting are the mean numbers of leased connections
	// and of waiting acquirers over the window, bursts between the two
	// samples included.
	MeanActive, MeanWaiting float64
	// Utilization is MeanActive over Max: 0 for an idle pool, 1 for one whose
	// every connection was leased all the time. It may exceed 1 just after
	// the maximum was lowered, as leases are not interrupted. When Max is 0
	// it is 1 if anyone held or waited for a connection, else 0.
	Utilization float64
	// AvgWait is the time acquirers spent waiting in the window divided by
	// the acquires attempted in it (those that did not wait count as 0):
	// the mean wait per acquire. Waits still under way count for the part
	// inside the window, so that a line where nobody is served shows its
	// wait; with no acquire attempted, AvgWait is the waiting time itself.
	AvgWait time.Duration
	// Attempts counts the acquires that ended in the window, served or
	// failed; ErrorRate is the share of them that failed, 0 when none ended.
	Attempts  uint64
	ErrorRate float64
	// Demand is MeanActive + MeanWaiting: how many connections the pool's
	// clients wanted at once, on average.
	Demand float64
	// Max is the effective maximum at the end of the window.
	Max int
}

// Between returns the metrics of the window from sample a to the later
// sample b of the same pool. A window that is not positive, or counters that
// went down (b is not a later reading of a's pool), give Metrics with only
// Max set.
func Between(a, b Sample) Metrics {
	m := Metrics{Max: b.Max}
	w := b.At.Sub(a.At)
	if w <= 0 || b.ActiveTime < a.ActiveTime || b.WaitTime < a.WaitTime || b.Acquired < a.Acquired || b.Failed < a.Failed {
		return m
	}
	m.Window = w
	m.MeanActive = float64(b.ActiveTime-a.ActiveTime) / float64(w)
	m.MeanWaiting = float64(b.WaitTime-a.WaitTime) / float64(w)
	m.Demand = m.MeanActive + m.MeanWaiting
	switch {
	case b.Max > 0:
		m.Utilization = m.MeanActive / float64(b.Max)
	case m.Demand > 0:
		m.Utilization = 1
	}
	failed := b.Failed - a.Failed
	m.Attempts = b.Acquired - a.Acquired + failed
	if m.Attempts > 0 {
		m.ErrorRate = float64(failed) / float64(m.Attempts)
	}
	m.AvgWait = (b.WaitTime - a.WaitTime) / time.Duration(max(m.Attempts, 1))
	return m
}
