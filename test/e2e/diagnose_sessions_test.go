package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/monitor"
)

// TestDiagnoseIdleSessions fills a session-mode pool of 2 with two clients
// that run one query and then sit idle, holding their server connections;
// a third client cannot get in. The diagnosis blames the idle sessions and
// points at transaction mode, not a pool that is busy and too small.
func TestDiagnoseIdleSessions(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	e := startMonitored(t, "pool_mode=session&pool_timeout=1", 20*time.Second)
	for range 2 {
		if _, err := e.connect(t, ctx).Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	var r monitor.Report
	waitFor(t, ctx, "a diagnosis", func() bool {
		if c, err := pgx.Connect(ctx, e.dsn(monAppUser, monAppPassword, e.DB)); err == nil {
			c.Close(ctx)
			t.Fatal("a third client got a server connection of a session pool of 2 held by two clients")
		}
		r = e.report(t)
		return len(r.Diagnosis) > 0
	})
	out, code := e.doctor(t, ctx)
	t.Logf("motorpool doctor (exit %d):\n%s", code, out)
	if r.Diagnosis[0].Cause != monitor.IdleSessions {
		t.Errorf("diagnosis %s (%s), want idle_sessions first", r.Diagnosis[0].Cause, r.Diagnosis[0].Summary)
	}
	if f := finding(r, monitor.PoolTooSmall); f != nil {
		t.Errorf("idle sessions diagnosed as a busy pool: %s", f.Summary)
	}
	if !strings.Contains(out, "pool_mode: transaction") {
		t.Errorf("doctor does not suggest transaction mode")
	}
}
