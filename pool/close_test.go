package pool_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/motorpool/motorpool/pool"
)

func TestCloseWaitsForLeasesAndClosesEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 2
		p := newPool(t, cfg)

		held := mustAcquire(t, p, "")
		mustAcquire(t, p, "").Release()
		other := mustAcquire(t, p, "") // the pool is now full
		w2 := goAcquire(context.Background(), p, "")
		synctest.Wait()

		closed := make(chan error, 1)
		go func() { closed <- p.Close(context.Background()) }()
		synctest.Wait()
		if r2, ok := ready(w2); !ok || !errors.Is(r2.err, pool.ErrClosed) || acquireError(t, r2.err).Reason != pool.FailClosed {
			t.Fatalf("waiter during Close: %v", r2.err)
		}
		if _, err := p.Acquire(context.Background()); !errors.Is(err, pool.ErrClosed) {
			t.Fatalf("Acquire after Close: %v", err)
		}
		select {
		case <-closed:
			t.Fatal("Close returned with leases outstanding")
		default:
		}
		time.Sleep(time.Hour) // Close waits as long as it takes
		held.Release()
		other.Release()
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
		if n := b.openCount(); n != 0 {
			t.Fatalf("%d connections left open", n)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		s := p.Stats()
		if s.Total != 0 || s.DestroyedBy[pool.DestroyClosed] != 2 || s.Acquired != s.Released {
			t.Fatalf("after Close: %+v", s)
		}
	})
}

func TestCloseDeadlineForceClosesLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		ev := &events{}
		cfg := b.config()
		cfg.OnEvent = ev.hook
		p := newPool(t, cfg)

		held := mustAcquire(t, p, "stuck")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close: %v, want the deadline", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("Close took %v", d)
		}
		if n := b.openCount(); n != 0 {
			t.Fatalf("%d connections left open", n)
		}
		_ = held.Conn() // still the holder's, though closed
		held.Release()  // valid, does nothing
		if !panics(held.Release) {
			t.Fatal("second Release of a force-closed lease did not panic")
		}
		if closes := ev.of(pool.EventConnClosed); len(closes) != 1 || closes[0].Reason != pool.DestroyClosed {
			t.Fatalf("close events %+v", closes)
		}
		if s := p.Stats(); s.Active != 0 || s.Acquired != s.Released || s.Total != 0 {
			t.Fatalf("after forced Close: active %d acquired %d released %d total %d", s.Active, s.Acquired, s.Released, s.Total)
		}
	})
}

func TestCloseCancelsDialsAndConcurrentCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.dialDelay = time.Hour
		cfg := b.config()
		cfg.ConnectTimeout = -1
		cfg.MinSize = 2
		p := newPool(t, cfg)
		synctest.Wait()
		if s := p.Stats(); s.Creating != 2 {
			t.Fatalf("creating %d, want 2", s.Creating)
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := p.Close(context.Background()); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
		wg.Wait()
		if s := p.Stats(); s.Total != 0 || s.DialErrors != 0 {
			t.Fatalf("after Close: total %d dial errors %d (canceled dials are not errors)", s.Total, s.DialErrors)
		}
	})
}

// A slow OnEvent must not hold up the pool: events queue, and arrive in order.
func TestSlowEventHookDoesNotBlockPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		gate := make(chan struct{})
		var mu sync.Mutex
		var got []pool.Event
		cfg := b.config()
		cfg.OnEvent = func(ev pool.Event) {
			<-gate
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
		p := newPool(t, cfg)
		for range 3 {
			mustAcquire(t, p, "").Destroy(errBroken)
		}
		synctest.Wait() // the pool is done; the hook is still blocked
		if s := p.Stats(); s.Created != 3 || s.Destroyed != 3 || s.Total != 0 {
			t.Fatalf("pool held up by the hook: %+v", s)
		}
		close(gate)
		closePool(t, p)
		if len(got) != 6 {
			t.Fatalf("%d events, want 6", len(got))
		}
		created := map[uint64]bool{}
		for i, ev := range got {
			switch ev.Kind {
			case pool.EventConnCreated:
				created[ev.ConnID] = true
			case pool.EventConnClosed:
				if !created[ev.ConnID] || !errors.Is(ev.Err, errBroken) || ev.Reason != pool.DestroyError {
					t.Fatalf("event %d out of order or wrong: %+v", i, ev)
				}
			}
			if i > 0 && ev.Time.Before(got[i-1].Time) {
				t.Fatalf("event %d earlier than event %d", i, i-1)
			}
		}
	})
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	b := newBackend()
	for name, mutate := range map[string]func(*pool.Config[*fakeConn]){
		"nil Dial":         func(c *pool.Config[*fakeConn]) { c.Dial = nil },
		"negative MinSize": func(c *pool.Config[*fakeConn]) { c.MinSize = -1 },
		"negative MaxSize": func(c *pool.Config[*fakeConn]) { c.MaxSize = -1 },
		"MinSize > MaxSize": func(c *pool.Config[*fakeConn]) {
			c.MinSize, c.MaxSize = 5, 4
		},
		"jitter >= lifetime": func(c *pool.Config[*fakeConn]) {
			c.MaxLifetime, c.MaxLifetimeJitter = time.Minute, time.Minute
		},
		"backoff min > max": func(c *pool.Config[*fakeConn]) {
			c.DialBackoffMin, c.DialBackoffMax = time.Minute, time.Second
		},
	} {
		cfg := b.config()
		mutate(&cfg)
		if p, err := pool.New(cfg); err == nil {
			_ = p.Close(context.Background())
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestZeroConfigUsesDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p, err := pool.New(pool.Config[*fakeConn]{Dial: b.dial})
		if err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.MaxSize != pool.DefaultMaxSize || s.MinSize != 0 || s.Limit != -1 {
			t.Fatalf("defaults: %+v", s)
		}
		mustAcquire(t, p, "").Release()
		closePool(t, p)
	})
}

// Close cancels validations and resets in flight and waits for them.
func TestCloseDuringValidationAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.checkDelay, b.resetDelay = time.Hour, time.Hour
		cfg := b.config()
		cfg.Validate, cfg.Reset = b.validate, b.reset
		cfg.ValidationTimeout, cfg.ResetTimeout = -1, -1
		cfg.IdleTimeout, cfg.MaxLifetime = -1, -1
		p := newPool(t, cfg)

		stale := mustAcquire(t, p, "")
		resetting := mustAcquire(t, p, "")
		stale.Release() // its Reset takes an hour; then it idles and goes stale
		time.Sleep(2 * time.Hour)
		validating := goAcquire(context.Background(), p, "") // validates for an hour
		resetting.Release()                                  // resets for an hour
		synctest.Wait()
		if s := p.Stats(); s.Validating != 2 {
			t.Errorf("validating %d, want 2 (one Validate, one Reset)", s.Validating)
		}
		start := time.Now()
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("Close waited %v for canceled checks", time.Since(start))
		}
		r := <-validating
		if !errors.Is(r.err, pool.ErrClosed) {
			t.Fatalf("acquire during Close: %v", r.err)
		}
		if n := b.openCount(); n != 0 {
			t.Fatalf("%d connections open", n)
		}
	})
}

// An acquirer whose ctx ends just as a release hands it a connection gives the
// connection back. If Close's deadline has meanwhile force-closed that
// connection under it, giving it back must not close it a second time.
func TestCanceledHandOffDuringForcedClose(t *testing.T) {
	for round := range 30 { // the acquirer picks its ended ctx half the time
		var closes atomic.Int32
		cfg := newBackend().config()
		cfg.MaxSize = 1
		cfg.Close = func(*fakeConn) { closes.Add(1) }
		p := newPool(t, cfg)
		held := mustAcquire(t, p, "")
		ctx := &heldCtx[*fakeConn]{Context: context.Background(), p: p,
			queued: make(chan struct{}), gate: make(chan struct{}), done: make(chan struct{})}
		waiter := goAcquire(ctx, p, "waiter")
		<-ctx.queued   // in line, not yet waiting
		held.Release() // handed to the waiter
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Close(expired) // force-closes the handed-over connection
		close(ctx.done)
		close(ctx.gate) // the waiter finds a connection and its ctx ended
		if r := <-waiter; r.err == nil {
			r.lease.Release()
		}
		_ = p.Close(context.Background())
		s := p.Stats()
		if n := closes.Load(); n != 1 || s.Total != 0 || s.Released != s.Acquired || s.Destroyed != s.Created {
			t.Fatalf("round %d: Config.Close called %d times for one connection; stats: total %d, acquired %d released %d, created %d destroyed %d",
				round, n, s.Total, s.Acquired, s.Released, s.Created, s.Destroyed)
		}
	}
}

// heldCtx is a context that holds its acquirer once it is in line: the first
// call of Done that finds a waiter in p closes queued and returns only once
// gate is closed.
type heldCtx[C any] struct {
	context.Context
	p            *pool.Pool[C]
	held         bool // only the acquirer calls Done
	queued, gate chan struct{}
	done         chan struct{}
}

func (c *heldCtx[C]) Done() <-chan struct{} {
	if !c.held && c.p.Stats().Waiting > 0 {
		c.held = true
		close(c.queued)
		<-c.gate
	}
	return c.done
}

func (c *heldCtx[C]) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}
