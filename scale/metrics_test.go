package scale

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) // a Monday

func TestBetween(t *testing.T) {
	a := Sample{At: t0, ActiveTime: time.Minute, WaitTime: time.Second, Acquired: 100, Failed: 1, Max: 10}
	tests := []struct {
		name string
		b    Sample
		want Metrics
	}{
		{"busy", Sample{At: t0.Add(10 * time.Second), ActiveTime: time.Minute + 80*time.Second, WaitTime: 21 * time.Second, Acquired: 190, Failed: 11, Max: 10},
			Metrics{Window: 10 * time.Second, MeanActive: 8, MeanWaiting: 2, Utilization: 0.8, Demand: 10,
				Attempts: 100, ErrorRate: 0.1, AvgWait: 200 * time.Millisecond, Max: 10}},
		{"idle", Sample{At: t0.Add(10 * time.Second), ActiveTime: time.Minute, WaitTime: time.Second, Acquired: 100, Failed: 1, Max: 10},
			Metrics{Window: 10 * time.Second, Max: 10}},
		{"one wait and nobody served", Sample{At: t0.Add(10 * time.Second), ActiveTime: time.Minute + 100*time.Second, WaitTime: 6 * time.Second, Acquired: 100, Failed: 1, Max: 10},
			Metrics{Window: 10 * time.Second, MeanActive: 10, MeanWaiting: 0.5, Utilization: 1, Demand: 10.5, AvgWait: 5 * time.Second, Max: 10}},
		{"max 0 with demand", Sample{At: t0.Add(10 * time.Second), ActiveTime: time.Minute, WaitTime: 11 * time.Second, Acquired: 100, Failed: 1},
			Metrics{Window: 10 * time.Second, MeanWaiting: 1, Utilization: 1, Demand: 1, AvgWait: 10 * time.Second}},
		{"no time passed", Sample{At: t0, ActiveTime: 2 * time.Minute, Max: 10}, Metrics{Max: 10}},
		{"another pool's counters", Sample{At: t0.Add(time.Second), ActiveTime: time.Second, Max: 5}, Metrics{Max: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Between(a, tt.b); got != tt.want {
				t.Errorf("Between:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
