package monitor

import "math"

// Trend is the direction a measure moves in.
type Trend string

// The trends.
const (
	Rising  Trend = "rising"
	Falling Trend = "falling"
	Stable  Trend = "stable"
)

// Trends are the directions of a pool's main measures.
type Trends struct {
	Utilization Trend `json:"utilization"`
	Waiting     Trend `json:"waiting"`
	AcquireTime Trend `json:"acquire_time"`
	Throughput  Trend `json:"throughput"`
	ErrorRate   Trend `json:"error_rate"`
}

// trendTolerance is how far (relative) a recent mean must move from the
// longer one to count as rising or falling.
const trendTolerance = 0.10

// TrendsOf compares a recent window with a longer one that contains it:
// a measure rises when its recent mean is more than 10 % (and more than a
// small absolute floor) above the longer mean, falls when as far below, and
// is stable otherwise, or when the longer window holds no more samples than
// the recent one.
func TrendsOf(recent, longer Window) Trends {
	if recent.Samples == 0 || longer.Samples <= recent.Samples {
		return Trends{Stable, Stable, Stable, Stable, Stable}
	}
	// The recent samples are part of the longer window; compare with the rest.
	rest := func(r, l float64) float64 {
		n := float64(longer.Samples - recent.Samples)
		return (l*float64(longer.Samples) - r*float64(recent.Samples)) / n
	}
	restRate := func(r, l uint64) float64 {
		return float64(l-r) / float64(longer.Samples-recent.Samples)
	}
	return Trends{
		Utilization: trend(recent.Utilization, rest(recent.Utilization, longer.Utilization), 0.02),
		Waiting:     trend(recent.Waiting, rest(recent.Waiting, longer.Waiting), 0.1),
		AcquireTime: trend(recent.AcquireMean.Std().Seconds(), longerAcquire(recent, longer), 0.001),
		Throughput: trend(float64(recent.Transactions)/float64(recent.Samples),
			restRate(recent.Transactions, longer.Transactions), 0.1),
		ErrorRate: trend(recent.ErrorRate,
			ratio(longer.Errors-recent.Errors, longer.Attempts-recent.Attempts), 0.001),
	}
}

// longerAcquire is the mean acquire time, in seconds, of the acquires in
// longer but not in recent.
func longerAcquire(recent, longer Window) float64 {
	n := longer.Acquired - recent.Acquired
	if n == 0 {
		return 0
	}
	sum := longer.AcquireMean.Std().Seconds()*float64(longer.Acquired) - recent.AcquireMean.Std().Seconds()*float64(recent.Acquired)
	return math.Max(sum, 0) / float64(n)
}

func trend(recent, before, floor float64) Trend {
	d := recent - before
	if math.Abs(d) <= floor || math.Abs(d) <= trendTolerance*math.Abs(before) {
		return Stable
	}
	if d > 0 {
		return Rising
	}
	return Falling
}
