package monitor

import (
	"slices"
	"testing"
	"time"
)

func types(cs []Condition) []AlertType {
	var out []AlertType
	for _, c := range cs {
		out = append(out, c.Type)
	}
	return out
}

func TestConditions(t *testing.T) {
	th := DefaultThresholds()
	tests := []struct {
		name string
		w    Window
		want []AlertType
	}{
		{"quiet", Window{Samples: 60}, nil},
		{"utilization at threshold", Window{Samples: 60, Utilization: 0.80}, nil},
		{"utilization above threshold", Window{Samples: 60, Utilization: 0.81}, []AlertType{HighUtilization}},
		{"acquire at threshold", Window{Samples: 60, AcquireMean: Duration(time.Second)}, nil},
		{"acquire above threshold", Window{Samples: 60, AcquireMean: Duration(time.Second + time.Millisecond)}, []AlertType{SlowAcquisition}},
		{"error rate at threshold", Window{Samples: 60, ErrorRate: 0.05}, nil},
		{"error rate above threshold", Window{Samples: 60, ErrorRate: 0.06}, []AlertType{HighErrorRate}},
		{"no timeouts", Window{Samples: 60, Timeouts: 0}, nil},
		{"one timeout", Window{Samples: 60, Timeouts: 1}, []AlertType{PoolExhaustion}},
		{"everything", Window{Samples: 60, Utilization: 1, AcquireMean: Duration(3 * time.Second), ErrorRate: 0.5, Timeouts: 9},
			[]AlertType{HighUtilization, SlowAcquisition, HighErrorRate, PoolExhaustion}},
		{"no samples", Window{Utilization: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Conditions(tt.w, th)
			if !slices.Equal(types(got), tt.want) {
				t.Fatalf("Conditions = %v, want %v", types(got), tt.want)
			}
			for _, c := range got {
				if c.Message == "" || c.Recommendation == "" || c.Level == "" {
					t.Errorf("%s: incomplete condition %+v", c.Type, c)
				}
			}
		})
	}
}

func TestConditionLevels(t *testing.T) {
	got := Conditions(Window{Samples: 1, Utilization: 1, AcquireMean: Duration(2 * time.Second), ErrorRate: 1, Timeouts: 1}, DefaultThresholds())
	want := map[AlertType]Level{HighUtilization: LevelWarning, SlowAcquisition: LevelWarning, HighErrorRate: LevelCritical, PoolExhaustion: LevelCritical}
	for _, c := range got {
		if c.Level != want[c.Type] {
			t.Errorf("%s level %s, want %s", c.Type, c.Level, want[c.Type])
		}
	}
}

func TestAlertBookFiresAndResolves(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	exhausted := Condition{Type: PoolExhaustion, Message: "3 acquire timeouts detected"}
	busy := Condition{Type: HighUtilization, Message: "Pool utilization at 100.0%"}
	var b AlertBook

	fired, resolved := b.Update([]Condition{busy}, t0)
	if len(fired) != 1 || fired[0].Type != HighUtilization || !fired[0].FiredAt.Equal(t0) || len(resolved) != 0 {
		t.Fatalf("first update: fired %v resolved %v", fired, resolved)
	}
	exhausted2 := exhausted
	fired, _ = b.Update([]Condition{busy, exhausted}, t0.Add(time.Second))
	if len(fired) != 1 || fired[0].Type != PoolExhaustion {
		t.Fatalf("second update fired %v", fired)
	}
	exhausted2.Message = "5 acquire timeouts detected"
	fired, resolved = b.Update([]Condition{busy, exhausted2}, t0.Add(2*time.Second))
	if len(fired)+len(resolved) != 0 {
		t.Fatalf("steady update changed alerts: %v %v", fired, resolved)
	}
	f := b.Firing()
	if len(f) != 2 || !f[0].FiredAt.Equal(t0) || !f[1].FiredAt.Equal(t0.Add(time.Second)) || f[1].Message != exhausted2.Message {
		t.Fatalf("firing = %+v", f)
	}
	_, resolved = b.Update([]Condition{busy}, t0.Add(10*time.Second))
	if len(resolved) != 1 || resolved[0].Type != PoolExhaustion || !resolved[0].ResolvedAt.Equal(t0.Add(10*time.Second)) ||
		!resolved[0].FiredAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("resolved = %+v", resolved)
	}
	_, resolved = b.Update(nil, t0.Add(20*time.Second))
	if len(resolved) != 1 || len(b.Firing()) != 0 {
		t.Fatalf("resolve all: %+v, firing %v", resolved, b.Firing())
	}
	hist := b.Resolved()
	if len(hist) != 2 || hist[0].Type != HighUtilization || hist[1].Type != PoolExhaustion || hist[0].Firing() {
		t.Fatalf("history = %+v", hist)
	}
	// Refiring starts a new alert.
	fired, _ = b.Update([]Condition{exhausted}, t0.Add(30*time.Second))
	if len(fired) != 1 || !fired[0].FiredAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("refire: %+v", fired)
	}
	for i := range 2 * maxResolved {
		b.Update(nil, t0.Add(time.Duration(40+2*i)*time.Second))
		b.Update([]Condition{exhausted}, t0.Add(time.Duration(41+2*i)*time.Second))
	}
	if n := len(b.Resolved()); n != maxResolved {
		t.Fatalf("history holds %d, want %d", n, maxResolved)
	}
}

// TestErrorRateMessage: while the database refuses connections, failed dials
// outnumber acquire attempts; the message counts each, not "6 of 5".
func TestErrorRateMessage(t *testing.T) {
	cs := Conditions(Window{Samples: 10, Errors: 6, Attempts: 5, ErrorRate: 1}, DefaultThresholds())
	if len(cs) != 1 || cs[0].Message != "Error rate: 100.00% (6 errors, 5 acquire attempts)" {
		t.Errorf("conditions %+v", cs)
	}
}
