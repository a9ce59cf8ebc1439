package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/monitor"
)

// TestMonitorDiagnosesUnreachableDatabase points a pool at a port where no
// database listens: clients that try to log in fail, and the monitor says
// why — critical, high error rate, and a diagnosis naming the unreachable
// database with the dial error, not a pool too small.
func TestMonitorDiagnosesUnreachableDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	e := startMonitoredAt(t, dead, "nowhere", "connect_timeout=1&pool_timeout=2", 20*time.Second)

	var r monitor.Report
	waitFor(t, ctx, "a diagnosis of the unreachable database", func() bool {
		c, err := pgx.Connect(ctx, e.dsn(monAppUser, monAppPassword, "nowhere"))
		if err == nil {
			c.Close(ctx)
			t.Fatal("a client logged in to a database that does not exist")
		}
		r = e.report(t)
		return r.Status == monitor.Critical && len(r.Diagnosis) > 0 && r.Diagnosis[0].Cause == monitor.DatabaseUnreachable
	})
	f := r.Diagnosis[0]
	t.Logf("status %s (%s); diagnosis: %s — %s", r.Status, r.StatusReason, f.Summary, f.Evidence)
	if !strings.Contains(f.Evidence, "connect") && !strings.Contains(f.Evidence, "refused") {
		t.Errorf("evidence %q does not carry the dial error", f.Evidence)
	}
	for _, d := range r.Diagnosis {
		if d.Cause == monitor.PoolTooSmall {
			t.Errorf("an unreachable database diagnosed as a pool too small: %+v", r.Diagnosis)
		}
	}
	if !firing(r, monitor.HighErrorRate) {
		t.Errorf("alerts %s, want high_error_rate", alertSummary(r.Alerts))
	}
}
