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
	if want := "raise connection_limit to 26: utilization 0.91, p95 wait 1.8s, 0.0 clients waiting on average"; got[0].Evidence != want {
		t.Errorf("evidence %q, want %q", got[0].Evidence, want)
	}
	if want := "Update connection_limit parameter to 26"; got[0].Implementation != want {
		t.Errorf("implementation %q", got[0].Implementation)
	}
}
