package monitor

import (
	"fmt"
	"time"
)

// Status is a pool's health, from best to worst.
type Status string

// The health statuses.
const (
	Healthy  Status = "healthy"
	Fair     Status = "fair"
	Warning  Status = "warning"
	Critical Status = "critical"
	// Unknown is the status of a pool with no samples yet.
	Unknown Status = "unknown"
)

// Rank orders statuses: Unknown 0, Healthy 1 … Critical 4.
func (s Status) Rank() int {
	switch s {
	case Healthy:
		return 1
	case Fair:
		return 2
	case Warning:
		return 3
	case Critical:
		return 4
	}
	return 0
}

// Limits are the three measures a health status is judged on. A pool is at a
// level when any measure is above that level's limit.
type Limits struct {
	ErrorRate   float64       // failed acquires and connection errors / attempts
	Utilization float64       // active server connections / maximum pool size
	Acquire     time.Duration // mean time to acquire a connection
}

// Thresholds are the numbers the rules use. DefaultThresholds gives
// DESIGN.md's and the lesson's values.
type Thresholds struct {
	// Critical, Warning: a pool is at the level when any measure is above
	// (strictly) the limit. Healthy: a pool is healthy when every measure is
	// below (strictly) the limit. Otherwise it is fair.
	Critical, Warning, Healthy Limits

	// AlertUtilization fires high_utilization when the window's mean
	// utilization is above it.
	AlertUtilization float64
	// AlertAcquire fires slow_acquisition when the mean acquire time is
	// above it.
	AlertAcquire time.Duration
	// AlertErrorRate fires high_error_rate when the error rate is above it.
	AlertErrorRate float64
	// AlertTimeouts fires pool_exhaustion when more acquires than this timed
	// out in the window.
	AlertTimeouts uint64

	// GrowUtilization recommends a larger connection_limit when mean
	// utilization is above it, by GrowBy (a fraction, rounded up to at least
	// one connection).
	GrowUtilization float64
	GrowBy          float64
	// SlowAcquire recommends a longer pool_timeout (and faster transactions)
	// when the mean acquire time is above it.
	SlowAcquire time.Duration
	// LongLifetime recommends max_lifetime = SuggestedLifetime when server
	// connections live longer than it on average.
	LongLifetime, SuggestedLifetime time.Duration
	// LeakAfter: a lease held this long in transaction or statement mode is
	// taken for a leaked connection by the diagnosis.
	LeakAfter time.Duration

	// Clear is the hysteresis of alerts and statuses, a fraction of a limit:
	// a firing alert resolves, and a status improves, only once the measure
	// that raised it is below Clear × its limit, so that a measure hovering
	// at a limit does not fire and resolve, or change the status, every
	// second. Zero or 1 means none.
	Clear float64
}

// lowered returns t with every limit a firing alert or a held status must
// clear multiplied by t.Clear.
func (t Thresholds) lowered() Thresholds {
	if t.Clear <= 0 || t.Clear >= 1 {
		return t
	}
	f := t.Clear
	scale := func(l Limits) Limits {
		return Limits{ErrorRate: l.ErrorRate * f, Utilization: l.Utilization * f, Acquire: time.Duration(float64(l.Acquire) * f)}
	}
	t.Critical, t.Warning, t.Healthy = scale(t.Critical), scale(t.Warning), scale(t.Healthy)
	t.AlertUtilization *= f
	t.AlertAcquire = time.Duration(float64(t.AlertAcquire) * f)
	t.AlertErrorRate *= f
	t.AlertTimeouts = uint64(float64(t.AlertTimeouts) * f)
	return t
}

// DefaultThresholds returns the documented thresholds: critical above 10 %
// errors, 95 % utilization or 10 s mean acquire; warning above 5 %, 80 %, 5 s;
// healthy below 1 %, 70 %, 1 s; fair otherwise. Alerts: utilization above
// 80 %, mean acquire above 1 s, error rate above 5 %, any acquire timeout.
// Recommendations: 30 % more connections above 80 % utilization, a longer
// pool_timeout above 3 s mean acquire, max_lifetime 1 h when connections live
// over 2 h. A lease is taken for a leak after 5 minutes. An alert resolves,
// and a status improves, once the measure is 10 % below the limit it crossed.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Critical:          Limits{ErrorRate: 0.10, Utilization: 0.95, Acquire: 10 * time.Second},
		Warning:           Limits{ErrorRate: 0.05, Utilization: 0.80, Acquire: 5 * time.Second},
		Healthy:           Limits{ErrorRate: 0.01, Utilization: 0.70, Acquire: time.Second},
		AlertUtilization:  0.80,
		AlertAcquire:      time.Second,
		AlertErrorRate:    0.05,
		AlertTimeouts:     0,
		GrowUtilization:   0.80,
		GrowBy:            0.30,
		SlowAcquire:       3 * time.Second,
		LongLifetime:      2 * time.Hour,
		SuggestedLifetime: time.Hour,
		LeakAfter:         5 * time.Minute,
		Clear:             0.9,
	}
}

// Health judges a window: the status and the reason for it.
func Health(w Window, t Thresholds) (Status, string) {
	if w.Samples == 0 {
		return Unknown, "no samples yet"
	}
	if why := above(w, t.Critical); why != "" {
		return Critical, why
	}
	if why := above(w, t.Warning); why != "" {
		return Warning, why
	}
	h := t.Healthy
	if w.ErrorRate < h.ErrorRate && w.Utilization < h.Utilization && w.AcquireMean.Std() < h.Acquire {
		return Healthy, "every measure within healthy limits"
	}
	return Fair, "between healthy and warning: " + measures(w)
}

// judge is Health with hysteresis: a status better than prev, the status
// of the previous evaluation, is taken only once the measures are below the
// limits lowered by t.Clear; until then prev holds, but never a status worse
// than prev.
func judge(prev Status, w Window, t Thresholds) (Status, string) {
	st, why := Health(w, t)
	if st == Unknown || st.Rank() >= prev.Rank() {
		return st, why
	}
	held, _ := Health(w, t.lowered())
	if held.Rank() > prev.Rank() {
		held = prev
	}
	if held.Rank() <= st.Rank() {
		return st, why
	}
	return held, fmt.Sprintf("%s until every measure is %s below its limit (%s)",
		held, percent(1-t.Clear), measures(w))
}

func measures(w Window) string {
	return fmt.Sprintf("error rate %s, utilization %s, mean acquire %s", percent(w.ErrorRate), percent(w.Utilization), w.AcquireMean)
}

// above names the first measure of w above l, or returns "".
func above(w Window, l Limits) string {
	switch {
	case w.ErrorRate > l.ErrorRate:
		return fmt.Sprintf("error rate %s > %s", percent(w.ErrorRate), percent(l.ErrorRate))
	case w.Utilization > l.Utilization:
		return fmt.Sprintf("utilization %s > %s", percent(w.Utilization), percent(l.Utilization))
	case w.AcquireMean.Std() > l.Acquire:
		return fmt.Sprintf("mean acquire %s > %s", w.AcquireMean, human(l.Acquire))
	}
	return ""
}

func percent(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// plural writes a count with its noun, one or many: "1 connection", "0 connections".
func plural[N int | uint64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
