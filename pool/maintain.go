package pool

import "time"

// maintain is the maintainer goroutine: it retires idle connections (idle
// timeout, lifetime, Config.Broken), reports leaks, fails waiters past their bounds and keeps
// the pool at its minimum. It sleeps until the earliest deadline it knows of;
// Acquire and Release wake it (scheduleLocked) only when they create an
// earlier one, which in steady state they do not, since it never sleeps longer
// than IdleTimeout, LeakThreshold or, while acquirers wait, a wait's first
// bound.
func (p *Pool[C]) maintain() {
	defer p.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-p.closing:
			return
		case <-p.poke:
		case <-t.C:
		}
		now := p.clock.read()
		p.mu.Lock()
		next := p.maintainLocked(now)
		p.wakeAt = next
		p.unlock()
		if next == never {
			t.Stop()
		} else {
			t.Reset(time.Duration(next - now))
		}
	}
}

// firstBound is how long after it starts a wait's first bound passes, or 0.
func (p *Pool[C]) firstBound() int64 {
	at, ct := int64(p.cfg.AcquireTimeout), int64(p.cfg.ConnectTimeout)
	switch {
	case ct > 0 && (at <= 0 || ct < at):
		return ct
	case at > 0:
		return at
	}
	return 0
}

// maintainLocked does the work due at now and returns when it should run next.
func (p *Pool[C]) maintainLocked(now int64) int64 {
	if p.closed {
		return never
	}
	next := never
	idleTimeout, leak := int64(p.cfg.IdleTimeout), int64(p.cfg.LeakThreshold)
	surplus := p.liveLocked() - min(p.minSize, p.maxLocked()) // may close this many for idleness
	broken := p.checkBroken()
	p.idle.filter(func(e *entry[C]) bool {
		switch {
		case broken && p.cfg.Broken(e.conn):
			p.destroyLocked(e, DestroyError, ErrBroken, now)
			surplus--
			return false
		case e.expires != 0 && now >= e.expires:
			p.destroyLocked(e, DestroyLifetime, nil, now)
			surplus--
			return false
		case idleTimeout > 0 && surplus > 0 && now-e.idleSince >= idleTimeout:
			p.destroyLocked(e, DestroyIdle, nil, now)
			surplus--
			return false
		}
		if e.expires != 0 {
			next = min(next, e.expires)
		}
		if idleTimeout > 0 && surplus > 0 {
			next = min(next, e.idleSince+idleTimeout)
		}
		return true
	})
	if leak > 0 {
		for _, e := range p.conns {
			if e.state != StateActive || e.leaked {
				continue
			}
			if now-e.leased < leak {
				next = min(next, e.leased+leak)
				continue
			}
			e.leaked = true
			p.st.leaks++
			p.emitLocked(Event{Kind: EventLeakDetected, ConnID: e.id, Holder: e.holder, Duration: since(now, e.leased)})
		}
		next = min(next, now+leak)
	}
	if idleTimeout > 0 {
		next = min(next, now+idleTimeout)
	}
	if broken && p.idle.len() > 0 {
		next = min(next, now+int64(p.cfg.HealthCheckPeriod))
	}
	next = min(next, p.expireWaitersLocked(now))
	if p.waiters.n > 0 || p.st.waits != p.waitsSeen {
		// While acquirers come and go, wake at least as often as a new
		// waiter's first bound, so that queuing up never has to wake us.
		p.waitsSeen = p.st.waits
		if b := p.firstBound(); b > 0 {
			next = min(next, now+b)
		}
	}
	p.startDialsLocked()
	return next
}

// checkBroken reports whether idle connections are checked with Config.Broken.
func (p *Pool[C]) checkBroken() bool {
	return p.cfg.Broken != nil && p.cfg.HealthCheckPeriod > 0
}
