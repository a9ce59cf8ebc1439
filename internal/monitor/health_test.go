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
