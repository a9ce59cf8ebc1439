package monitor

import "time"

// ring holds the most recent samples of a pool, oldest first, overwriting the
// oldest when full.
type ring struct {
	buf  []Sample
	head int // index of the oldest sample
	n    int
}

func newRing(capacity int) ring { return ring{buf: make([]Sample, capacity)} }

func (r *ring) push(s Sample) {
	if r.n < len(r.buf) {
		r.buf[(r.head+r.n)%len(r.buf)] = s
		r.n++
		return
	}
	r.buf[r.head] = s
	r.head = (r.head + 1) % len(r.buf)
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
