package monitor

import (
	"fmt"
	"slices"
	"time"
)

// AlertType names an alert rule.
type AlertType string

// The alert rules, from the lesson's PoolMonitor.
const (
	HighUtilization AlertType = "high_utilization"
	SlowAcquisition AlertType = "slow_acquisition"
	HighErrorRate   AlertType = "high_error_rate"
	PoolExhaustion  AlertType = "pool_exhaustion"
)

// Level is an alert's severity.
type Level string

// The alert levels.
const (
	LevelWarning  Level = "warning"
	LevelCritical Level = "critical"
)

// Condition is an alert rule that holds for a window.
type Condition struct {
	Type           AlertType `json:"type"`
	Level          Level     `json:"level"`
	Message        string    `json:"message"`
	Recommendation string    `json:"recommendation"`
	Value          float64   `json:"value"`     // the measure (seconds for times)
	Threshold      float64   `json:"threshold"` // what it exceeded
}

// Conditions returns the alert rules that hold for w, in a fixed order.
func Conditions(w Window, t Thresholds) []Condition { return conditions(w, t, nil) }

// conditions is Conditions where the alerts firing (in the book b, if any)
// hold until their measure is below the threshold lowered by t.Clear. A
// condition reports the threshold that fires it.
func conditions(w Window, t Thresholds, b *AlertBook) []Condition {
	var out []Condition
	if w.Samples == 0 {
		return nil
	}
	lt := t.lowered()
	at := func(typ AlertType) *Thresholds {
		if b != nil && slices.ContainsFunc(b.firing, func(a Alert) bool { return a.Type == typ }) {
			return &lt
		}
		return &t
	}
	if w.Utilization > at(HighUtilization).AlertUtilization {
		out = append(out, Condition{
			Type: HighUtilization, Level: LevelWarning,
			Message:        fmt.Sprintf("Pool utilization at %s", percent(w.Utilization)),
			Recommendation: "Consider increasing pool size or optimizing queries",
			Value:          w.Utilization, Threshold: t.AlertUtilization,
		})
	}
	if w.AcquireMean.Std() > at(SlowAcquisition).AlertAcquire {
		out = append(out, Condition{
			Type: SlowAcquisition, Level: LevelWarning,
			Message:        fmt.Sprintf("Average acquire time: %s (p95 %s)", w.AcquireMean, w.AcquireP95),
			Recommendation: "Check database performance and network latency",
			Value:          w.AcquireMean.Std().Seconds(), Threshold: t.AlertAcquire.Seconds(),
		})
	}
	if w.ErrorRate > at(HighErrorRate).AlertErrorRate {
		out = append(out, Condition{
			Type: HighErrorRate, Level: LevelCritical,
			// Not "6 of 5": failed dials can outnumber acquires while the database is down.
			Message: fmt.Sprintf("Error rate: %.2f%% (%s, %s)", w.ErrorRate*100,
				plural(w.Errors, "error", "errors"), plural(w.Attempts, "acquire attempt", "acquire attempts")),
			Recommendation: "Investigate connection failures and database health",
			Value:          w.ErrorRate, Threshold: t.AlertErrorRate,
		})
	}
	if w.Timeouts > at(PoolExhaustion).AlertTimeouts {
		out = append(out, Condition{
			Type: PoolExhaustion, Level: LevelCritical,
			Message:        plural(w.Timeouts, "acquire timeout", "acquire timeouts") + " detected",
			Recommendation: "Increase pool size or reduce connection hold time",
			Value:          float64(w.Timeouts), Threshold: float64(t.AlertTimeouts),
		})
	}
	return out
}

// Alert is a condition with its history: when it fired and, once it no longer
// holds, when it resolved.
type Alert struct {
	Condition
	FiredAt    time.Time  `json:"fired_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"` // nil while firing
}

// Firing reports whether the alert has not resolved.
func (a *Alert) Firing() bool { return a.ResolvedAt == nil }

// maxResolved bounds the resolved alerts a pool remembers.
const maxResolved = 20

// AlertBook tracks a pool's alerts across evaluations. The zero value is ready
// to use. It is not safe for concurrent use.
type AlertBook struct {
	firing   []Alert // in Conditions order
	resolved []Alert // most recent last
}

// Update applies the conditions holding at now: a condition not firing fires
// with FiredAt now; a firing alert whose condition no longer holds resolves
// with ResolvedAt now; a firing alert that still holds keeps its FiredAt and
// takes the new message and value. It returns the alerts that fired and
// resolved in this update.
func (b *AlertBook) Update(conds []Condition, now time.Time) (fired, resolved []Alert) {
	next := make([]Alert, 0, len(conds))
	for _, c := range conds {
		i := slices.IndexFunc(b.firing, func(a Alert) bool { return a.Type == c.Type })
		if i >= 0 {
			next = append(next, Alert{Condition: c, FiredAt: b.firing[i].FiredAt})
			continue
		}
		a := Alert{Condition: c, FiredAt: now}
		next = append(next, a)
		fired = append(fired, a)
	}
	for _, a := range b.firing {
		if !slices.ContainsFunc(conds, func(c Condition) bool { return c.Type == a.Type }) {
			at := now
			a.ResolvedAt = &at
			resolved = append(resolved, a)
		}
	}
	b.firing = next
	b.resolved = append(b.resolved, resolved...)
	if over := len(b.resolved) - maxResolved; over > 0 {
		b.resolved = slices.Delete(b.resolved, 0, over)
	}
	return fired, resolved
}

// Firing returns the firing alerts.
func (b *AlertBook) Firing() []Alert { return slices.Clone(b.firing) }

// Resolved returns the most recently resolved alerts, newest first.
func (b *AlertBook) Resolved() []Alert {
	out := slices.Clone(b.resolved)
	slices.Reverse(out)
	return out
}
