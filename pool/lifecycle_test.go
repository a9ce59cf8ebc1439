package pool_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/motorpool/motorpool/pool"
)

func TestMinSizeKeptWarm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MinSize = 3
		p := newPool(t, cfg)
		defer closePool(t, p)

		synctest.Wait()
		if s := p.Stats(); s.Idle != 3 || s.Created != 3 {
			t.Fatalf("idle %d created %d, want 3 warm connections", s.Idle, s.Created)
		}
		l := mustAcquire(t, p, "")
		l.Destroy(errBroken)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 3 || s.Created != 4 || s.DestroyedBy[pool.DestroyError] != 1 {
			t.Fatalf("after destroy: idle %d created %d destroyed-for-error %d; want 3, 4, 1",
				s.Idle, s.Created, s.DestroyedBy[pool.DestroyError])
		}
	})
}

func TestIdleTimeoutClosesAboveMinimum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MinSize = 1
		cfg.MaxSize = 5
		cfg.IdleTimeout = time.Minute
		p := newPool(t, cfg)
		defer closePool(t, p)

		var ls []pool.Lease[*fakeConn]
		for range 4 {
			ls = append(ls, mustAcquire(t, p, ""))
		}
		for _, l := range ls {
			l.Release()
		}
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 4 {
			t.Fatalf("after 59s idle: %d idle, want 4", s.Idle)
		}
		// The most recently used connection is reused and stays; the three
		// others time out, but one is kept for MinSize... only above it.
		l := mustAcquire(t, p, "")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s := p.Stats()
		if s.Idle != 0 || s.Active != 1 || s.DestroyedBy[pool.DestroyIdle] != 3 {
			t.Fatalf("idle %d active %d idle-closed %d; want 0, 1, 3", s.Idle, s.Active, s.DestroyedBy[pool.DestroyIdle])
		}
		l.Release()
		time.Sleep(time.Hour)
		synctest.Wait()
		if s := p.Stats(); s.Total != 1 || s.DestroyedBy[pool.DestroyIdle] != 3 {
			t.Fatalf("total %d, idle-closed %d; the minimum of 1 must stay", s.Total, s.DestroyedBy[pool.DestroyIdle])
		}
	})
}

func TestMaxLifetimeRetiresIdleAndReleasedConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxLifetime = 10 * time.Minute
		cfg.IdleTimeout = -1
		p := newPool(t, cfg)
		defer closePool(t, p)

		idle := mustAcquire(t, p, "")
		held := mustAcquire(t, p, "")
		idle.Release()
		time.Sleep(10*time.Minute - time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 1 {
			t.Fatalf("idle connection closed before its lifetime")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		s := p.Stats()
		if s.Idle != 0 || s.Active != 1 || s.DestroyedBy[pool.DestroyLifetime] != 1 {
			t.Fatalf("at 10m: idle %d active %d lifetime-closed %d; want the idle one retired, the leased one kept",
				s.Idle, s.Active, s.DestroyedBy[pool.DestroyLifetime])
		}
		if s.MeanLifetime != 10*time.Minute {
			t.Fatalf("MeanLifetime %v, want 10m", s.MeanLifetime)
		}
		time.Sleep(time.Minute)
		held.Release() // past its lifetime: closed, not reused
		synctest.Wait()
		if s := p.Stats(); s.Total != 0 || s.DestroyedBy[pool.DestroyLifetime] != 2 {
			t.Fatalf("after release: total %d lifetime-closed %d; want 0 and 2", s.Total, s.DestroyedBy[pool.DestroyLifetime])
		}
	})
}

func TestMaxLifetimeJitterSpreadsRetirement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 50
		cfg.MaxLifetime = 100 * time.Minute
		cfg.MaxLifetimeJitter = 10 * time.Minute
		cfg.IdleTimeout = -1
		ev := &events{}
		cfg.OnEvent = ev.hook
		p := newPool(t, cfg)
		defer closePool(t, p)

		var ls []pool.Lease[*fakeConn]
		for range 50 {
			ls = append(ls, mustAcquire(t, p, ""))
		}
		for _, l := range ls {
			l.Release()
		}
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		closed := ev.of(pool.EventConnClosed)
		if len(closed) != 50 {
			t.Fatalf("%d connections closed, want 50", len(closed))
		}
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for _, e := range closed {
			if e.Reason != pool.DestroyLifetime {
				t.Fatalf("closed for %v", e.Reason)
			}
			lo, hi = min(lo, e.Duration), max(hi, e.Duration)
		}
		if lo < 90*time.Minute || hi > 110*time.Minute || hi-lo < 10*time.Minute {
			t.Fatalf("lifetimes in [%v, %v]; want spread within 100m ± 10m", lo, hi)
		}
	})
}

func TestValidationBeforeReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.checkDelay = 10 * time.Millisecond
		cfg := b.config()
		cfg.Validate = b.validate
		cfg.ValidateIdleAfter = time.Second
		ev := &events{}
		cfg.OnEvent = ev.hook
		p := newPool(t, cfg)
		defer closePool(t, p)

		l := mustAcquire(t, p, "")
		first := l.ID()
		l.Release()
		time.Sleep(500 * time.Millisecond)
		l = mustAcquire(t, p, "") // recently used: no check
		l.Release()
		if b.validated != 0 {
			t.Fatalf("validated a connection idle 0.5s (threshold 1s)")
		}
		time.Sleep(2 * time.Second)
		l = mustAcquire(t, p, "") // idle 2s: checked, passes
		if b.validated != 1 || l.ID() != first {
			t.Fatalf("validated %d times, got connection %d; want 1 check of connection %d", b.validated, l.ID(), first)
		}
		l.Release()
		time.Sleep(2 * time.Second)
		b.breakConn(int(first))
		start := time.Now()
		l = mustAcquire(t, p, "") // fails the check: replaced transparently
		if l.ID() == first {
			t.Fatal("got the connection that failed validation")
		}
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Fatalf("acquire took %v, want just the failed check (10ms) and an instant dial", d)
		}
		l.Release()
		synctest.Wait()
		s := p.Stats()
		if s.ValidationFailures != 1 || s.DestroyedBy[pool.DestroyValidation] != 1 {
			t.Fatalf("validation failures %d, destroyed %d", s.ValidationFailures, s.DestroyedBy[pool.DestroyValidation])
		}
		if vf := ev.of(pool.EventValidationFailed); len(vf) != 1 || !errors.Is(vf[0].Err, errBroken) || vf[0].ConnID != first {
			t.Fatalf("validation events %+v", vf)
		}
	})
}

func TestResetRunsBeforeReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.resetDelay = time.Second
		cfg := b.config()
		cfg.MaxSize = 1
		cfg.Reset = b.reset
		p := newPool(t, cfg)
		defer closePool(t, p)

		l := mustAcquire(t, p, "")
		id := l.ID()
		l.Release() // returns at once; reset runs in the background
		if ci := p.Conns(); len(ci) != 1 || ci[0].State != pool.StateValidating {
			t.Fatalf("during reset: %+v, want one validating connection", ci)
		}
		start := time.Now()
		l = mustAcquire(t, p, "")
		if d := time.Since(start); d != time.Second || l.ID() != id || b.resets != 1 {
			t.Fatalf("acquire after %v got %d (resets %d); want the reset connection after 1s", d, l.ID(), b.resets)
		}
		// A failing reset destroys the connection and the waiter gets a new one.
		b.breakConn(int(id))
		l.Release()
		l = mustAcquire(t, p, "")
		if l.ID() == id {
			t.Fatal("got the connection whose reset failed")
		}
		l.Destroy(nil) // no reset after Destroy
		synctest.Wait()
		s := p.Stats()
		if b.resets != 2 || s.DestroyedBy[pool.DestroyError] != 2 || s.ConnectionErrors != 2 {
			t.Fatalf("resets %d destroyed-for-error %d connection errors %d; want 2, 2, 2", b.resets, s.DestroyedBy[pool.DestroyError], s.ConnectionErrors)
		}
	})
}

func TestLeakDetection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.LeakThreshold = 30 * time.Second
		ev := &events{}
		cfg.OnEvent = ev.hook
		p := newPool(t, cfg)
		defer closePool(t, p)

		short := mustAcquire(t, p, "short")
		leak := mustAcquire(t, p, "client 7 10.1.1.1:4000")
		time.Sleep(29 * time.Second)
		short.Release()
		synctest.Wait()
		if n := len(ev.of(pool.EventLeakDetected)); n != 0 {
			t.Fatalf("%d leaks reported before the threshold", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		leaks := ev.of(pool.EventLeakDetected)
		if len(leaks) != 1 || leaks[0].Holder != "client 7 10.1.1.1:4000" || leaks[0].Duration != 30*time.Second || leaks[0].ConnID != leak.ID() {
			t.Fatalf("leak events %+v", leaks)
		}
		var info pool.ConnInfo
		for _, ci := range p.Conns() {
			if ci.ID == leak.ID() {
				info = ci
			}
		}
		if !info.Leaked || info.Held != 30*time.Second || info.Holder != "client 7 10.1.1.1:4000" {
			t.Fatalf("conn info %+v", info)
		}
		time.Sleep(time.Minute)
		leak.Release()
		synctest.Wait()
		late := ev.of(pool.EventLeakReleased)
		if len(late) != 1 || late[0].Duration != 90*time.Second {
			t.Fatalf("leak-released events %+v", late)
		}
		if s := p.Stats(); s.LeaksDetected != 1 {
			t.Fatalf("LeaksDetected %d", s.LeaksDetected)
		}
		// The next lease of that connection starts clean.
		l := mustAcquire(t, p, "")
		for _, ci := range p.Conns() {
			if ci.Leaked {
				t.Fatalf("connection %d still marked leaked", ci.ID)
			}
		}
		l.Release()
	})
}

// Validation cut short by the acquirer's context destroys the connection (it
// cannot be trusted) without counting a validation failure.
func TestValidationInterruptedByCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.checkDelay = time.Minute
		cfg := b.config()
		cfg.Validate = b.validate
		cfg.ValidationTimeout = time.Hour
		cfg.IdleTimeout = -1
		p := newPool(t, cfg)
		defer closePool(t, p)

		mustAcquire(t, p, "").Release()
		time.Sleep(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := p.Acquire(ctx)
		if ae := acquireError(t, err); ae.Reason != pool.FailCanceled || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want canceled with the caller's deadline", err)
		}
		synctest.Wait()
		s := p.Stats()
		if s.ValidationFailures != 0 || s.DestroyedBy[pool.DestroyError] != 1 || s.Total != 0 {
			t.Fatalf("validation failures %d, destroyed-for-error %d, total %d", s.ValidationFailures, s.DestroyedBy[pool.DestroyError], s.Total)
		}
	})
}

// TestBrokenIdleConnectionsReplaced: an idle connection that Config.Broken reports
// (its server went away) is closed within HealthCheckPeriod and, below MinSize,
// replaced, without waiting for an acquirer to come across it.
func TestBrokenIdleConnectionsReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MinSize = 2
		cfg.HealthCheckPeriod = 10 * time.Second
		cfg.Broken = func(c *fakeConn) bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return c.broken
		}
		var evs events
		cfg.OnEvent = evs.hook
		p := newPool(t, cfg)
		defer closePool(t, p)
		synctest.Wait()
		l := mustAcquire(t, p, "")
		l.Release()
		synctest.Wait()

		b.breakConn(1)
		b.breakConn(2)
		time.Sleep(cfg.HealthCheckPeriod)
		synctest.Wait()
		s := p.Stats()
		if s.Idle != 2 || s.Created != 4 || s.DestroyedBy[pool.DestroyError] != 2 || b.openCount() != 2 {
			t.Fatalf("idle %d created %d closed-for-error %d open %d; want 2, 4, 2, 2",
				s.Idle, s.Created, s.DestroyedBy[pool.DestroyError], b.openCount())
		}
		closed := evs.of(pool.EventConnClosed)
		if len(closed) != 2 || !errors.Is(closed[0].Err, pool.ErrBroken) {
			t.Fatalf("closed events %+v, want 2 with ErrBroken", closed)
		}
	})
}

// TestExpireRetiresWhatIsOpenNow: Expire closes the idle connections at once and the
// leased ones when released, returns the highest ID it expired, and leaves the
// connections dialed after it alone; MinSize is refilled with new ones.
func TestExpireRetiresWhatIsOpenNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MinSize = 2
		p := newPool(t, cfg)
		defer closePool(t, p)

		idle := mustAcquire(t, p, "")
		held := mustAcquire(t, p, "")
		idle.Release()
		time.Sleep(time.Minute) // the pool's clock starts at 0, which Expire's expiry cannot precede
		synctest.Wait()
		last := p.Expire()
		if want := max(idle.ID(), held.ID()); last != want {
			t.Fatalf("Expire returned %d, want the highest open ID %d", last, want)
		}
		synctest.Wait()
		s := p.Stats()
		if s.DestroyedBy[pool.DestroyLifetime] != 1 || s.Active != 1 {
			t.Fatalf("after Expire: lifetime-closed %d active %d; want the idle one closed, the leased one kept",
				s.DestroyedBy[pool.DestroyLifetime], s.Active)
		}
		if s.Idle != 1 {
			t.Fatalf("idle %d: MinSize was not refilled with a new connection", s.Idle)
		}
		fresh := mustAcquire(t, p, "")
		if fresh.ID() <= last {
			t.Fatalf("got connection %d, expired at or below %d", fresh.ID(), last)
		}
		fresh.Release()
		held.Release()
		synctest.Wait()
		if s := p.Stats(); s.DestroyedBy[pool.DestroyLifetime] != 2 || s.Total != 2 {
			t.Fatalf("after the releases: lifetime-closed %d total %d; want 2, and the fresh one plus one for MinSize",
				s.DestroyedBy[pool.DestroyLifetime], s.Total)
		}
	})
}
