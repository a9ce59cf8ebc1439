package monitor

import "testing"

func TestTrendsOf(t *testing.T) {
	// recent is the last 60 of longer's 300 samples.
	mk := func(recentUtil, olderUtil float64) (Window, Window) {
		r := Window{Samples: 60, Utilization: recentUtil}
		l := Window{Samples: 300, Utilization: (recentUtil*60 + olderUtil*240) / 300}
		return r, l
	}
	tests := []struct {
		name         string
		recent, prev float64
		want         Trend
	}{
		{"flat", 0.5, 0.5, Stable},
		{"within 10 %", 0.54, 0.5, Stable},
		{"rising", 0.6, 0.5, Rising},
		{"falling", 0.4, 0.5, Falling},
		{"tiny absolute change", 0.015, 0.0, Stable},
		{"from zero", 0.5, 0, Rising},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, l := mk(tt.recent, tt.prev)
			if got := TrendsOf(r, l).Utilization; got != tt.want {
				t.Fatalf("utilization trend %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("not enough history", func(t *testing.T) {
		r := Window{Samples: 60, Utilization: 1}
		if got := TrendsOf(r, r); got.Utilization != Stable {
			t.Fatalf("got %s", got.Utilization)
		}
	})
	t.Run("throughput and errors", func(t *testing.T) {
		r := Window{Samples: 60, Transactions: 600, Errors: 30, Attempts: 600, ErrorRate: 0.05}
		l := Window{Samples: 300, Transactions: 600 + 240, Errors: 30, Attempts: 600 + 240}
		got := TrendsOf(r, l)
		if got.Throughput != Rising || got.ErrorRate != Rising {
			t.Fatalf("got %+v", got)
		}
	})
}
