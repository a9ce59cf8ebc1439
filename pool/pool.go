package pool

import (
	"context"
	"sync"
	"time"
)

// Pool is a pool of connections of type C. Create one with New; all methods
// are safe for concurrent use. Close must be called to stop its goroutines.
//
// Acquirers are served first come, first served: when connections are short,
// each released or newly dialed connection is handed directly to the
// longest-waiting acquirer. Idle connections are reused last in, first out, so
// a small working set stays warm and the rest age out through IdleTimeout.
// Dials run in the background, at most MaxConnecting at a time; a waiter takes
// whichever connection becomes available first and never waits on a dial of
// its own.
type Pool[C any] struct {
	// mu protects the fields down to the blank line after dialing, and the
	// guarded fields of every entry. The first three cache lines' worth are
	// what every acquire and release touches, so they come first and
	// together.
	mu        sync.Mutex
	idle      idleStack[C]
	waiters   waitList[C]
	toWake    *waiter[C]     // served waiters to wake once unlocked, linked by next
	count     [numStates]int // entries per state
	wakeAt    int64          // when the maintainer will next run
	closed    bool
	isDrained bool // drained is closed
	minSize   int
	maxSize   int
	limit     int         // SetLimit; -1: none
	conns     []*entry[C] // every entry, creating to destroying; entry.slot indexes it
	st        counters    // statistics
	returning int         // entries validating because Reset runs: they come back
	nextID    uint64      // last entry ID issued
	waitsSeen uint64      // st.waits when the maintainer last ran
	oldBounds uint64      // st.waits at the last Reconfigure of a wait bound
	evq       []Event     // events not yet dispatched
	evOff     bool        // the dispatcher has been told to stop
	dialing   dialState   // dial failures and backoff

	// cfg has the defaults applied. Its Settings fields are protected by mu
	// (Reconfigure changes them; the sizes in force live above); the others
	// are read-only.
	cfg   Config[C]
	clock clock

	ctx         context.Context    // ends when Close begins; parent of dials, validations, resets
	cancel      context.CancelFunc // ends ctx
	closing     chan struct{}      // closed when Close begins
	poke        chan struct{}      // 1-buffered; wakes the maintainer early
	drained     chan struct{}      // closed once closed and no lease is outstanding
	wg          sync.WaitGroup     // every pool goroutine but the event dispatcher
	waiterCache sync.Pool          // *waiter[C], so that waiting does not allocate
	hist        atomicHistogram    // acquires that waited or validated

	evWake chan struct{} // 1-buffered; events are pending
	evStop chan struct{} // closed to stop the dispatcher after a last delivery
	evDone chan struct{} // closed when the dispatcher has returned
}

// New returns a pool configured by cfg (see Config for defaults), or an error
// if cfg is invalid. It starts dialing MinSize connections in the background
// and returns without waiting for them.
func New[C any](cfg Config[C]) (*Pool[C], error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool[C]{
		cfg:     cfg,
		closing: make(chan struct{}),
		poke:    make(chan struct{}, 1),
		drained: make(chan struct{}),
		minSize: cfg.MinSize,
		maxSize: cfg.MaxSize,
		limit:   -1,
		wakeAt:  never,
	}
	p.clock.init()
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.waiterCache.New = func() any { return &waiter[C]{ready: make(chan struct{}, 1)} }
	if cfg.OnEvent != nil {
		p.evWake, p.evStop, p.evDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go p.dispatch()
	}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		p.clock.run(p.closing)
	}()
	go p.maintain()
	p.mu.Lock()
	p.startDialsLocked()
	p.unlock()
	return p, nil
}

// Acquire is AcquireAs with an empty holder label.
func (p *Pool[C]) Acquire(ctx context.Context) (Lease[C], error) {
	return p.AcquireAs(ctx, "")
}

// AcquireAs leases a connection to holder, a label shown in Conns and in leak
// events (for example "client 42 10.0.0.1:5555"; pass a string built once, not
// per call). The lease must end with exactly one Release or Destroy.
//
// An idle connection is returned at once: the most recently used one, after
// Validate if it has been idle longer than ValidateIdleAfter (a connection
// that fails is destroyed and the next one tried). Otherwise the caller waits
// in line while the pool dials, if it may grow, and gets the first connection
// to become available. The wait ends with an *AcquireError: FailCanceled when
// ctx ends (Err is ctx.Err()), FailExhausted or FailUnreachable when
// AcquireTimeout passes or, while dials fail, ConnectTimeout passes, and
// FailClosed when the pool is or becomes closed. A ctx that is already done
// fails at once, even if a connection is idle.
//
// An uncontended AcquireAs and Release do not allocate and take one
// uncontended mutex each.
func (p *Pool[C]) AcquireAs(ctx context.Context, holder string) (Lease[C], error) {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return Lease[C]{}, p.canceledAtStart(ctx)
		default:
		}
	}
	now := p.clock.now()
	p.mu.Lock()
	for !p.closed && p.waiters.n == 0 {
		e := p.idle.pop()
		if e == nil {
			break
		}
		if e.expires != 0 && now >= e.expires {
			p.destroyLocked(e, DestroyLifetime, nil, now)
			continue
		}
		if p.staleLocked(e, now) {
			if l, err, done := p.validateLocked(ctx, e, holder); done {
				return l, err
			}
			continue
		}
		p.activateLocked(e, now, holder)
		l := Lease[C]{e: e, gen: e.gen}
		p.unlock()
		return l, nil
	}
	return p.waitLocked(ctx, holder)
}

// Resize sets the minimum and maximum size at runtime. It returns an error,
// changing nothing, if minSize is negative, maxSize below 1 or minSize above
// maxSize, and ErrClosed on a closed pool.
//
// Growing starts dials for waiting acquirers and for the new minimum.
// Shrinking closes idle connections above the new maximum at once, least
// recently used first (DestroyResize); leased connections are never
// interrupted but are closed when their lease ends while the pool is above
// its maximum.
func (p *Pool[C]) Resize(minSize, maxSize int) error {
	if err := checkSizes(minSize, maxSize); err != nil {
		return err
	}
	now := p.clock.read()
	p.mu.Lock()
	defer p.unlock()
	if p.closed {
		return ErrClosed
	}
	p.minSize, p.maxSize = minSize, maxSize
	p.applySizeLocked(now)
	return nil
}

// SetLimit sets an external cap on the pool, as a budget allocator sharing
// one database among pools does: the effective maximum becomes
// min(MaxSize, n), and the minimum is lowered to it if above. A negative n
// removes the cap; zero lets the pool open no connections, so acquirers wait
// until the cap is raised or they time out. Lowering it shrinks the pool as
// Resize does. On a closed pool it does nothing.
func (p *Pool[C]) SetLimit(n int) {
	now := p.clock.read()
	p.mu.Lock()
	defer p.unlock()
	if p.closed {
		return
	}
	p.limit = max(n, -1)
	p.applySizeLocked(now)
}

func (p *Pool[C]) applySizeLocked(now int64) {
	for p.liveLocked() > p.maxLocked() {
		e := p.idle.popOldest()
		if e == nil {
			break
		}
		p.destroyLocked(e, DestroyResize, nil, now)
	}
	p.startDialsLocked()
	p.scheduleLocked(now) // idle reaping depends on the minimum
}

// maxLocked returns the effective maximum, min(maxSize, limit).
func (p *Pool[C]) maxLocked() int {
	if p.limit >= 0 && p.limit < p.maxSize {
		return p.limit
	}
	return p.maxSize
}

// liveLocked counts the connections not being closed.
func (p *Pool[C]) liveLocked() int { return len(p.conns) - p.count[StateDestroying] }

func (p *Pool[C]) setStateLocked(e *entry[C], s State) {
	p.count[e.state]--
	p.count[s]++
	e.state = s
}

func (p *Pool[C]) newEntryLocked(now int64) *entry[C] {
	p.nextID++
	e := &entry[C]{pool: p, id: p.nextID, state: StateCreating, slot: len(p.conns), created: now}
	p.conns = append(p.conns, e)
	p.count[StateCreating]++
	return e
}

func (p *Pool[C]) unregisterLocked(e *entry[C]) {
	last := len(p.conns) - 1
	p.conns[e.slot] = p.conns[last]
	p.conns[e.slot].slot = e.slot
	p.conns[last] = nil
	p.conns = p.conns[:last]
	p.count[e.state]--
}

// activateLocked leases e, which the caller has taken out of the idle stack or
// a dial, to holder.
func (p *Pool[C]) activateLocked(e *entry[C], now int64, holder string) {
	p.setStateLocked(e, StateActive)
	e.leased, e.holder = now, holder
	e.uses++
	p.st.acquired++
	if t := p.cfg.LeakThreshold; t > 0 {
		p.scheduleLocked(now + int64(t))
	}
}

// recycleLocked decides what happens to e, a connection no one holds: the
// lease just ended (reset says whether Reset applies) or it was just dialed.
func (p *Pool[C]) recycleLocked(e *entry[C], now int64, reset bool) {
	switch {
	case p.closed:
		p.destroyLocked(e, DestroyClosed, nil, now)
	case e.expires != 0 && now >= e.expires:
		p.destroyLocked(e, DestroyLifetime, nil, now)
	case p.liveLocked() > p.maxLocked():
		p.destroyLocked(e, DestroyResize, nil, now)
	case reset && p.cfg.Reset != nil:
		p.resetLocked(e)
	default:
		p.putLocked(e, now)
	}
}

// putLocked hands e to the longest-waiting acquirer, or else pushes it on
// the idle stack.
func (p *Pool[C]) putLocked(e *entry[C], now int64) {
	if p.waiters.n != 0 {
		p.handOffLocked(e, now)
		return
	}
	p.setStateLocked(e, StateIdle)
	e.idleSince = now
	p.idle.push(e)
	if t := p.cfg.IdleTimeout; t > 0 {
		p.scheduleLocked(now + int64(t))
	}
	if e.expires != 0 {
		p.scheduleLocked(e.expires)
	}
	if p.checkBroken() {
		p.scheduleLocked(now + int64(p.cfg.HealthCheckPeriod))
	}
}

// handOffLocked leases e to the longest-waiting acquirer and wakes it.
func (p *Pool[C]) handOffLocked(e *entry[C], now int64) {
	w := p.waiters.front()
	p.waiters.remove(w)
	p.st.waitSum += max(p.st.endedAt(now)-w.start, 0)
	p.activateLocked(e, now, w.holder)
	p.st.unrecorded++
	w.e = e
	p.wakeLocked(w)
}

// wakeLocked queues w, taken out of line with its outcome set, to be woken
// by unlock: waking a goroutine can cost a system call, which is better not
// paid while holding the lock.
func (p *Pool[C]) wakeLocked(w *waiter[C]) {
	w.next = p.toWake
	p.toWake = w
}

// unlock unlocks p.mu and then wakes the waiters served meanwhile. Every
// unlock of p.mu goes through it.
func (p *Pool[C]) unlock() {
	w := p.toWake
	if w == nil {
		p.mu.Unlock()
		return
	}
	p.toWake = nil
	p.mu.Unlock()
	for w != nil {
		next := w.next
		w.next = nil
		w.ready <- struct{}{} // w may be recycled from here on
		w = next
	}
}

// destroyLocked closes e on a pool goroutine. The caller has taken e out of
// the idle stack if it was there. e counts against the maximum until its Close
// returns.
func (p *Pool[C]) destroyLocked(e *entry[C], reason DestroyReason, cause error, now int64) {
	p.setStateLocked(e, StateDestroying)
	age := since(now, e.created)
	p.st.destroyed[reason]++
	p.st.lifetimeSum += age
	p.wg.Add(1)
	go p.closeConn(e, reason, cause, age)
}

func (p *Pool[C]) closeConn(e *entry[C], reason DestroyReason, cause error, age time.Duration) {
	defer p.wg.Done()
	p.cfg.Close(e.conn)
	p.mu.Lock()
	p.unregisterLocked(e)
	p.emitLocked(Event{Kind: EventConnClosed, ConnID: e.id, Reason: reason, Err: cause, Duration: age})
	p.startDialsLocked()
	p.unlock()
}

// scheduleLocked makes the maintainer run no later than t.
func (p *Pool[C]) scheduleLocked(t int64) {
	if t < p.wakeAt {
		p.wakeAt = t
		select {
		case p.poke <- struct{}{}:
		default:
		}
	}
}

// Expire ends the lifetime of every connection open now, as if MaxLifetime
// had passed: idle ones are closed at once (DestroyLifetime), leased ones
// when their lease ends. Connections being dialed, and those dialed later,
// are not affected; the minimum is kept with new ones. It returns the
// highest connection ID it expired (0 when none): once no connection with
// an ID up to it is left, every one open at the call has closed. A pooler's
// RECONNECT uses it once the database has moved. On a closed pool it does
// nothing and returns 0.
func (p *Pool[C]) Expire() uint64 {
	now := p.clock.read()
	p.mu.Lock()
	defer p.unlock()
	if p.closed {
		return 0
	}
	var last uint64
	for _, e := range p.conns {
		if e.state != StateCreating {
			e.expires = max(now, 1) // 0 is never
			last = max(last, e.id)
		}
	}
	p.idle.filter(func(e *entry[C]) bool {
		p.destroyLocked(e, DestroyLifetime, nil, now)
		return false
	})
	p.startDialsLocked()
	return last
}
