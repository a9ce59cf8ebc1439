package monitor

import (
	"testing"
	"time"
)

func TestRecommend(t *testing.T) {
	th := DefaultThresholds()
	base := Settings{Mode: "transaction", ConnectionLimit: 20, PoolTimeout: 30 * time.Second, MaxLifetime: time.Hour}
	tests := []struct {
		name     string
		w        Window
		s        Settings
		lifetime time.Duration
		want     map[string]string // setting -> suggested
	}{
		{"quiet", Window{Samples: 60, Utilization: 0.3}, base, time.Minute, map[string]string{}},
		{"utilization at 0.8", Window{Samples: 60, Utilization: 0.80}, base, 0, map[string]string{}},
		{"utilization above 0.8", Window{Samples: 60, Utilization: 0.81}, base, 0, map[string]string{"connection_limit": "26"}},
		{"pool of 2 grows by one", Window{Samples: 60, Utilization: 1}, Settings{ConnectionLimit: 2, PoolTimeout: time.Second}, 0, map[string]string{"connection_limit": "3"}},
		{"pool of 10 grows by 3", Window{Samples: 60, Utilization: 0.9}, Settings{ConnectionLimit: 10}, 0, map[string]string{"connection_limit": "13"}},
		{"acquire at 3s", Window{Samples: 60, AcquireMean: Duration(3 * time.Second)}, base, 0, map[string]string{}},
		{"acquire above 3s", Window{Samples: 60, AcquireMean: Duration(3*time.Second + time.Millisecond)}, base, 0, map[string]string{"pool_timeout": "60"}},
		{"pool_timeout doubles to at most 1h", Window{Samples: 60, AcquireMean: Duration(4 * time.Second)}, Settings{PoolTimeout: 45 * time.Minute}, 0, map[string]string{"pool_timeout": "3600"}},
		{"lifetime at 2h", Window{Samples: 60}, Settings{}, 2 * time.Hour, map[string]string{}},
		{"lifetime above 2h, never retired", Window{Samples: 60}, Settings{}, 2*time.Hour + time.Second, map[string]string{"max_lifetime": "3600"}},
		{"lifetime above 2h, retired at 3h", Window{Samples: 60}, Settings{MaxLifetime: 3 * time.Hour}, 3 * time.Hour, map[string]string{"max_lifetime": "3600"}},
		{"lifetime above 2h but max_lifetime already 1h", Window{Samples: 60}, Settings{MaxLifetime: time.Hour}, 3 * time.Hour, map[string]string{}},
		{"no samples", Window{Utilization: 1}, base, 0, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Recommend(tt.w, tt.s, tt.lifetime, th)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d recommendations %+v, want %v", len(got), got, tt.want)
			}
			for _, r := range got {
				if want, ok := tt.want[r.Setting]; !ok || r.Suggested != want {
					t.Errorf("%s suggested %q, want %q", r.Setting, r.Suggested, want)
				}
				if r.Implementation == "" || r.Evidence == "" || r.Priority == "" {
					t.Errorf("incomplete %+v", r)
				}
			}
		})
	}
}

func TestRecommendNamesTheNewValue(t *testing.T) {
	w := Window{Samples: 60, Utilization: 0.91, AcquireP95: Duration(1800 * time.Millisecond)}
	got := Recommend(w, Settings{ConnectionLimit: 20}, 0, DefaultThresholds())
	if len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	// Evidence is the measurement only: top and doctor show it next to the change.
	if want := "utilization 0.91, p95 wait 1.8s, 0.0 clients waiting on average"; got[0].Evidence != want {
		t.Errorf("evidence %q, want %q", got[0].Evidence, want)
	}
	if want := "Update connection_limit parameter to 26"; got[0].Implementation != want {
		t.Errorf("implementation %q", got[0].Implementation)
	}
}

func TestMessagesCountOneInTheSingular(t *testing.T) {
	th := DefaultThresholds()
	tx := Settings{Mode: "transaction"}
	evidence := func(w Window, sy Symptoms) string {
		fs := Diagnose(w, sy, th)
		if len(fs) == 0 {
			return ""
		}
		return fs[0].Evidence
	}
	tests := []struct {
		name, got, want string
	}{
		{"grow by one", Recommend(Window{Samples: 60, Utilization: 1}, Settings{ConnectionLimit: 2}, 0, th)[0].Description,
			"Increase pool size by 1 connection"},
		{"grow by three", Recommend(Window{Samples: 60, Utilization: 1}, Settings{ConnectionLimit: 10}, 0, th)[0].Description,
			"Increase pool size by 3 connections"},
		{"one timeout", Conditions(Window{Samples: 60, Timeouts: 1}, th)[0].Message, "1 acquire timeout detected"},
		{"nine timeouts", Conditions(Window{Samples: 60, Timeouts: 9}, th)[0].Message, "9 acquire timeouts detected"},
		{"one error, one unreachable", evidence(Window{Samples: 60, ConnErrors: 1, Unreachable: 1}, Symptoms{Settings: tx, LastDialError: "refused"}),
			"1 connection error, 1 acquire failed as unreachable; last error: refused"},
		{"errors, unreachable", evidence(Window{Samples: 60, ConnErrors: 7, Unreachable: 3}, Symptoms{Settings: tx, LastDialError: "refused"}),
			"7 connection errors, 3 acquires failed as unreachable; last error: refused"},
		{"one leak", evidence(Window{Samples: 60, WaitingMax: 1, Leaks: 1}, Symptoms{Settings: tx}),
			"oldest lease held 0s, 1 lease reported as leaked"},
		{"no leak yet", evidence(Window{Samples: 60, WaitingMax: 1}, Symptoms{Settings: tx, Conns: ConnSummary{OldestLease: 6 * time.Minute}}),
			"oldest lease held 6m0s, 0 leases reported as leaked"},
		{"too small, one timeout", evidence(Window{Samples: 60, Utilization: 1, Waiting: 1, WaitingMax: 1, Timeouts: 1}, Symptoms{Settings: tx}),
			"utilization 100.0%, 1.0 clients waiting on average (at most 1), 1 acquire timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
