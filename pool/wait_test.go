package pool_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/motorpool/motorpool/pool"
)

func TestWaitersServedInArrivalOrderByHandOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 2
		p := newPool(t, cfg)
		defer closePool(t, p)

		held := []pool.Lease[*fakeConn]{mustAcquire(t, p, ""), mustAcquire(t, p, "")}
		var waiters []<-chan acquireResult
		for i := range 5 {
			waiters = append(waiters, goAcquire(context.Background(), p, fmt.Sprint("w", i)))
			synctest.Wait() // queued before the next arrives
		}
		if s := p.Stats(); s.Waiting != 5 || s.Waits != 2+5 { // the first two waited for dials
			t.Fatalf("waiting %d, waits %d; want 5 and 7", s.Waiting, s.Waits)
		}
		for i, ch := range waiters {
			// Release one connection: exactly the head of the line gets it,
			// directly (same connection), while later arrivals keep waiting.
			id := held[0].ID()
			held[0].Release()
			held = held[1:]
			synctest.Wait()
			r, ok := ready(ch)
			if !ok || r.err != nil {
				t.Fatalf("waiter %d not served after a release: %v", i, r.err)
			}
			if r.lease.ID() != id {
				t.Fatalf("waiter %d got connection %d, want the released %d", i, r.lease.ID(), id)
			}
			for j := i + 1; j < len(waiters); j++ {
				if _, ok := ready(waiters[j]); ok {
					t.Fatalf("waiter %d served before waiter %d", j, i+1)
				}
			}
			held = append(held, r.lease)
		}
		for _, l := range held {
			l.Release()
		}
		if s := p.Stats(); s.Created != 2 {
			t.Fatalf("created %d connections, want 2: hand-off must not dial", s.Created)
		}
	})
}

// A newcomer must not take a connection while others wait, even if one is
// released just as it arrives.
func TestNoBargingPastWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 1
		cfg.Reset = b.reset
		b.resetDelay = time.Second
		p := newPool(t, cfg)
		defer closePool(t, p)

		l := mustAcquire(t, p, "")
		first := goAcquire(context.Background(), p, "first")
		synctest.Wait()
		l.Release() // reset runs for a second; the connection is not idle
		second := goAcquire(context.Background(), p, "second")
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		r, ok := ready(first)
		if !ok || r.err != nil {
			t.Fatalf("first waiter not served: %v", r.err)
		}
		if _, ok := ready(second); ok {
			t.Fatal("second waiter served too")
		}
		r.lease.Release()
		time.Sleep(time.Second)
		synctest.Wait()
		r2, ok := ready(second)
		if !ok || r2.err != nil {
			t.Fatalf("second waiter not served: %v", r2.err)
		}
		r2.lease.Release()
	})
}

// Dials run in the background, at most MaxConnecting at a time, and a waiter
// takes whatever connection comes first: here a released one, long before its
// dial would finish.
func TestWaiterTakesFirstAvailableNotItsDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 10
		cfg.MaxConnecting = 2
		cfg.ConnectTimeout = time.Minute
		p := newPool(t, cfg)
		defer closePool(t, p)

		held := mustAcquire(t, p, "")
		b.dialDelay = 10 * time.Second
		var waiters []<-chan acquireResult
		for range 4 {
			waiters = append(waiters, goAcquire(context.Background(), p, ""))
			synctest.Wait()
		}
		if s := p.Stats(); s.Creating != 2 || s.Waiting != 4 {
			t.Fatalf("creating %d waiting %d; want 2 dials (MaxConnecting) and 4 waiters", s.Creating, s.Waiting)
		}
		time.Sleep(time.Second)
		held.Release()
		synctest.Wait()
		r, ok := ready(waiters[0])
		if !ok || r.err != nil || r.lease.ID() != held.ID() {
			t.Fatalf("first waiter: ok %v err %v; want the released connection at once", ok, r.err)
		}
		r.lease.Release() // straight to the second waiter
		synctest.Wait()
		if r, ok := ready(waiters[1]); !ok || r.lease.ID() != held.ID() {
			t.Fatal("second waiter did not get the released connection")
		} else {
			defer r.lease.Release()
		}
		// The two dials land at 10 s and serve the remaining waiters; no
		// third dial was needed, as two were already under way for them.
		time.Sleep(9 * time.Second)
		synctest.Wait()
		for i, ch := range waiters[2:] {
			r, ok := ready(ch)
			if !ok || r.err != nil {
				t.Fatalf("waiter %d: ok %v err %v", i+2, ok, r.err)
			}
			defer r.lease.Release()
		}
		if n := b.dialCount(); n != 3 {
			t.Fatalf("%d dials, want 3", n)
		}
	})
}

func TestCanceledAcquireDoesNotCancelDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.dialDelay = time.Second
		p := newPool(t, b.config())
		defer closePool(t, p)

		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := p.Acquire(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want context.DeadlineExceeded", err)
		}
		if ae := acquireError(t, err); ae.Reason != pool.FailCanceled || ae.Waited != 100*time.Millisecond {
			t.Fatalf("reason %v waited %v, want canceled after 100ms", ae.Reason, ae.Waited)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Created != 1 || s.Idle != 1 {
			t.Fatalf("created %d idle %d; the dial should have finished into the idle stack", s.Created, s.Idle)
		}
	})
}

func TestAcquireTimeoutWhenExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 1
		cfg.AcquireTimeout = 3 * time.Second
		ev := &events{}
		cfg.OnEvent = ev.hook
		p := newPool(t, cfg)
		defer closePool(t, p)

		l := mustAcquire(t, p, "")
		defer l.Release()
		start := time.Now()
		first := goAcquire(context.Background(), p, "slow")
		time.Sleep(time.Second)
		second := goAcquire(context.Background(), p, "later")
		err := (<-first).err
		ae := acquireError(t, err)
		if ae.Reason != pool.FailExhausted || ae.Active != 1 || ae.Max != 1 || ae.Waiting != 1 || ae.Err != nil {
			t.Fatalf("got %+v; want exhausted, 1/1 active, 1 other waiting", *ae)
		}
		if ae.Waited != 3*time.Second || time.Since(start) != 3*time.Second {
			t.Fatalf("waited %v (clock %v), want the 3s AcquireTimeout", ae.Waited, time.Since(start))
		}
		if got := err.Error(); got != "pool: exhausted: 1/1 connections active, 1 waiting, waited 3s" {
			t.Fatalf("message %q", got)
		}
		<-second
		synctest.Wait()
		if s := p.Stats(); s.AcquireTimeouts != 2 {
			t.Fatalf("AcquireTimeouts %d, want 2", s.AcquireTimeouts)
		}
		if fails := ev.of(pool.EventAcquireFailed); len(fails) != 2 || fails[0].Holder != "slow" || fails[1].Holder != "later" {
			t.Fatalf("acquire-failed events %+v", fails)
		}
	})
}

// With the backend down, a waiter fails after ConnectTimeout with the dial
// error rather than waiting out AcquireTimeout.
func TestUnreachableFailsAfterConnectTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		down := errors.New("connection refused")
		b.setDown(down)
		cfg := b.config()
		cfg.AcquireTimeout = time.Minute
		cfg.ConnectTimeout = 5 * time.Second
		p := newPool(t, cfg)
		defer closePool(t, p)

		start := time.Now()
		_, err := p.Acquire(context.Background())
		ae := acquireError(t, err)
		if ae.Reason != pool.FailUnreachable || !errors.Is(err, down) {
			t.Fatalf("got %v; want unreachable wrapping the dial error", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("failed after %v, want the 5s ConnectTimeout", d)
		}
		s := p.Stats()
		if s.AcquireUnreachable != 1 || s.DialErrors < 2 || !errors.Is(s.LastDialError, down) {
			t.Fatalf("stats: unreachable %d dial errors %d last %v", s.AcquireUnreachable, s.DialErrors, s.LastDialError)
		}
		// Once nobody waits, the pool stops dialing.
		n := b.dialCount()
		time.Sleep(time.Minute)
		if b.dialCount() != n {
			t.Fatalf("kept dialing with nobody waiting: %d dials, then %d", n, b.dialCount())
		}
		// Back up: the next acquire dials and succeeds.
		b.setDown(nil)
		l, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		if s := p.Stats(); s.LastDialError != nil {
			t.Fatalf("LastDialError %v after a successful dial", s.LastDialError)
		}
	})
}

// A dial that hangs until ConnectTimeout fails the waiters that have waited
// that long as soon as it fails.
func TestUnreachableWithHangingDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.dialDelay = time.Hour // cut by ConnectTimeout
		cfg := b.config()
		cfg.ConnectTimeout = 5 * time.Second
		p := newPool(t, cfg)
		defer closePool(t, p)

		start := time.Now()
		_, err := p.Acquire(context.Background())
		ae := acquireError(t, err)
		if ae.Reason != pool.FailUnreachable || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v; want unreachable with the dial's deadline error", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("failed after %v, want 5s", d)
		}
	})
}

func TestDialBackoffGrowsWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.setDown(errors.New("refused"))
		cfg := b.config()
		cfg.MinSize = 1 // keeps dialing with nobody waiting
		cfg.MaxConnecting = 1
		cfg.DialBackoffMin = time.Second
		cfg.DialBackoffMax = 8 * time.Second
		ev := &events{}
		cfg.OnEvent = ev.hook
		p := newPool(t, cfg)
		defer closePool(t, p)

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		b.mu.Lock()
		times := b.dialTimes
		b.mu.Unlock()
		if len(times) < 10 {
			t.Fatalf("only %d dials in 2 minutes", len(times))
		}
		for i := 1; i < len(times); i++ {
			d := min(time.Second<<(i-1), 8*time.Second)
			if gap := times[i].Sub(times[i-1]); gap < d/2 || gap > d {
				t.Errorf("pause before dial %d: %v, want within [%v, %v]", i+1, gap, d/2, d)
			}
		}
		fails := ev.of(pool.EventDialFailed)
		if len(fails) < 3 || fails[2].Attempt != 3 || fails[0].ConnID == 0 {
			t.Fatalf("dial-failed events: %+v", fails)
		}
	})
}

func TestMaxConnectingBoundsDialsForWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.dialDelay = time.Second
		cfg := b.config()
		cfg.MaxSize = 20
		cfg.MaxConnecting = 3
		p := newPool(t, cfg)
		defer closePool(t, p)

		var waiters []<-chan acquireResult
		for range 10 {
			waiters = append(waiters, goAcquire(context.Background(), p, ""))
		}
		for range 4 {
			synctest.Wait()
			if s := p.Stats(); s.Creating > 3 {
				t.Fatalf("%d dials in flight, MaxConnecting is 3", s.Creating)
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		for _, ch := range waiters {
			r := <-ch
			if r.err != nil {
				t.Fatal(r.err)
			}
			r.lease.Release()
		}
		if s := p.Stats(); s.Created != 10 {
			t.Fatalf("created %d, want 10 (one per waiter)", s.Created)
		}
	})
}
