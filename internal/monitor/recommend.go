package monitor

import (
	"fmt"
	"math"
	"time"
)

// Recommendation is a concrete change to a pool's settings.
type Recommendation struct {
	Category string `json:"category"` // pool_size, timeouts, lifecycle
	Priority string `json:"priority"` // high, medium, low
	// Setting is the setting to change, Current its value now and Suggested
	// the value to set, in the configuration's own units.
	Setting        string `json:"setting"`
	Current        string `json:"current"`
	Suggested      string `json:"suggested"`
	Description    string `json:"description"`
	Impact         string `json:"impact"`
	Implementation string `json:"implementation"`
	// Evidence is the measurement the recommendation rests on.
	Evidence string `json:"evidence"`
}

// Recommend returns the changes w calls for, most urgent first. lifetime is
// how long the pool's server connections live on average (the larger of the
// mean age of the open ones and of those closed).
func Recommend(w Window, s Settings, lifetime time.Duration, t Thresholds) []Recommendation {
	var out []Recommendation
	if w.Samples == 0 {
		return nil
	}
	if w.Utilization > t.GrowUtilization && s.ConnectionLimit > 0 {
		inc := max(int(math.Ceil(float64(s.ConnectionLimit)*t.GrowBy)), 1)
		next := s.ConnectionLimit + inc
		out = append(out, Recommendation{
			Category: "pool_size", Priority: "high",
			Setting: "connection_limit", Current: fmt.Sprint(s.ConnectionLimit), Suggested: fmt.Sprint(next),
			Description:    "Increase pool size by " + plural(inc, "connection", "connections"),
			Impact:         "Will reduce connection wait times and improve throughput",
			Implementation: fmt.Sprintf("Update connection_limit parameter to %d", next),
			Evidence: fmt.Sprintf("utilization %.2f, p95 wait %s, %.1f clients waiting on average",
				w.Utilization, w.AcquireP95, w.Waiting),
		})
	}
	if w.AcquireMean.Std() > t.SlowAcquire && s.PoolTimeout > 0 {
		next := min(2*s.PoolTimeout, time.Hour)
		out = append(out, Recommendation{
			Category: "timeouts", Priority: "medium",
			Setting: "pool_timeout", Current: seconds(s.PoolTimeout), Suggested: seconds(next),
			Description:    "Optimize query performance or increase pool timeout",
			Impact:         "Will reduce user-visible delays",
			Implementation: fmt.Sprintf("Review slow queries (transactions hold a connection %s on average) or increase pool_timeout to %s", w.TxMean, seconds(next)),
			Evidence:       fmt.Sprintf("mean acquire %s > %s, p99 %s", w.AcquireMean, human(t.SlowAcquire), w.AcquireP99),
		})
	}
	if lifetime > t.LongLifetime && (s.MaxLifetime == 0 || s.MaxLifetime > t.SuggestedLifetime) {
		cur := "0 (never)"
		if s.MaxLifetime > 0 {
			cur = seconds(s.MaxLifetime)
		}
		out = append(out, Recommendation{
			Category: "lifecycle", Priority: "low",
			Setting: "max_lifetime", Current: cur, Suggested: seconds(t.SuggestedLifetime),
			Description:    "Consider reducing maximum connection lifetime",
			Impact:         "Will improve connection freshness and reduce stale connections",
			Implementation: fmt.Sprintf("Set max_lifetime parameter to %s (%s)", seconds(t.SuggestedLifetime), human(t.SuggestedLifetime)),
			Evidence:       fmt.Sprintf("server connections live %s on average > %s", human(lifetime), human(t.LongLifetime)),
		})
	}
	return out
}

// seconds writes a duration the way connection URLs take it: "30" seconds.
func seconds(d time.Duration) string {
	return fmt.Sprint(math.Round(d.Seconds()*1000) / 1000)
}
