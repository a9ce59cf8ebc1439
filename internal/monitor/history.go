package monitor

import "time"

// history is a pool's samples: every second of the recent past in a ring,
// and before it, back to the hour, one summary per minute. An hour of it is
// 300 samples and 55 minutes, not 3600 samples: the windows, trends and
// alerts read the last minute or five at per-second resolution, and the hour
// (trends, the diagnosis's baseline) reads sums and maxima, which a minute
// keeps.
type history struct {
	recent  ring     // per second
	minutes []minute // older, oldest first; the last may be filling
	keep    int      // how many minutes are kept
	// scanned counts the samples and minutes window has visited: tests check
	// that the per-second work does not read a whole hour of every pool.
	scanned int
}

// perMinute is how many samples a minute sums.
const perMinute = 60

// minute is perMinute consecutive samples summed.
type minute struct {
	first, last time.Time // the first and last sample's times
	tally
}

// newHistory returns a history of capacity seconds, the recent ones
// (at least five minutes, or the window judged if longer) per second.
func newHistory(capacity int, window time.Duration) history {
	fine := min(capacity, max(int(FiveMinute/time.Second), int(window/time.Second)))
	return history{recent: newRing(fine), keep: (capacity - fine) / perMinute}
}

func (h *history) push(s Sample) {
	old, ok := h.recent.push(s)
	if !ok || h.keep == 0 {
		return
	}
	if n := len(h.minutes); n == 0 || h.minutes[n-1].samples == perMinute {
		switch len(h.minutes) {
		case 0:
			h.minutes = make([]minute, 0, h.keep)
		case h.keep:
			h.minutes = h.minutes[:copy(h.minutes, h.minutes[1:])]
		}
		h.minutes = append(h.minutes, minute{first: old.Time})
	}
	m := &h.minutes[len(h.minutes)-1]
	m.last = old.Time
	m.addSample(&old)
}

// last returns the newest sample, or nil.
func (h *history) last() *Sample { return h.recent.last() }

// window calls minuteFn for each minute whose first sample was taken in
// (now-span, now], then sampleFn for each sample taken then, oldest first.
func (h *history) window(now time.Time, span time.Duration, minuteFn func(*minute), sampleFn func(*Sample)) {
	from := now.Add(-span)
	for i := range h.minutes {
		if m := &h.minutes[i]; m.first.After(from) && !m.first.After(now) {
			h.scanned++
			minuteFn(m)
		}
	}
	h.recent.window(now, span, func(s *Sample) {
		h.scanned++
		sampleFn(s)
	})
}
