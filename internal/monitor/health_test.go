package monitor

import (
	"testing"
	"time"
)

func win(errRate, util float64, acquire time.Duration) Window {
	return Window{Samples: 60, ErrorRate: errRate, Utilization: util, AcquireMean: Duration(acquire)}
}

func TestHealth(t *testing.T) {
	th := DefaultThresholds()
	ms := time.Millisecond
	tests := []struct {
		name string
		w    Window
		want Status
	}{
		{"idle", win(0, 0, 0), Healthy},
		{"just below healthy limits", win(0.0099, 0.699, 999*ms), Healthy},
		{"error rate at healthy limit", win(0.01, 0, 0), Fair},
		{"utilization at healthy limit", win(0, 0.70, 0), Fair},
		{"acquire at healthy limit", win(0, 0, time.Second), Fair},
		{"error rate at warning limit", win(0.05, 0, 0), Fair},
		{"error rate above warning", win(0.0501, 0, 0), Warning},
		{"utilization at warning limit", win(0, 0.80, 0), Fair},
		{"utilization above warning", win(0, 0.801, 0), Warning},
		{"acquire at warning limit", win(0, 0, 5*time.Second), Fair},
		{"acquire above warning", win(0, 0, 5*time.Second+ms), Warning},
		{"error rate at critical limit", win(0.10, 0, 0), Warning},
		{"error rate above critical", win(0.1001, 0, 0), Critical},
		{"utilization at critical limit", win(0, 0.95, 0), Warning},
		{"utilization above critical", win(0, 0.951, 0), Critical},
		{"saturated", win(0, 1, 0), Critical},
		{"acquire at critical limit", win(0, 0, 10*time.Second), Warning},
		{"acquire above critical", win(0, 0, 10*time.Second+ms), Critical},
		{"one critical measure wins", win(0, 0.2, 11*time.Second), Critical},
		{"no samples", Window{}, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Health(tt.w, th)
			if got != tt.want {
				t.Fatalf("Health = %s (%s), want %s", got, why, tt.want)
			}
			if why == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

func TestStatusRank(t *testing.T) {
	order := []Status{Unknown, Healthy, Fair, Warning, Critical}
	for i := 1; i < len(order); i++ {
		if order[i-1].Rank() >= order[i].Rank() {
			t.Errorf("%s ranks not below %s", order[i-1], order[i])
		}
	}
}

// TestUtilizationAtTheLimitDoesNotFlap keeps a pool's utilization hovering at
// the 80 % limit, a little above one second and a little below the next: the
// high_utilization alert fires once and the status stays at warning, until
// utilization falls clearly below the limit.
func TestUtilizationAtTheLimitDoesNotFlap(t *testing.T) {
	m := New(Options{Window: time.Second}) // judge each second on its own
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var r Reading
	r.Settings = Settings{Mode: "transaction", ConnectionLimit: 10}
	r.Stats.Max, r.Stats.MaxSize, r.Stats.Total = 10, 10, 10
	second := func(util float64) (fired, resolved []Event) {
		now = now.Add(time.Second)
		r.Stats.ActiveTime += time.Duration(util * 10 * float64(time.Second))
		r.Stats.Acquired += 100
		return m.Observe(info, r, now)
	}
	second(0)
	var nFired, nResolved int
	statuses := map[Status]int{}
	for i := range 20 {
		f, rs := second([]float64{0.81, 0.79}[i%2])
		nFired, nResolved = nFired+len(f), nResolved+len(rs)
		rep, _ := m.Report("shop")
		statuses[rep.Status]++
	}
	if nFired != 1 || nResolved != 0 {
		t.Errorf("utilization hovering at 80%%: %d alerts fired, %d resolved; want 1 fired, none resolved", nFired, nResolved)
	}
	if len(statuses) != 1 || statuses[Warning] == 0 {
		t.Errorf("statuses seen %v, want warning throughout", statuses)
	}
	_, rs := second(0.5)
	if rep, _ := m.Report("shop"); len(rs) != 1 || rep.Status != Healthy {
		t.Errorf("utilization down to 50%%: resolved %v, status %s (%s); want high_utilization resolved, healthy", rs, rep.Status, rep.StatusReason)
	}
}

func TestJudge(t *testing.T) {
	th := DefaultThresholds()
	tests := []struct {
		name string
		prev Status
		util float64
		want Status
	}{
		{"first judgment", "", 0.75, Fair},
		{"worse at once", Healthy, 0.96, Critical},
		{"critical holds just below its limit", Critical, 0.90, Critical},
		{"critical to warning below 90 % of its limit", Critical, 0.85, Warning},
		{"critical to healthy at once when all is well", Critical, 0.10, Healthy},
		{"warning holds above 72 %", Warning, 0.75, Warning},
		{"warning to fair below 72 %", Warning, 0.65, Fair},
		{"fair holds above 63 %", Fair, 0.65, Fair},
		{"fair to healthy below 63 %", Fair, 0.60, Healthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := judge(tt.prev, Window{Samples: 60, Utilization: tt.util}, th)
			if got != tt.want || why == "" {
				t.Errorf("judge(%s, utilization %.2f) = %s (%s), want %s", tt.prev, tt.util, got, why, tt.want)
			}
		})
	}
}
