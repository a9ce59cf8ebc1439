package pool

import (
	"context"
	"math/rand/v2"
	"time"
)

// dialState tracks failing dials. Protected by Pool.mu.
type dialState struct {
	failures int   // consecutive failed dials; 0 after a success
	lastErr  error // error of the last failed dial; nil after a success
	retryAt  int64 // no dial starts before this clock reading
}

// wantLocked reports whether the pool wants one more connection, given total
// connections (counting dials and closes in flight) of which dialing are being
// dialed: when someone waits who will not be served by a dial or a reset
// already under way, or to reach the minimum; never above the maximum.
func (p *Pool[C]) wantLocked(total, dialing int) bool {
	if p.closed || total >= p.maxLocked() {
		return false
	}
	return p.waiters.n > dialing+p.returning || total < p.minSize
}

// startDialsLocked starts as many dials as are wanted, up to MaxConnecting.
func (p *Pool[C]) startDialsLocked() {
	for p.count[StateCreating] < p.cfg.MaxConnecting && p.wantLocked(len(p.conns), p.count[StateCreating]) {
		e := p.newEntryLocked(p.clock.now())
		p.wg.Add(1)
		go p.dialLoop(e)
	}
}

// failingLocked reports whether the pool is trying to grow and its dials fail.
func (p *Pool[C]) failingLocked() bool {
	return p.dialing.failures > 0 && p.count[StateCreating] > 0
}

// dialLoop dials e until it succeeds or is no longer wanted, pausing with
// backoff after failures.
func (p *Pool[C]) dialLoop(e *entry[C]) {
	defer p.wg.Done()
	for {
		timeout, ok := p.proceed(e)
		if !ok {
			return
		}
		start := p.clock.read()
		conn, err := p.dial(e.id, timeout)
		now := p.clock.read()
		p.mu.Lock()
		if err == nil {
			p.dialedLocked(e, conn, start, now)
			p.unlock()
			return
		}
		if !p.dialFailedLocked(e, err, start, now) {
			p.unregisterLocked(e)
			p.unlock()
			return
		}
		p.unlock()
	}
}

// proceed waits out the dial backoff, then reports whether e should still be
// dialed, and within what ConnectTimeout. If not (the pool closed, or nobody
// needs the connection any more) it unregisters e.
func (p *Pool[C]) proceed(e *entry[C]) (timeout time.Duration, ok bool) {
	now := p.clock.read()
	p.mu.Lock()
	pause := time.Duration(p.dialing.retryAt - now)
	p.unlock()
	if pause > 0 {
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-p.closing:
		}
		t.Stop()
	}
	p.mu.Lock()
	defer p.unlock()
	if !p.wantLocked(len(p.conns)-1, p.count[StateCreating]-1) {
		p.unregisterLocked(e)
		return 0, false
	}
	return p.cfg.ConnectTimeout, true
}

// connIDKey is the context key of the connection ID in Dial's context.
type connIDKey struct{}

// DialConnID returns the ID of the connection a Config.Dial call is dialing,
// the ID that Conns and Lease.ID report once it is open, so that Dial can
// label what it logs. ok is false for any other context.
func DialConnID(ctx context.Context) (id uint64, ok bool) {
	id, ok = ctx.Value(connIDKey{}).(uint64)
	return id, ok
}

func (p *Pool[C]) dial(id uint64, timeout time.Duration) (C, error) {
	ctx := context.WithValue(p.ctx, connIDKey{}, id)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return p.cfg.Dial(ctx)
}

// dialedLocked takes in the connection dialed for e.
func (p *Pool[C]) dialedLocked(e *entry[C], conn C, start, now int64) {
	e.conn = conn
	e.created, e.idleSince, e.checked = now, now, now
	e.expires = p.expiryFor(now)
	p.st.created++
	p.dialing = dialState{}
	p.emitLocked(Event{Kind: EventConnCreated, ConnID: e.id, Duration: since(now, start)})
	if p.cfg.IdleTimeout > 0 {
		p.scheduleLocked(now) // one more connection may let idle ones above the minimum go
	}
	p.recycleLocked(e, now, false)
	p.startDialsLocked()
}

// dialFailedLocked records a failed dial, fails the waiters that have waited
// ConnectTimeout, and reports whether to dial again after a backoff.
func (p *Pool[C]) dialFailedLocked(e *entry[C], err error, start, now int64) bool {
	if p.closed {
		return false // Close canceled the dial
	}
	p.st.dialErrors++
	p.dialing.failures++
	p.dialing.lastErr = err
	pause := p.backoff(p.dialing.failures)
	p.dialing.retryAt = now + int64(pause)
	p.failFastLocked(err, now)
	retry := p.wantLocked(len(p.conns)-1, p.count[StateCreating]-1)
	if !retry {
		pause = 0
	}
	p.emitLocked(Event{Kind: EventDialFailed, ConnID: e.id, Err: err, Attempt: p.dialing.failures, Duration: pause})
	return retry
}

// failFastLocked fails, with FailUnreachable, the waiters that have waited at
// least ConnectTimeout: the backend is down, and waiting out AcquireTimeout
// would only pile them up.
func (p *Pool[C]) failFastLocked(err error, now int64) {
	ct := int64(p.cfg.ConnectTimeout)
	if ct <= 0 {
		return
	}
	for w := p.waiters.front(); w != nil && now-w.start >= ct; w = p.waiters.front() {
		p.failWaiterLocked(w, FailUnreachable, err, now)
	}
}

// backoff returns the pause after the nth consecutive failed dial: doubling
// from DialBackoffMin up to DialBackoffMax, drawn from [d/2, d].
func (p *Pool[C]) backoff(n int) time.Duration {
	lo, hi := p.cfg.DialBackoffMin, p.cfg.DialBackoffMax
	if lo <= 0 || hi <= 0 {
		return 0
	}
	d := hi
	if n-1 < 62 && lo <= hi>>(n-1) {
		d = lo << (n - 1)
	}
	return d/2 + rand.N(d/2+1)
}

// expiryFor returns when a connection opened at now reaches its lifetime, or
// 0 for never.
func (p *Pool[C]) expiryFor(now int64) int64 {
	l := p.cfg.MaxLifetime
	if l <= 0 {
		return 0
	}
	if j := p.cfg.MaxLifetimeJitter; j > 0 {
		l += rand.N(2*j+1) - j
	}
	return now + int64(l)
}
