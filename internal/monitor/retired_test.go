package monitor

import (
	"testing"
	"time"
)

// A pool a reload retired is shown while its last clients finish, but its
// load raises no alert: the same load on a pool in service does.
func TestRetiredPoolRaisesNoAlerts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retired bool
		alerts  bool
	}{
		{"shop", false, true},
		{"shop (retired #1)", true, false},
		{"shop (retired #1)", false, true}, // a database may be named so: the flag decides
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Options{})
			s := newSim()
			var fired []Event
			for range 60 { // saturated, clients waiting, some time out
				f, _ := m.Observe(PoolInfo{Name: tc.name, Retired: tc.retired}, s.second(2, 18, 2, 1800*time.Millisecond, 3), s.now)
				fired = append(fired, f...)
			}
			r, ok := m.Report(tc.name)
			if !ok || r.Windows["1m"].Utilization != 1 {
				t.Fatalf("report %v: 1m utilization %v", ok, r.Windows["1m"].Utilization)
			}
			if got := len(fired) > 0 || len(r.Alerts) > 0; got != tc.alerts {
				t.Errorf("fired %v, firing %v; want alerts %v", fired, r.Alerts, tc.alerts)
			}
		})
	}
}
