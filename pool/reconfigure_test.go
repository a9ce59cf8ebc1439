package pool_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// A shorter AcquireTimeout bounds the acquires that start waiting after it,
// even behind a waiter that keeps the longer bound it started with.
func TestReconfigureAcquireTimeoutAppliesToNewWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 1
		p := newPool(t, cfg)
		defer closePool(t, p)

		l := mustAcquire(t, p, "")
		defer l.Release()
		before := goAcquire(context.Background(), p, "before")
		synctest.Wait()
		s := cfg.Settings()
		s.AcquireTimeout = time.Second
		if err := p.Reconfigure(s); err != nil {
			t.Fatal(err)
		}
		after := goAcquire(context.Background(), p, "after")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		r, ok := ready(after)
		if !ok {
			t.Fatal("the acquire after the change still waits past the new 1s AcquireTimeout")
		}
		if ae := acquireError(t, r.err); ae.Reason != pool.FailExhausted || ae.Waited != time.Second {
			t.Fatalf("after the change: %v, waited %v; want exhausted after 1s", r.err, ae.Waited)
		}
		if _, ok := ready(before); ok {
			t.Fatal("the acquire already waiting lost its 30s AcquireTimeout")
		}
		time.Sleep(28 * time.Second)
		r = <-before
		if ae := acquireError(t, r.err); ae.Reason != pool.FailExhausted || ae.Waited != 30*time.Second {
			t.Fatalf("before the change: %v, waited %v; want exhausted after 30s", r.err, ae.Waited)
		}
	})
}

func TestReconfigureIdleTimeoutAppliesToIdleConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config()) // IdleTimeout 10m
		defer closePool(t, p)

		l1, l2 := mustAcquire(t, p, ""), mustAcquire(t, p, "")
		l1.Release()
		l2.Release()
		s := b.config().Settings()
		s.IdleTimeout = time.Minute
		if err := p.Reconfigure(s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if st := p.Stats(); st.Total != 0 || st.DestroyedBy[pool.DestroyIdle] != 2 {
			t.Fatalf("a minute after lowering IdleTimeout to 1m: total %d, idle-closed %d; want 0, 2",
				st.Total, st.DestroyedBy[pool.DestroyIdle])
		}
	})
}

// MaxLifetime applies to connections opened after the change; those already
// open keep the expiry they were given.
func TestReconfigureMaxLifetimeAppliesToNewConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config() // MaxLifetime 1h, no jitter
		cfg.IdleTimeout = -1
		p := newPool(t, cfg)
		defer closePool(t, p)

		old := mustAcquire(t, p, "")
		s := cfg.Settings()
		s.MaxLifetime = time.Minute
		if err := p.Reconfigure(s); err != nil {
			t.Fatal(err)
		}
		young := mustAcquire(t, p, "")
		oldID, youngID := old.ID(), young.ID()
		old.Release()
		young.Release()
		time.Sleep(time.Minute)
		synctest.Wait()
		conns := p.Conns()
		if len(conns) != 1 || conns[0].ID != oldID {
			t.Fatalf("a minute later: %+v; want only connection %d (opened before the change; %d retired)", conns, oldID, youngID)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := p.Stats(); st.Total != 0 || st.DestroyedBy[pool.DestroyLifetime] != 2 {
			t.Fatalf("an hour later: total %d, lifetime-closed %d; want 0, 2", st.Total, st.DestroyedBy[pool.DestroyLifetime])
		}
	})
}

func TestReconfigureMaxConnectingAndConnectTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.dialDelay = 10 * time.Second // above the 5s ConnectTimeout
		cfg := b.config()
		cfg.MaxConnecting = 1
		p := newPool(t, cfg)
		defer closePool(t, p)

		s := cfg.Settings()
		s.ConnectTimeout = 20 * time.Second
		s.MaxConnecting = 3
		if err := p.Reconfigure(s); err != nil {
			t.Fatal(err)
		}
		var waiters []<-chan acquireResult
		for range 3 {
			waiters = append(waiters, goAcquire(context.Background(), p, ""))
		}
		synctest.Wait()
		if st := p.Stats(); st.Creating != 3 {
			t.Fatalf("%d dials in flight for 3 waiters, want 3 (MaxConnecting raised to 3)", st.Creating)
		}
		for _, w := range waiters {
			r := <-w
			if r.err != nil {
				t.Fatalf("10s dial with ConnectTimeout raised to 20s: %v", r.err)
			}
			r.lease.Release()
		}
		if st := p.Stats(); st.DialErrors != 0 {
			t.Fatalf("%d dial errors, want 0", st.DialErrors)
		}
	})
}

func TestReconfigureSizesKeepsLeasesAndLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		p := newPool(t, cfg)
		defer closePool(t, p)

		l := mustAcquire(t, p, "")
		p.SetLimit(3)
		s := cfg.Settings()
		s.MinSize, s.MaxSize = 2, 8
		if err := p.Reconfigure(s); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st := p.Stats()
		if st.MinSize != 2 || st.MaxSize != 8 || st.Limit != 3 || st.Max != 3 || st.Total != 2 || st.Active != 1 {
			t.Fatalf("min %d max %d limit %d effective %d total %d active %d; want 2, 8, 3, 3, 2, 1",
				st.MinSize, st.MaxSize, st.Limit, st.Max, st.Total, st.Active)
		}
		_ = l.Conn() // still leased
		l.Release()
		if st := p.Stats(); st.Created != 2 || st.Destroyed != 0 {
			t.Fatalf("created %d destroyed %d; want 2, 0: Reconfigure keeps the connections", st.Created, st.Destroyed)
		}
	})
}

func TestReconfigureRejectsInvalidSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		p := newPool(t, cfg)
		valid := cfg.Settings()
		for name, change := range map[string]func(*pool.Settings){
			"negative minimum":   func(s *pool.Settings) { s.MinSize = -1 },
			"minimum above max":  func(s *pool.Settings) { s.MinSize, s.MaxSize = 5, 4 },
			"jitter at lifetime": func(s *pool.Settings) { s.MaxLifetime, s.MaxLifetimeJitter = time.Minute, time.Minute },
		} {
			s := valid
			change(&s)
			if err := p.Reconfigure(s); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if st := p.Stats(); st.MinSize != 0 || st.MaxSize != 4 {
			t.Fatalf("invalid Reconfigure changed sizes to %d/%d", st.MinSize, st.MaxSize)
		}
		closePool(t, p)
		if err := p.Reconfigure(valid); err != pool.ErrClosed {
			t.Fatalf("Reconfigure on a closed pool: %v", err)
		}
	})
}

// Reconfigure races with dials, validations, resets and waits that read the
// settings; the race detector checks that they read them under the lock.
func TestReconfigureWhileBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.dialDelay, b.checkDelay, b.resetDelay = time.Millisecond, time.Millisecond, time.Millisecond
		cfg := b.config()
		cfg.MaxSize = 2
		cfg.Validate, cfg.Reset = b.validate, b.reset
		cfg.ValidateIdleAfter = time.Nanosecond
		p := newPool(t, cfg)
		defer closePool(t, p)

		done := make(chan struct{})
		for range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				for range 50 {
					l, err := p.Acquire(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					time.Sleep(time.Millisecond)
					if l.ID()%3 == 0 {
						l.Destroy(nil)
					} else {
						l.Release()
					}
				}
			}()
		}
		s := cfg.Settings()
		for i := range 50 {
			s.MaxSize = 1 + i%3
			s.AcquireTimeout = time.Duration(10+i%2) * time.Second
			s.ConnectTimeout = time.Duration(1+i%2) * time.Second
			s.IdleTimeout = time.Duration(1+i%2) * time.Millisecond
			s.ValidationTimeout = time.Duration(1+i%2) * time.Second
			s.ResetTimeout = s.ValidationTimeout
			s.MaxConnecting = 1 + i%2
			if err := p.Reconfigure(s); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		for range 4 {
			<-done
		}
	})
}
