package admin

import (
	"strings"
	"testing"

	"github.com/motorpool/motorpool/internal/monitor"
)

func TestDoctorExplainsEachPoolAndReturnsTheWorstStatus(t *testing.T) {
	reports := []monitor.Report{
		{Pool: monitor.PoolInfo{Name: "shop"}, Status: monitor.Healthy},
		{
			Pool: monitor.PoolInfo{Name: "shop/reports"}, Status: monitor.Critical, StatusReason: "utilization 100.0 % > 95.0 %",
			Current: monitor.Current{Active: 2, Max: 2, UtilizationPercentage: 100, Waiting: 18},
			Diagnosis: []monitor.Finding{{Severity: "high", Summary: "the pool is too small for the load",
				Evidence: "18 clients waiting", Fix: "raise connection_limit"}},
			Alerts: []monitor.Alert{{Condition: monitor.Condition{Type: "pool_exhaustion", Level: "critical", Message: "24 acquire timeouts detected"}}},
			Recommendations: []monitor.Recommendation{{Priority: "high", Description: "Increase pool size by 1 connection",
				Setting: "connection_limit", Current: "2", Suggested: "3", Evidence: "utilization 0.83"}},
		},
	}
	var b strings.Builder
	if got := WriteDoctor(&b, reports); got != monitor.Critical {
		t.Errorf("worst status %s, want critical", got)
	}
	out := b.String()
	for _, want := range []string{
		"shop: healthy", "nothing to report",
		"shop/reports: critical (utilization 100.0 % > 95.0 %)", "2/2 server connections in use (100.0%), 0 idle, 18 clients waiting",
		"diagnosis [high] the pool is too small for the load", "evidence: 18 clients waiting", "fix: raise connection_limit",
		"alert [critical] pool_exhaustion: 24 acquire timeouts detected",
		"recommend [high] Increase pool size by 1 connection", "change: connection_limit: 2 -> 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if got := WriteDoctor(&b, nil); got != monitor.Unknown || !strings.Contains(b.String(), "no pools yet") {
		t.Errorf("no pools: status %s, output %q", got, b.String())
	}
}

func TestDoctorCountsOneInTheSingular(t *testing.T) {
	tests := []struct {
		name string
		cur  monitor.Current
		want string
	}{
		{"one of each", monitor.Current{Active: 1, Max: 1, UtilizationPercentage: 100, Waiting: 1},
			"1/1 server connection in use (100.0%), 0 idle, 1 client waiting"},
		{"many", monitor.Current{Active: 1, Max: 4, UtilizationPercentage: 25, Idle: 3, Waiting: 2},
			"1/4 server connections in use (25.0%), 3 idle, 2 clients waiting"},
		{"none waiting", monitor.Current{Max: 2}, "0/2 server connections in use (0.0%), 0 idle, 0 clients waiting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			WriteDoctor(&b, []monitor.Report{{Pool: monitor.PoolInfo{Name: "shop"}, Status: monitor.Healthy, Current: tt.cur}})
			if !strings.Contains(b.String(), "\n  "+tt.want+"\n") {
				t.Errorf("doctor output lacks %q:\n%s", tt.want, b.String())
			}
		})
	}
}
