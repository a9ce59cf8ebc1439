package monitor

import "time"

// ring holds the most recent samples of a pool, oldest first, overwriting the
// oldest when full. Its buffer grows as samples come, up to its capacity, so
// that a pool sampled for a few minutes (a per-user pool reaped after its
// idle_timeout) holds a few minutes of samples, not an hour's worth of zeros.
type ring struct {
	buf      []Sample
	capacity int
	head     int // index of the oldest sample
	n        int
}

func newRing(capacity int) ring { return ring{capacity: capacity} }

// push adds s and returns the sample it overwrote, if the ring was full.
func (r *ring) push(s Sample) (old Sample, full bool) {
	if len(r.buf) < r.capacity {
		if len(r.buf) == cap(r.buf) { // grow by doubling, never past capacity
			buf := make([]Sample, len(r.buf), min(max(2*cap(r.buf), 64), r.capacity))
			copy(buf, r.buf)
			r.buf = buf
		}
		r.buf = append(r.buf, s) // head stays 0 until the ring is full
		r.n++
		return Sample{}, false
	}
	old = r.buf[r.head]
	r.buf[r.head] = s
	r.head = (r.head + 1) % len(r.buf)
	return old, true
}

// at returns the i-th sample, 0 being the oldest.
func (r *ring) at(i int) *Sample { return &r.buf[(r.head+i)%len(r.buf)] }

// last returns the newest sample, or nil.
func (r *ring) last() *Sample {
	if r.n == 0 {
		return nil
	}
	return r.at(r.n - 1)
}

// since returns the index of the first sample taken after t.
func (r *ring) since(t time.Time) int {
	lo, hi := 0, r.n
	for lo < hi {
		mid := (lo + hi) / 2
		if r.at(mid).Time.After(t) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// window calls fn for each sample taken in (now-span, now].
func (r *ring) window(now time.Time, span time.Duration, fn func(*Sample)) {
	for i := r.since(now.Add(-span)); i < r.n; i++ {
		if s := r.at(i); !s.Time.After(now) {
			fn(s)
		}
	}
}
