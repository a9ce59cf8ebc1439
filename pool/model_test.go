package pool_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/motorpool/motorpool/pool"
)

// TestModel drives a pool through random sequences of acquires, releases,
// destroys, cancellations, resizes, reconfigurations, limits, clock advances,
// backend outages, lease misuse and Close, checking after every step that:
//
//   - the pool never grows above its maximum, and never goes idle, cold or
//     stuck while someone waits (no lost wake-ups);
//   - no acquire waits past its AcquireTimeout;
//   - no connection is held by two leases, and every lease's connection is open;
//   - waiters are served in arrival order;
//   - statistics, the connection listing, the events and the fake backend agree;
//   - idle reaping, lifetimes and leak detection happened when due;
//   - misuse panics, failures carry the right reason;
//   - after Close, nothing is open and no goroutine is left behind.
//
// Everything runs in one synctest bubble, so clock advances are instant and
// each step ends when every goroutine is blocked. Run longer with
// -rapid.checks=2000.
func TestModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		// Each check gets a bubble of its own, so fake time starts afresh
		// while rapid keeps its real-time budgets. rapid signals failures
		// and invalid draws by panicking; catch the panic in the bubble, shut
		// the pool down so that the bubble can end, and raise it again
		// outside.
		var caught any
		var stack []byte
		synctest.Test(t, func(*testing.T) {
			var m *model
			defer func() {
				if caught = recover(); caught != nil {
					stack = debug.Stack()
					if m != nil {
						m.abort()
					}
				}
			}()
			m = newModel(rt)
			rt.Repeat(map[string]func(*rapid.T){
				"acquire":   m.acquire,
				"release":   m.release,
				"destroy":   m.destroy,
				"cancel":    m.cancel,
				"resize":    m.resize,
				"configure": m.reconfigure,
				"limit":     m.limit,
				"advance":   m.advance,
				"breakIdle": m.breakIdle,
				"backend":   m.toggleBackend,
				"misuse":    m.misuse,
				"close":     m.close,
				"":          m.check,
			})
			m.finish()
		})
		switch fmt.Sprintf("%T", caught) {
		case "<nil>":
		case "rapid.invalidData":
			panic(caught) // rapid discards the case
		case "rapid.stopTest":
			// Already logged. Failing here, apart from invalid data, lets
			// rapid tell the two apart while it shrinks.
			rt.Fatal("model check failed")
		default:
			rt.Fatalf("panic: %v\n%s", caught, stack)
		}
	})
}

var errDown = errors.New("fake: backend down")

type model struct {
	rt      *rapid.T
	b       *fakeBackend
	p       *pool.Pool[*fakeConn]
	cfg     pool.Config[*fakeConn]
	ev      *events
	leakOpt goleak.Option

	mu        sync.Mutex // guards p, bound and overshoot, read by dials
	bound     int        // the most connections the pool may have now
	overshoot string     // a dial seen above bound
	closed    bool
	everDown  bool
	seq       int
	held      []held
	ended     []pool.Lease[*fakeConn]
	pending   []*pending
	minSize   int
	maxSize   int
	limitN    int
	maxAge    time.Duration // the longest lifetime a connection may have been given
}

type held struct {
	lease  pool.Lease[*fakeConn]
	id     uint64 // pool's connection ID
	conn   *fakeConn
	holder string
	forced bool // Close cut it short
}

type pending struct {
	seq      int
	holder   string
	cancel   context.CancelFunc
	canceled bool
	ch       <-chan acquireResult
	started  time.Time
	// The AcquireTimeout when it started, and the shortest ConnectTimeout
	// since: the bounds its wait may end at.
	acquireTimeout, connectTimeout time.Duration
}

func newModel(rt *rapid.T) *model {
	m := &model{rt: rt, b: newBackend(), ev: &events{}, leakOpt: goleak.IgnoreCurrent(), limitN: -1}
	m.maxSize = rapid.IntRange(1, 4).Draw(rt, "max")
	m.minSize = rapid.IntRange(0, m.maxSize).Draw(rt, "min")
	m.b.dialDelay = rapid.SampledFrom([]time.Duration{0, 0, 200 * time.Millisecond}).Draw(rt, "dialDelay")
	m.b.resetDelay = rapid.SampledFrom([]time.Duration{0, 100 * time.Millisecond}).Draw(rt, "resetDelay")
	m.cfg = pool.Config[*fakeConn]{
		Dial:              m.dial,
		Close:             m.b.close,
		Validate:          m.b.validate,
		MinSize:           m.minSize,
		MaxSize:           m.maxSize,
		AcquireTimeout:    rapid.SampledFrom([]time.Duration{5 * time.Second, 30 * time.Second}).Draw(rt, "acquireTimeout"),
		ConnectTimeout:    2 * time.Second,
		IdleTimeout:       time.Minute,
		MaxLifetime:       10 * time.Minute,
		MaxLifetimeJitter: rapid.SampledFrom([]time.Duration{-1, time.Minute}).Draw(rt, "jitter"),
		ValidateIdleAfter: time.Second,
		MaxConnecting:     rapid.IntRange(1, 3).Draw(rt, "maxConnecting"),
		DialBackoffMin:    100 * time.Millisecond,
		DialBackoffMax:    time.Second,
		LeakThreshold:     30 * time.Second,
		OnEvent:           m.ev.hook,
	}
	if rapid.Bool().Draw(rt, "reset") {
		m.cfg.Reset = m.b.reset
	}
	m.bound = m.maxSize
	m.maxAge = m.cfg.MaxLifetime + max(m.cfg.MaxLifetimeJitter, 0)
	p, err := pool.New(m.cfg)
	if err != nil {
		rt.Fatal(err)
	}
	m.mu.Lock()
	m.p = p
	m.mu.Unlock()
	synctest.Wait()
	return m
}

// dial is the pool's Dial: it checks, while the dial is under way and thus
// counted, that the pool is within its bound.
func (m *model) dial(ctx context.Context) (*fakeConn, error) {
	m.mu.Lock()
	p := m.p
	m.mu.Unlock()
	if p == nil { // dialing for MinSize inside New
		return m.b.dial(ctx)
	}
	s := p.Stats()
	m.mu.Lock()
	if s.Total > m.bound && m.overshoot == "" {
		m.overshoot = fmt.Sprintf("dial with %d connections counted, bound %d", s.Total, m.bound)
	}
	m.mu.Unlock()
	return m.b.dial(ctx)
}

func (m *model) effMax() int {
	if m.limitN >= 0 {
		return min(m.maxSize, m.limitN)
	}
	return m.maxSize
}

func (m *model) raiseBound(n int) {
	m.mu.Lock()
	m.bound = max(m.bound, n)
	m.mu.Unlock()
}

func (m *model) skipIfClosed(t *rapid.T) {
	if m.closed {
		t.Skip("closed")
	}
}

func (m *model) acquire(t *rapid.T) {
	m.skipIfClosed(t)
	m.seq++
	ctx, cancel := context.WithCancel(context.Background())
	w := &pending{seq: m.seq, holder: fmt.Sprintf("client %d", m.seq), cancel: cancel, started: time.Now(),
		acquireTimeout: m.cfg.AcquireTimeout, connectTimeout: m.cfg.ConnectTimeout}
	w.ch = goAcquire(ctx, m.p, w.holder)
	m.pending = append(m.pending, w)
	m.settle(t)
}

func (m *model) pickHeld(t *rapid.T) int {
	var live []int
	for i, h := range m.held {
		if !h.forced {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		t.Skip("no lease")
	}
	return rapid.SampledFrom(live).Draw(t, "lease")
}

func (m *model) endHeld(i int) {
	h := m.held[i]
	m.held = slices.Delete(m.held, i, i+1)
	m.ended = append(m.ended, h.lease)
}

func (m *model) release(t *rapid.T) {
	i := m.pickHeld(t)
	m.held[i].lease.Release()
	m.endHeld(i)
	m.settle(t)
}

func (m *model) destroy(t *rapid.T) {
	i := m.pickHeld(t)
	m.held[i].lease.Destroy(errBroken)
	m.endHeld(i)
	m.settle(t)
}

func (m *model) cancel(t *rapid.T) {
	if len(m.pending) == 0 {
		t.Skip("nobody waits")
	}
	w := rapid.SampledFrom(m.pending).Draw(t, "waiter")
	w.canceled = true
	w.cancel()
	m.settle(t)
	for _, p := range m.pending {
		if p == w {
			t.Fatalf("acquire %d still waiting after its ctx was canceled", w.seq)
		}
	}
}

func (m *model) resize(t *rapid.T) {
	m.skipIfClosed(t)
	maxSize := rapid.IntRange(1, 5).Draw(t, "newMax")
	minSize := rapid.IntRange(0, maxSize).Draw(t, "newMin")
	m.minSize, m.maxSize = minSize, maxSize
	m.raiseBound(m.effMax())
	if err := m.p.Resize(minSize, maxSize); err != nil {
		t.Fatal(err)
	}
	m.settle(t)
}

func (m *model) reconfigure(t *rapid.T) {
	m.skipIfClosed(t)
	s := m.cfg.Settings()
	s.MaxSize = rapid.IntRange(1, 5).Draw(t, "newMax")
	s.MinSize = rapid.IntRange(0, s.MaxSize).Draw(t, "newMin")
	s.AcquireTimeout = rapid.SampledFrom([]time.Duration{time.Second, 5 * time.Second, 30 * time.Second}).Draw(t, "newAcquireTimeout")
	s.ConnectTimeout = rapid.SampledFrom([]time.Duration{500 * time.Millisecond, 2 * time.Second, 10 * time.Second}).Draw(t, "newConnectTimeout")
	s.IdleTimeout = rapid.SampledFrom([]time.Duration{10 * time.Second, time.Minute, 5 * time.Minute}).Draw(t, "newIdleTimeout")
	s.MaxLifetime = rapid.SampledFrom([]time.Duration{time.Minute, 10 * time.Minute}).Draw(t, "newMaxLifetime")
	s.MaxLifetimeJitter = rapid.SampledFrom([]time.Duration{-1, s.MaxLifetime / 10}).Draw(t, "newJitter")
	s.MaxConnecting = rapid.IntRange(1, 3).Draw(t, "newMaxConnecting")
	m.minSize, m.maxSize = s.MinSize, s.MaxSize
	m.cfg.AcquireTimeout, m.cfg.ConnectTimeout, m.cfg.IdleTimeout = s.AcquireTimeout, s.ConnectTimeout, s.IdleTimeout
	m.cfg.MaxLifetime, m.cfg.MaxLifetimeJitter, m.cfg.MaxConnecting = s.MaxLifetime, s.MaxLifetimeJitter, s.MaxConnecting
	m.maxAge = max(m.maxAge, s.MaxLifetime+max(s.MaxLifetimeJitter, 0))
	for _, w := range m.pending {
		w.connectTimeout = min(w.connectTimeout, s.ConnectTimeout)
	}
	m.raiseBound(m.effMax())
	if err := m.p.Reconfigure(s); err != nil {
		t.Fatal(err)
	}
	m.settle(t)
}

func (m *model) limit(t *rapid.T) {
	m.skipIfClosed(t)
	m.limitN = rapid.IntRange(-1, 5).Draw(t, "newLimit")
	m.raiseBound(m.effMax())
	m.p.SetLimit(m.limitN)
	m.settle(t)
}

func (m *model) advance(t *rapid.T) {
	d := rapid.SampledFrom([]time.Duration{
		time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second,
		2 * time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 10 * time.Minute, time.Hour,
	}).Draw(t, "advance")
	time.Sleep(d)
	m.settle(t)
}

// breakIdle breaks a connection no lease holds, so that its next validation
// or reset fails.
func (m *model) breakIdle(t *rapid.T) {
	leased := map[*fakeConn]bool{}
	for _, h := range m.held {
		leased[h.conn] = true
	}
	var free []*fakeConn
	m.b.mu.Lock()
	for _, c := range m.b.open {
		if !leased[c] && !c.broken {
			free = append(free, c)
		}
	}
	m.b.mu.Unlock()
	if len(free) == 0 {
		t.Skip("no unleased connection")
	}
	slices.SortFunc(free, func(a, b *fakeConn) int { return a.id - b.id })
	c := rapid.SampledFrom(free).Draw(t, "break")
	m.b.breakConn(c.id)
	m.settle(t)
}

func (m *model) toggleBackend(t *rapid.T) {
	m.skipIfClosed(t)
	if m.b.down == nil {
		m.b.setDown(errDown)
		m.everDown = true
	} else {
		m.b.setDown(nil)
	}
	m.settle(t)
}

func (m *model) misuse(t *rapid.T) {
	if len(m.ended) == 0 {
		t.Skip("no ended lease")
	}
	l := rapid.SampledFrom(m.ended).Draw(t, "ended")
	for name, f := range map[string]func(){
		"Release": l.Release,
		"Destroy": func() { l.Destroy(nil) },
		"Conn":    func() { l.Conn() },
	} {
		if !panics(f) {
			t.Fatalf("%s of an ended lease did not panic", name)
		}
	}
	m.settle(t)
}

func (m *model) close(t *rapid.T) {
	m.skipIfClosed(t)
	if rapid.IntRange(0, 4).Draw(t, "closeNow") != 0 {
		t.Skip("not yet") // Close ends the sequence: keep sequences long
	}
	ctx, cancel := context.WithTimeout(context.Background(),
		rapid.SampledFrom([]time.Duration{time.Second, time.Minute}).Draw(t, "closeDeadline"))
	defer cancel()
	err := m.p.Close(ctx)
	m.closed = true
	if len(m.held) > 0 && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with %d leases held: %v, want the deadline", len(m.held), err)
	}
	if len(m.held) == 0 && err != nil {
		t.Fatalf("Close with no lease held: %v", err)
	}
	for i := range m.held {
		m.held[i].forced = true
		if m.held[i].lease.Conn() == nil {
			t.Fatal("force-closed lease lost its connection")
		}
	}
	m.settle(t)
	if n := m.b.openCount(); n != 0 {
		t.Fatalf("%d connections open after Close", n)
	}
}

// settle waits for the bubble to go quiet and collects finished acquires,
// checking that waiters were served in arrival order.
func (m *model) settle(t *rapid.T) {
	synctest.Wait()
	var still []*pending
	var served []int
	for _, w := range m.pending {
		r, ok := ready(w.ch)
		if !ok {
			still = append(still, w)
			continue
		}
		if r.err != nil {
			m.checkFailure(t, w, r.err)
			continue
		}
		served = append(served, w.seq)
		id, conn := r.lease.ID(), r.lease.Conn()
		for _, h := range m.held {
			if h.id == id || h.conn == conn {
				t.Fatalf("connection %d leased twice", id)
			}
		}
		if !m.b.isOpen(conn) {
			t.Fatalf("acquire %d got a closed connection", w.seq)
		}
		m.held = append(m.held, held{lease: r.lease, id: id, conn: conn, holder: w.holder})
	}
	for _, s := range served {
		for _, w := range still {
			if w.seq < s {
				t.Fatalf("acquire %d served while the earlier acquire %d still waits", s, w.seq)
			}
		}
	}
	for _, w := range still {
		if d := time.Since(w.started); d > w.acquireTimeout {
			t.Fatalf("acquire %d still waits after %v, AcquireTimeout %v", w.seq, d, w.acquireTimeout)
		}
	}
	m.pending = still
}

func (m *model) checkFailure(t *rapid.T, w *pending, err error) {
	var ae *pool.AcquireError
	if !errors.As(err, &ae) {
		t.Fatalf("acquire %d: %v is not an *AcquireError", w.seq, err)
	}
	switch ae.Reason {
	case pool.FailCanceled:
		if !w.canceled || !errors.Is(err, context.Canceled) {
			t.Fatalf("acquire %d: canceled without cancel: %v", w.seq, err)
		}
	case pool.FailClosed:
		if !m.closed || !errors.Is(err, pool.ErrClosed) {
			t.Fatalf("acquire %d: closed error on an open pool", w.seq)
		}
	case pool.FailExhausted:
		if ae.Waited < w.acquireTimeout {
			t.Fatalf("acquire %d: exhausted after %v, AcquireTimeout is %v", w.seq, ae.Waited, w.acquireTimeout)
		}
	case pool.FailUnreachable:
		if !m.everDown || !errors.Is(err, errDown) || ae.Waited < min(w.connectTimeout, w.acquireTimeout) {
			t.Fatalf("acquire %d: unreachable (%v) after %v", w.seq, err, ae.Waited)
		}
	default:
		t.Fatalf("acquire %d: reason %v", w.seq, ae.Reason)
	}
}

// check runs after every step.
func (m *model) check(t *rapid.T) {
	synctest.Wait()
	s := m.p.Stats()
	m.mu.Lock()
	overshoot := m.overshoot
	m.bound = max(s.Max, s.Total) // it may only fall, as connections close
	m.mu.Unlock()
	if overshoot != "" {
		t.Fatal(overshoot)
	}
	if s.Max != m.effMax() && !m.closed {
		t.Fatalf("Max %d, model says %d", s.Max, m.effMax())
	}

	// Counts agree with each other, with the model and with the backend.
	if s.Total != s.Creating+s.Idle+s.Active+s.Validating+s.Destroying {
		t.Fatalf("total %d != sum of states in %+v", s.Total, s)
	}
	live := 0
	for _, h := range m.held {
		if !h.forced {
			live++
		}
	}
	if s.Active != live || s.Waiting != len(m.pending) {
		t.Fatalf("active %d waiting %d; model holds %d leases, %d waiting", s.Active, s.Waiting, live, len(m.pending))
	}
	if s.Acquired-s.Released != uint64(s.Active) {
		t.Fatalf("acquired %d - released %d != active %d", s.Acquired, s.Released, s.Active)
	}
	if s.Created-s.Destroyed != uint64(s.Idle+s.Active+s.Validating) {
		t.Fatalf("created %d - destroyed %d != open %d", s.Created, s.Destroyed, s.Idle+s.Active+s.Validating)
	}
	if n := m.b.openCount(); n != s.Idle+s.Active+s.Validating+s.Destroying {
		t.Fatalf("backend has %d open, pool counts %+v", n, s)
	}
	if s.ValidationFailures != s.DestroyedBy[pool.DestroyValidation] {
		t.Fatalf("validation failures %d, destroyed for validation %d", s.ValidationFailures, s.DestroyedBy[pool.DestroyValidation])
	}
	if s.Destroying == 0 {
		if n := uint64(len(m.ev.of(pool.EventConnClosed))); n != s.Destroyed {
			t.Fatalf("%d close events, %d destroyed", n, s.Destroyed)
		}
	}
	if n := uint64(len(m.ev.of(pool.EventConnCreated))); n != s.Created {
		t.Fatalf("%d create events, %d created", n, s.Created)
	}
	if n := uint64(len(m.ev.of(pool.EventLeakDetected))); n != s.LeaksDetected {
		t.Fatalf("%d leak events, %d leaks", n, s.LeaksDetected)
	}

	if m.closed {
		if s.Total != 0 || len(m.pending) != 0 {
			t.Fatalf("after Close: %+v", s)
		}
		return
	}
	// Liveness: nobody waits while a connection idles or the pool could grow.
	if s.Idle > 0 && s.Waiting > 0 {
		t.Fatalf("%d idle connections while %d wait", s.Idle, s.Waiting)
	}
	if s.Waiting > 0 && s.Total < s.Max && s.Creating == 0 && s.Validating == 0 {
		t.Fatalf("%d waiting, %d/%d connections, nothing dialing: lost wake-up", s.Waiting, s.Total, s.Max)
	}
	if s.Total < min(m.minSize, s.Max) && s.Creating == 0 {
		t.Fatalf("%d connections, minimum %d, nothing dialing", s.Total, m.minSize)
	}

	// The listing agrees, and timed duties were done when due.
	conns := m.p.Conns()
	if len(conns) != s.Total {
		t.Fatalf("Conns lists %d, Stats counts %d", len(conns), s.Total)
	}
	holders := map[uint64]string{}
	for _, h := range m.held {
		holders[h.id] = h.holder
		if h.forced {
			continue
		}
		if h.lease.Conn() != h.conn || !m.b.isOpen(h.conn) {
			t.Fatalf("lease of connection %d: connection changed or closed", h.id)
		}
	}
	maxAge := m.maxAge
	for _, ci := range conns {
		switch ci.State {
		case pool.StateActive:
			if ci.Holder != holders[ci.ID] {
				t.Fatalf("connection %d holder %q, leased to %q", ci.ID, ci.Holder, holders[ci.ID])
			}
			if ci.Held >= m.cfg.LeakThreshold && !ci.Leaked {
				t.Fatalf("connection %d held %v, not reported as a leak", ci.ID, ci.Held)
			}
		case pool.StateIdle:
			if ci.Age >= maxAge {
				t.Fatalf("idle connection %d is %v old, lifetime %v", ci.ID, ci.Age, maxAge)
			}
			if ci.Idle >= m.cfg.IdleTimeout && s.Total-s.Destroying > min(m.minSize, s.Max) {
				t.Fatalf("connection %d idle %v with %d connections, minimum %d", ci.ID, ci.Idle, s.Total, m.minSize)
			}
		}
	}
}

// abort shuts everything down after a failure, so that the bubble can end.
func (m *model) abort() {
	for _, w := range m.pending {
		w.cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	_ = m.p.Close(ctx)
	synctest.Wait()
}

// finish ends a check: Close, then no connection open and no goroutine left.
func (m *model) finish() {
	t := m.rt
	for _, w := range m.pending {
		w.canceled = true
		w.cancel()
	}
	m.settle(t)
	for i := len(m.held) - 1; i >= 0; i-- {
		m.held[i].lease.Release() // no-op for force-closed ones
		if !m.held[i].forced {
			m.endHeld(i)
		}
	}
	if err := m.p.Close(context.Background()); err != nil {
		t.Fatalf("final Close: %v", err)
	}
	m.closed = true
	m.settle(t)
	if len(m.pending) != 0 {
		t.Fatalf("%d acquires still waiting after Close", len(m.pending))
	}
	if n := m.b.openCount(); n != 0 {
		t.Fatalf("%d connections open after Close", n)
	}
	if err := goleak.Find(m.leakOpt); err != nil {
		t.Fatalf("goroutines left behind: %v", err)
	}
}
