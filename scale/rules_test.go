package scale

import (
	"testing"
	"time"
)

// fire is one Decide call of a scenario: at t0+at, with metrics m and size.
type fire struct {
	at     time.Duration
	m      Metrics
	size   int
	to     int    // 0: no decision
	reason string // checked when not ""
}

func busy(u float64) Metrics { return Metrics{Window: 10 * time.Second, Utilization: u} }

func TestRules(t *testing.T) {
	up := Rule{Trigger: HighUtilization, Threshold: 0.8, Action: ScaleUp, Step: 5, Cooldown: time.Minute}
	down := Rule{Trigger: HighUtilization, Threshold: 0.3, Below: true, Action: ScaleDown, Step: 3, Cooldown: 5 * time.Minute}
	wait := Rule{Trigger: LongWaitTimes, Threshold: 1, Action: ScaleUp, Step: 2, Cooldown: time.Minute}
	queue := Rule{Trigger: QueueBuildup, Threshold: 3, Action: ScaleUp, Step: 4}
	errs := Rule{Trigger: ErrorSpike, Threshold: 0.1, Action: ScaleToTarget, Target: 15, Name: "scaling.rules[7]"}
	b := Bounds{Floor: 2, Ceiling: 30}
	tests := []struct {
		name   string
		rules  []Rule
		bounds Bounds
		calls  []fire
	}{
		{"high utilization", []Rule{up}, b, []fire{
			{m: busy(0.80), size: 20},
			{m: busy(0.91), size: 20, to: 25, reason: "utilization 0.91 > 0.80 (rule 1): 20 → 25"},
		}},
		{"below", []Rule{down}, b, []fire{
			{m: busy(0.30), size: 20},
			{m: busy(0.2996), size: 20, to: 17, reason: "utilization 0.2996 < 0.3000 (rule 1): 20 → 17"},
			{at: 5 * time.Minute, m: busy(0.12), size: 20, to: 17, reason: "utilization 0.12 < 0.30 (rule 1): 20 → 17"},
		}},
		{"long wait times", []Rule{wait}, b, []fire{
			{m: Metrics{AvgWait: time.Second}, size: 10},
			{m: Metrics{AvgWait: 1800 * time.Millisecond}, size: 10, to: 12, reason: "average wait 1.8s > 1s (rule 1): 10 → 12"},
			{at: time.Minute, m: Metrics{AvgWait: 1000300 * time.Microsecond}, size: 10, to: 12, reason: "average wait 1.0003s > 1s (rule 1): 10 → 12"},
		}},
		{"queue buildup", []Rule{queue}, b, []fire{
			{m: Metrics{MeanWaiting: 2.9}, size: 10},
			{m: Metrics{MeanWaiting: 3.5}, size: 10, to: 14, reason: "waiting clients 3.5 > 3.0 (rule 1): 10 → 14"},
		}},
		{"error spike to target, named", []Rule{errs}, b, []fire{
			{m: Metrics{ErrorRate: 0.05}, size: 10},
			{m: Metrics{ErrorRate: 0.25}, size: 10, to: 15, reason: "error rate 0.25 > 0.10 (scaling.rules[7]): 10 → 15"},
			{m: Metrics{ErrorRate: 0.25}, size: 15}, // already there
			{m: Metrics{ErrorRate: 0.25}, size: 20, to: 15},
		}},
		{"cooldown", []Rule{up}, b, []fire{
			{m: busy(0.9), size: 10, to: 15},
			{at: 59 * time.Second, m: busy(0.9), size: 15},
			{at: time.Minute, m: busy(0.9), size: 15, to: 20},
			{at: time.Minute + time.Second, m: busy(0.9), size: 20},
		}},
		{"no cooldown fires every time", []Rule{queue}, b, []fire{
			{m: Metrics{MeanWaiting: 5}, size: 10, to: 14},
			{m: Metrics{MeanWaiting: 5}, size: 14, to: 18},
		}},
		{"ceiling", []Rule{up}, b, []fire{
			{m: busy(0.9), size: 28, to: 30, reason: "utilization 0.90 > 0.80 (rule 1): 28 → 30"},
			{at: time.Hour, m: busy(0.9), size: 30},
		}},
		{"floor", []Rule{down}, b, []fire{
			{m: busy(0.1), size: 4, to: 2},
			{at: time.Hour, m: busy(0.1), size: 2},
		}},
		{"a rule at a bound starts no cooldown", []Rule{down}, b, []fire{
			{m: busy(0.1), size: 2},
			{at: time.Second, m: busy(0.1), size: 10, to: 7},
		}},
		{"target within bounds", []Rule{{Trigger: QueueBuildup, Threshold: 0, Action: ScaleToTarget, Target: 50}}, b, []fire{
			{m: Metrics{MeanWaiting: 1}, size: 10, to: 30},
		}},
		{"growing wins over shrinking", []Rule{down, up, wait}, b, []fire{
			{m: Metrics{Utilization: 0.1, AvgWait: 2 * time.Second}, size: 20, to: 22,
				reason: "average wait 2s > 1s (rule 3): 20 → 22"},
			// The shrinking rule did not fire, so it has no cooldown.
			{at: time.Second, m: busy(0.1), size: 22, to: 19},
		}},
		{"no shrinking while a growing rule's metric is crossed, at the ceiling", []Rule{down, wait}, b, []fire{
			{m: Metrics{Utilization: 0.1, AvgWait: 2 * time.Second}, size: 30},
			{at: time.Second, m: busy(0.1), size: 30, to: 27},
		}},
		{"no shrinking while a growing rule's metric is crossed, in its cooldown", []Rule{down, wait}, b, []fire{
			{m: Metrics{Utilization: 0.1, AvgWait: 2 * time.Second}, size: 20, to: 22},
			{at: time.Second, m: Metrics{Utilization: 0.1, AvgWait: 2 * time.Second}, size: 22},
			{at: 2 * time.Second, m: busy(0.1), size: 22, to: 19},
		}},
		{"the first growing rule wins", []Rule{wait, up}, b, []fire{
			{m: Metrics{Utilization: 0.9, AvgWait: 2 * time.Second}, size: 20, to: 22},
			{at: time.Second, m: Metrics{Utilization: 0.9, AvgWait: 2 * time.Second}, size: 22, to: 27},
		}},
		{"a target below the size shrinks", []Rule{down, {Trigger: ErrorSpike, Threshold: 0.5, Action: ScaleToTarget, Target: 3}}, b, []fire{
			{m: Metrics{ErrorRate: 1, Utilization: 0.5}, size: 20, to: 3},
		}},
		{"zero step never fires", []Rule{{Trigger: HighUtilization, Threshold: 0.5, Action: ScaleUp}}, b, []fire{
			{m: busy(1), size: 10},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRules(tt.rules...)
			for i, c := range tt.calls {
				d, ok := r.Decide(t0.Add(c.at), c.m, c.size, tt.bounds)
				switch {
				case c.to == 0 && ok:
					t.Errorf("call %d: decided %+v, want nothing", i, d)
				case c.to != 0 && !ok:
					t.Errorf("call %d: decided nothing, want %d → %d", i, c.size, c.to)
				case ok && (d.From != c.size || d.To != c.to):
					t.Errorf("call %d: decided %d → %d, want %d → %d", i, d.From, d.To, c.size, c.to)
				case ok && c.reason != "" && d.Reason != c.reason:
					t.Errorf("call %d: reason %q, want %q", i, d.Reason, c.reason)
				}
			}
		})
	}
}

func TestZeroRulesDecideNothing(t *testing.T) {
	var r Rules
	if d, ok := r.Decide(t0, busy(1), 10, Bounds{1, 20}); ok {
		t.Errorf("decided %+v", d)
	}
}
