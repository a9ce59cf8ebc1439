package pool

// Lease is an acquirer's hold on one connection, from Acquire until Release or
// Destroy. It is a small value that may be copied freely; all copies are the
// same lease. Exactly one Release or Destroy ends it, after which every
// method but ID panics, on every copy: a double release, a release after
// Destroy and the use of a stale lease are bugs that would hand one client's
// connection to another, so they fail loudly and deterministically rather
// than corrupt the pool. The zero Lease panics too. (Release, Destroy and
// SetHolder check under the pool's lock. Conn checks without it, to stay
// cheap: a stale Conn on one goroutine racing the connection's next lease on
// another is a data race, which the race detector reports.)
type Lease[C any] struct {
	e   *entry[C]
	gen uint64 // entry.gen when issued; the lease is current while they match
}

const (
	panicZero  = "pool: use of a zero Lease"
	panicEnded = "pool: use of a Lease that was already released or destroyed"
)

// Conn returns the leased connection. It panics if the lease has ended.
func (l Lease[C]) Conn() C {
	if l.e == nil {
		panic(panicZero)
	}
	if l.e.gen != l.gen {
		panic(panicEnded)
	}
	return l.e.conn
}

// ID returns the connection's ID, as listed by Conns. It works after the
// lease ends, and panics on the zero Lease.
func (l Lease[C]) ID() uint64 {
	if l.e == nil {
		panic(panicZero)
	}
	return l.e.id
}

// SetHolder replaces the holder label shown in Conns and leak events; see
// AcquireAs. It takes the pool mutex briefly and panics if the lease has
// ended.
func (l Lease[C]) SetHolder(label string) {
	p := l.lock()
	l.e.holder = label
	p.unlock()
}

// Release ends the lease and gives the connection back: to the
// longest-waiting acquirer, else to the idle stack. If Config.Reset is set it
// runs first, on a pool goroutine, and Release returns without waiting for
// it. A connection past its MaxLifetime, or above the maximum after a shrink,
// or belonging to a closed pool, is closed instead.
//
// Release after Close has force-closed the connection (its deadline passed) is
// valid and does nothing. Release panics if the lease already ended.
func (l Lease[C]) Release() {
	e := l.e
	if e == nil {
		panic(panicZero)
	}
	p := e.pool
	now := p.clock.now()
	p.mu.Lock()
	if e.gen != l.gen {
		p.unlock()
		panic(panicEnded)
	}
	if e.forced {
		p.endForcedLocked(e)
		p.unlock()
		return
	}
	p.endLeaseLocked(e, now)
	if p.cfg.Reset == nil && !p.closed && (e.expires == 0 || now < e.expires) && p.liveLocked() <= p.maxLocked() {
		p.putLocked(e, now) // the common case of recycleLocked
	} else {
		p.recycleLocked(e, now, true)
		p.checkDrainedLocked()
	}
	p.unlock()
}

// Destroy ends the lease and closes the connection, for a connection that is
// broken or in an unknown state. err says why; it may be nil, and is passed on
// in the EventConnClosed event (reason DestroyError). The pool dials a
// replacement if anyone waits or it is below MinSize.
//
// Destroy after Close has force-closed the connection is valid and does
// nothing. Destroy panics if the lease already ended.
func (l Lease[C]) Destroy(err error) { l.destroy(DestroyError, err) }

// Discard is Destroy for a connection that works but must not be reused, such
// as one holding state the next holder must not see: it is not counted as an
// error (Stats.ConnectionErrors) but as DestroyDiscarded.
func (l Lease[C]) Discard(why error) { l.destroy(DestroyDiscarded, why) }

func (l Lease[C]) destroy(reason DestroyReason, err error) {
	p := l.lock()
	e := l.e
	if e.forced {
		p.endForcedLocked(e)
		p.unlock()
		return
	}
	now := p.clock.now()
	p.endLeaseLocked(e, now)
	p.destroyLocked(e, reason, err, now)
	if p.closed {
		p.checkDrainedLocked()
	}
	p.unlock()
}

// lock locks the pool and checks that the lease is current.
func (l Lease[C]) lock() *Pool[C] {
	if l.e == nil {
		panic(panicZero)
	}
	p := l.e.pool
	p.mu.Lock()
	if l.e.gen != l.gen {
		p.unlock()
		panic(panicEnded)
	}
	return p
}

// endLeaseLocked ends e's current lease, invalidating every copy of it. The
// caller then decides where e goes.
func (p *Pool[C]) endLeaseLocked(e *entry[C], now int64) {
	e.gen++
	p.st.released++
	p.st.leaseSum += max(p.st.endedAt(now)-e.leased, 0)
	if e.leaked {
		p.leakEndedLocked(e, now)
	}
}

func (p *Pool[C]) leakEndedLocked(e *entry[C], now int64) {
	e.leaked = false
	p.emitLocked(Event{Kind: EventLeakReleased, ConnID: e.id, Holder: e.holder, Duration: since(now, e.leased)})
}

// endForcedLocked ends a lease whose connection Close already closed; its
// accounting was settled then.
func (p *Pool[C]) endForcedLocked(e *entry[C]) {
	e.gen++
	e.forced = false
}
