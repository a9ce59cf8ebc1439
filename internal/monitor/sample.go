package monitor

import (
	"time"

	"github.com/motorpool/motorpool/pool"
)

// Sample is one second of one pool: gauges as read at the end of the second
// and counts of what happened during it (about 250 bytes plus a few bytes per
// distinct acquire-time bucket). A pool keeps five minutes of them; older
// seconds are summed by the minute (see history).
type Sample struct {
	Time time.Time

	// Gauges.
	Active, Idle, Waiting, Total, Max, Creating int32
	ClientsActive, ClientsWaiting, ClientsIdle  int32
	// Utilization, ActiveMean and WaitingMean are means over the interval,
	// from the pool's time integrals, so that bursts between two readings
	// count; the first sample, without an interval, has the gauges.
	Utilization, ActiveMean, WaitingMean float32
	Leaked                               int32
	MeanAge, OldestLease                 time.Duration

	// Counts during the interval since the previous sample.
	Interval                        time.Duration
	Acquired, Timeouts, Unreachable uint32
	ConnErrors, ValidationFailures  uint32
	DialErrors                      uint32 // the failed dials among ConnErrors
	Leaks, Created, Destroyed       uint32
	Transactions, Queries           uint32
	LifetimeSum                     time.Duration // ages of the connections closed
	WaitSum, TxTime, QueryTime      time.Duration
	BytesIn, BytesOut               uint64
	// P50, P95 and P99 are the acquire-time percentiles of the interval.
	P50, P95, P99 time.Duration

	waits []bucketCount // the interval's acquire-time histogram, sparse
}

// bucketCount is one non-empty bucket of a pool.Histogram.
type bucketCount struct {
	bucket uint8
	count  uint32
}

// Attempts is the number of acquires that succeeded or failed for want of a
// connection in the sample.
func (s *Sample) Attempts() uint64 {
	return uint64(s.Acquired) + uint64(s.Timeouts) + uint64(s.Unreachable)
}

// Errors counts failed acquires and connection errors in the sample. An
// acquire that failed as unreachable failed because dials did, so failed
// dials count only where they outnumber those acquires: a database refusing
// every dial makes one error per attempt, not two.
func (s *Sample) Errors() uint64 {
	broken := uint64(s.ConnErrors) - uint64(min(s.DialErrors, s.ConnErrors)) // closed for an error
	return uint64(s.Timeouts) + max(uint64(s.Unreachable), uint64(s.DialErrors)) + broken
}

// newSample builds the sample for cur, read at now, given the previous
// reading (nil for the first, which then only sets gauges).
func newSample(prev *Reading, prevTime time.Time, cur *Reading, now time.Time) Sample {
	st := &cur.Stats
	s := Sample{
		Time:   now,
		Active: int32(st.Active), Idle: int32(st.Idle), Waiting: int32(st.Waiting),
		Total: int32(st.Total), Max: int32(st.Max), Creating: int32(st.Creating),
		ClientsActive: int32(cur.Clients.Active), ClientsWaiting: int32(cur.Clients.Waiting),
		ClientsIdle: int32(cur.Clients.Idle),
		Utilization: float32(st.Utilization), ActiveMean: float32(st.Active), WaitingMean: float32(st.Waiting),
		Leaked: int32(cur.Conns.Leaked), MeanAge: cur.Conns.MeanAge, OldestLease: cur.Conns.OldestLease,
	}
	if prev == nil {
		return s
	}
	ps, pt, ct := &prev.Stats, &prev.Traffic, &cur.Traffic
	s.Interval = now.Sub(prevTime)
	if s.Interval > 0 && st.ActiveTime >= ps.ActiveTime && st.WaitTime >= ps.WaitTime {
		secs := s.Interval.Seconds()
		s.ActiveMean = float32((st.ActiveTime - ps.ActiveTime).Seconds() / secs)
		s.WaitingMean = float32((st.WaitTime - ps.WaitTime).Seconds() / secs)
		if st.Max > 0 {
			s.Utilization = s.ActiveMean / float32(st.Max)
		}
	}
	// A pool replaced by a reload starts its counters again: a counter that went
	// down is counted from zero.
	d := func(cur, prev uint64) uint32 { return uint32(delta(cur, prev)) }
	s.Acquired = d(st.Acquired, ps.Acquired)
	s.Timeouts = d(st.AcquireTimeouts, ps.AcquireTimeouts)
	s.Unreachable = d(st.AcquireUnreachable, ps.AcquireUnreachable)
	s.ConnErrors = d(st.ConnectionErrors, ps.ConnectionErrors)
	s.DialErrors = d(st.DialErrors, ps.DialErrors)
	s.ValidationFailures = d(st.ValidationFailures, ps.ValidationFailures)
	s.Leaks = d(st.LeaksDetected, ps.LeaksDetected)
	s.Created = d(st.Created, ps.Created)
	s.Destroyed = d(st.Destroyed, ps.Destroyed)
	s.LifetimeSum = time.Duration(delta(lifetimeSum(st), lifetimeSum(ps)))
	s.Transactions = d(ct.Transactions, pt.Transactions)
	s.Queries = d(ct.Queries, pt.Queries)
	s.TxTime = time.Duration(delta(uint64(ct.TxTime), uint64(pt.TxTime)))
	s.QueryTime = time.Duration(delta(uint64(ct.QueryTime), uint64(pt.QueryTime)))
	s.BytesIn = delta(ct.BytesIn, pt.BytesIn)
	s.BytesOut = delta(ct.BytesOut, pt.BytesOut)

	h := subHistogram(&st.AcquireTime, &ps.AcquireTime)
	s.WaitSum = h.Sum
	s.P50, s.P95, s.P99 = h.Quantile(0.50), h.Quantile(0.95), h.Quantile(0.99)
	for i, n := range h.Buckets {
		if n != 0 {
			s.waits = append(s.waits, bucketCount{uint8(i), uint32(n)})
		}
	}
	return s
}

func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// lifetimeSum recovers the total age of the closed connections from the mean.
func lifetimeSum(s *pool.Stats) uint64 { return uint64(s.MeanLifetime) * s.Destroyed }

// subHistogram returns the acquires in cur but not in prev, bucket by bucket.
// A bucket that went down counts as empty: pool.Stats counts an acquire
// handed over to a waiter in bucket 0 ("no wait") until the waiter records
// its wait, so bucket 0 can shrink between snapshots, and a plain
// Histogram.Sub would wrap around. A histogram that restarted (a pool
// replaced by a reload) counts from zero.
func subHistogram(cur, prev *pool.Histogram) pool.Histogram {
	if cur.Count < prev.Count {
		return *cur
	}
	var h pool.Histogram
	for i := range h.Buckets {
		if cur.Buckets[i] > prev.Buckets[i] {
			h.Buckets[i] = cur.Buckets[i] - prev.Buckets[i]
			h.Count += h.Buckets[i]
		}
	}
	h.Sum = time.Duration(delta(uint64(max(cur.Sum, 0)), uint64(max(prev.Sum, 0))))
	return h
}
