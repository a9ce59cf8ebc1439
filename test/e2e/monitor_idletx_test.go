package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/monitor"
)

// TestMonitorDiagnosesIdleInTransaction runs clients that open a
// transaction, run a quick query and dawdle before committing: clients wait
// for the pool of 2, and the diagnosis blames transactions held open while
// idle rather than slow queries.
func TestMonitorDiagnosesIdleInTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startMonitored(t, "pool_timeout=5", 20*time.Second)
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 6 {
		c := e.connect(t, ctx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lctx.Err() == nil {
				tx, err := c.Begin(lctx)
				if err != nil {
					continue
				}
				tx.Exec(lctx, "SELECT 1")
				select { // the application thinks while holding the transaction
				case <-lctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
				tx.Commit(ctx)
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()

	var r monitor.Report
	waitFor(t, ctx, "an idle-in-transaction diagnosis", func() bool {
		r = e.report(t)
		for _, f := range r.Diagnosis {
			if f.Cause == monitor.IdleInTransaction {
				return true
			}
		}
		return false
	})
	for _, f := range r.Diagnosis {
		t.Logf("diagnosis %s (%s): %s — %s", f.Cause, f.Severity, f.Summary, f.Evidence)
		if f.Cause == monitor.DatabaseSlow {
			t.Errorf("quick queries diagnosed as a slow database")
		}
	}
	t.Logf("status %s (%s)", r.Status, r.StatusReason)
}
