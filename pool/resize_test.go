package pool_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/motorpool/motorpool/pool"
)

func TestResizeShrinkClosesIdleFirstAndNeverInterruptsLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config())
		defer closePool(t, p)

		var ls []pool.Lease[*fakeConn]
		for range 4 {
			ls = append(ls, mustAcquire(t, p, ""))
		}
		ls[2].Release()
		ls[3].Release()
		if err := p.Resize(0, 1); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		s := p.Stats()
		if s.Idle != 0 || s.Active != 2 || s.DestroyedBy[pool.DestroyResize] != 2 || s.Max != 1 {
			t.Fatalf("after shrink: idle %d active %d resize-closed %d max %d; want 0, 2, 2, 1",
				s.Idle, s.Active, s.DestroyedBy[pool.DestroyResize], s.Max)
		}
		if s.Utilization != 2 {
			t.Fatalf("utilization %v, want 2 (2 leases, max 1)", s.Utilization)
		}
		// Leases go on; the first to end is closed, the second kept.
		_ = ls[0].Conn()
		ls[0].Release()
		ls[1].Release()
		synctest.Wait()
		if s := p.Stats(); s.Total != 1 || s.Idle != 1 || s.DestroyedBy[pool.DestroyResize] != 3 {
			t.Fatalf("after releases: total %d idle %d resize-closed %d; want 1, 1, 3", s.Total, s.Idle, s.DestroyedBy[pool.DestroyResize])
		}
	})
}

func TestResizeGrowServesWaitersAndWarmsMinimum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 1
		p := newPool(t, cfg)
		defer closePool(t, p)

		l := mustAcquire(t, p, "")
		w := goAcquire(context.Background(), p, "")
		synctest.Wait()
		if err := p.Resize(3, 5); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r, ok := ready(w)
		if !ok || r.err != nil {
			t.Fatalf("waiter not served after growing: %v", r.err)
		}
		if s := p.Stats(); s.Total != 3 || s.MinSize != 3 || s.MaxSize != 5 {
			t.Fatalf("total %d min %d max %d; want 3 (new minimum), 3, 5", s.Total, s.MinSize, s.MaxSize)
		}
		r.lease.Release()
		l.Release()
	})
}

func TestResizeRejectsInvalidSizes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config())
		for _, c := range [][2]int{{-1, 4}, {0, 0}, {5, 4}} {
			if err := p.Resize(c[0], c[1]); err == nil {
				t.Errorf("Resize(%d, %d) accepted", c[0], c[1])
			}
		}
		if s := p.Stats(); s.MinSize != 0 || s.MaxSize != 4 {
			t.Fatalf("invalid Resize changed sizes to %d/%d", s.MinSize, s.MaxSize)
		}
		closePool(t, p)
		if err := p.Resize(1, 2); err != pool.ErrClosed {
			t.Fatalf("Resize on closed pool: %v", err)
		}
	})
}

func TestSetLimitCapsEffectiveMaximum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 10
		cfg.MinSize = 4
		cfg.AcquireTimeout = time.Second
		p := newPool(t, cfg)
		defer closePool(t, p)
		synctest.Wait()

		p.SetLimit(2)
		synctest.Wait()
		if s := p.Stats(); s.Max != 2 || s.Limit != 2 || s.Total != 2 {
			t.Fatalf("limit 2: max %d limit %d total %d", s.Max, s.Limit, s.Total)
		}
		p.SetLimit(0)
		synctest.Wait()
		_, err := p.Acquire(context.Background())
		if ae := acquireError(t, err); ae.Reason != pool.FailExhausted || ae.Max != 0 {
			t.Fatalf("limit 0: %v", err)
		}
		if s := p.Stats(); s.Total != 0 || s.Utilization != 0 {
			t.Fatalf("limit 0: total %d utilization %v", s.Total, s.Utilization)
		}
		w := goAcquire(context.Background(), p, "")
		synctest.Wait()
		p.SetLimit(-5) // no cap: back to MaxSize, and the minimum warms up again
		synctest.Wait()
		r, ok := ready(w)
		if !ok || r.err != nil {
			t.Fatalf("waiter not served once the cap was lifted: %v", r.err)
		}
		r.lease.Release()
		if s := p.Stats(); s.Limit != -1 || s.Max != 10 || s.Total != 4 {
			t.Fatalf("no cap: limit %d max %d total %d", s.Limit, s.Max, s.Total)
		}
	})
}
