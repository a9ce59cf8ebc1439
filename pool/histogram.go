package pool

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// HistogramBuckets is the number of buckets in a Histogram.
//
// Bucket 0 holds acquires that did not wait at all, bucket 1 waits under 1.024 µs,
// and from there each power of two is split into four buckets (at most 25 %
// wide) up to about 2.4 hours; the last bucket also takes everything longer.
const HistogramBuckets = 2 + 33*4

// Histogram is a snapshot of acquire times. It is a plain value: copying it
// does not allocate, and two snapshots can be subtracted to get the acquires of
// an interval.
type Histogram struct {
	Count   uint64                   // acquires recorded
	Sum     time.Duration            // total time they took
	Buckets [HistogramBuckets]uint64 // counts per bucket; see BucketBounds
}

// BucketBounds returns the range [lo, hi) of durations counted in bucket i.
// Bucket 0 is [0, 0] (no wait); the last bucket's hi is the largest Duration.
// It panics if i is out of range.
func BucketBounds(i int) (lo, hi time.Duration) {
	switch {
	case i < 0 || i >= HistogramBuckets:
		panic("pool: histogram bucket out of range")
	case i == 0:
		return 0, 0
	case i == 1:
		return 0, 1 << 10
	}
	e, m := 10+(i-2)/4, (i-2)%4
	lo = time.Duration(4+m) << (e - 2)
	hi = time.Duration(5+m) << (e - 2)
	if i == HistogramBuckets-1 {
		hi = math.MaxInt64
	}
	return lo, hi
}

func bucketOf(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	if d < 1<<10 {
		return 1
	}
	e := bits.Len64(uint64(d)) - 1
	if e > 42 {
		return HistogramBuckets - 1
	}
	return 2 + (e-10)*4 + int(d>>(e-2))&3
}

// Mean returns Sum/Count, or 0 when nothing was recorded.
func (h *Histogram) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / time.Duration(h.Count)
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) by interpolating inside its
// bucket, so it is within 25 % of the truth. It returns 0 when nothing was
// recorded; q outside [0, 1] is clamped.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(h.Count)
	var cum float64
	for i, c := range h.Buckets {
		if c == 0 {
			continue
		}
		prev := cum
		cum += float64(c)
		if cum < rank {
			continue
		}
		lo, hi := BucketBounds(i)
		if i == 0 || i == HistogramBuckets-1 {
			return lo
		}
		return lo + time.Duration(float64(hi-lo)*(rank-prev)/float64(c))
	}
	lo, _ := BucketBounds(HistogramBuckets - 1)
	return lo
}

// Sub returns the acquires recorded in h but not in prev, where prev is an
// earlier snapshot of the same pool: the histogram of the interval between the
// two. A monitor sampling Stats every second gets per-second percentiles from
// it.
func (h Histogram) Sub(prev Histogram) Histogram {
	h.Count -= prev.Count
	h.Sum -= prev.Sum
	for i := range h.Buckets {
		h.Buckets[i] -= prev.Buckets[i]
	}
	return h
}

// atomicHistogram records the acquires that waited or validated; the pool
// derives bucket 0 (no wait) from its acquire counter, so the fast path records
// nothing here.
type atomicHistogram struct {
	count   atomic.Uint64
	sum     atomic.Int64
	buckets [HistogramBuckets]atomic.Uint64
}

func (a *atomicHistogram) record(d time.Duration) {
	a.buckets[bucketOf(d)].Add(1)
	a.sum.Add(int64(max(d, 0)))
	a.count.Add(1)
}

func (a *atomicHistogram) load(h *Histogram) {
	h.Count = a.count.Load()
	h.Sum = time.Duration(a.sum.Load())
	for i := range h.Buckets {
		h.Buckets[i] = a.buckets[i].Load()
	}
}
