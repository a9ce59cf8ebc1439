package scale

import (
	"fmt"
	"strconv"
	"time"
)

// Trigger is the metric a Rule watches.
type Trigger string

// The triggers, and the Metrics field each compares with a Rule's Threshold.
const (
	HighUtilization Trigger = "high_utilization" // Utilization, a ratio
	LongWaitTimes   Trigger = "long_wait_times"  // AvgWait, in seconds
	QueueBuildup    Trigger = "queue_buildup"    // MeanWaiting, acquirers
	ErrorSpike      Trigger = "error_spike"      // ErrorRate, a ratio
)

// Action is what a Rule does to the pool's maximum when it fires.
type Action string

// The actions.
const (
	ScaleUp       Action = "scale_up"        // add Step
	ScaleDown     Action = "scale_down"      // remove Step
	ScaleToTarget Action = "scale_to_target" // set Target
)

// Rule moves a pool's maximum when a metric crosses a threshold.
type Rule struct {
	// Name identifies the rule in reasons; "" names it "rule N", N counting
	// from 1 in the order given to NewRules.
	Name    string
	Trigger Trigger
	// Threshold is compared with the trigger's metric: the rule fires when
	// the metric is above it, or below it when Below is set. Equal never
	// fires. Its unit is the metric's (see Trigger).
	Threshold float64
	Below     bool
	Action    Action
	// Step is how much ScaleUp adds and ScaleDown removes; below 1 the rule
	// never fires. Target is the size ScaleToTarget sets.
	Step, Target int
	// Cooldown is the least time between two firings of the rule; 0 lets it
	// fire at every decision.
	Cooldown time.Duration
}

// value returns the metric r watches.
func (r *Rule) value(m Metrics) float64 {
	switch r.Trigger {
	case HighUtilization:
		return m.Utilization
	case LongWaitTimes:
		return m.AvgWait.Seconds()
	case QueueBuildup:
		return m.MeanWaiting
	case ErrorSpike:
		return m.ErrorRate
	}
	return 0
}

// crossed reports whether m crosses r's threshold, and says how.
func (r *Rule) crossed(m Metrics) (bool, string) {
	v, op := r.value(m), ">"
	fired := v > r.Threshold
	if r.Below {
		op, fired = "<", v < r.Threshold
	}
	// More digits when the usual ones would show v equal to the threshold.
	for extra := 0; ; extra++ {
		a, b := r.format(v, extra), r.format(r.Threshold, extra)
		if a != b || extra == 6 {
			return fired, fmt.Sprintf("%s %s %s", a, op, b)
		}
	}
}

// format writes a value of r's metric in its unit, with extra more digits
// than usual.
func (r *Rule) format(v float64, extra int) string {
	switch r.Trigger {
	case LongWaitTimes:
		unit := time.Millisecond
		for range extra {
			unit /= 10
		}
		return time.Duration(v * float64(time.Second)).Round(max(unit, 1)).String()
	case QueueBuildup:
		return strconv.FormatFloat(v, 'f', 1+extra, 64)
	}
	return strconv.FormatFloat(v, 'f', 2+extra, 64)
}

// metricName is how reasons name r's metric.
func (r *Rule) metricName() string {
	switch r.Trigger {
	case HighUtilization:
		return "utilization"
	case LongWaitTimes:
		return "average wait"
	case QueueBuildup:
		return "waiting clients"
	case ErrorSpike:
		return "error rate"
	}
	return string(r.Trigger)
}

// apply returns the size r sets from size, within b.
func (r *Rule) apply(size int, b Bounds) int {
	switch r.Action {
	case ScaleUp:
		if r.Step < 1 {
			return size
		}
		return b.clamp(size + r.Step)
	case ScaleDown:
		if r.Step < 1 {
			return size
		}
		return b.clamp(size - r.Step)
	case ScaleToTarget:
		return b.clamp(r.Target)
	}
	return size
}

// grows reports whether r, when it fires, would grow a pool of size: a
// scale_up, or a scale_to_target above size.
func (r *Rule) grows(size int) bool {
	return r.Action == ScaleUp && r.Step >= 1 || r.Action == ScaleToTarget && r.Target > size
}

// Bounds are the sizes rules may set: from Floor to Ceiling, both included.
type Bounds struct {
	Floor, Ceiling int
}

// clamp returns n within b; Ceiling wins when Floor is above it.
func (b Bounds) clamp(n int) int { return min(max(n, b.Floor), b.Ceiling) }

// Decision is a change of a pool's size, with why it was made.
type Decision struct {
	From, To int
	// Rule is the index of the rule that fired, in the order given to
	// NewRules.
	Rule int
	// Reason says what fired and what it did, for a log line or a listing:
	// "utilization 0.91 > 0.80 (rule 1): 20 → 25".
	Reason string
}

// Rules are reactive rules with their cooldowns. The zero Rules has no rule
// and never decides anything.
type Rules struct {
	rules []Rule
	fired []time.Time // when each rule last fired; zero if never
}

// NewRules returns rules, none of them cooling down.
func NewRules(rules ...Rule) *Rules {
	return &Rules{rules: append([]Rule(nil), rules...), fired: make([]time.Time, len(rules))}
}

// Decide returns the change the rules make, as of now, to a pool whose
// maximum is size and whose window of metrics is m, and whether there is one.
// A rule fires when its metric crosses its threshold, its cooldown has passed
// since it last fired, and its action changes size within b (a rule that
// would leave size where it is, as at a bound, does not fire and starts no
// cooldown). When several would fire, the first of those that grow the pool
// wins, else the first of those that shrink it; only the winner fires and
// starts its cooldown. No rule shrinks the pool while the metric of a rule
// that would grow it crosses its threshold, even if that rule cannot fire (it
// cools down, or the pool is at its ceiling): a pool whose clients queue in
// short bursts is not shrunk for its low mean utilization. The size a rule
// sets is always within b; size itself is expected within b (bring it there
// first, after b changed).
func (r *Rules) Decide(now time.Time, m Metrics, size int, b Bounds) (Decision, bool) {
	best, bestTo, bestWhy := -1, 0, ""
	pressed := false // a rule that would grow the pool has its metric crossed
	for i := range r.rules {
		rule := &r.rules[i]
		ok, why := rule.crossed(m)
		if !ok {
			continue
		}
		if rule.grows(size) {
			pressed = true
		}
		if !r.fired[i].IsZero() && now.Sub(r.fired[i]) < rule.Cooldown {
			continue
		}
		to := rule.apply(size, b)
		switch {
		case to == size:
		case to > size && (best < 0 || bestTo < size):
			best, bestTo, bestWhy = i, to, why
		case to < size && best < 0:
			best, bestTo, bestWhy = i, to, why
		}
	}
	if best < 0 || bestTo < size && pressed {
		return Decision{}, false
	}
	r.fired[best] = now
	rule := &r.rules[best]
	name := rule.Name
	if name == "" {
		name = fmt.Sprintf("rule %d", best+1)
	}
	return Decision{
		From: size, To: bestTo, Rule: best,
		Reason: fmt.Sprintf("%s %s (%s): %d → %d", rule.metricName(), bestWhy, name, size, bestTo),
	}, true
}
