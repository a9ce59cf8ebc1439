package pool

import (
	"context"
	"fmt"
	"time"
)

// staleLocked reports whether e, just taken from the idle stack, must pass
// Validate before it is leased.
func (p *Pool[C]) staleLocked(e *entry[C], now int64) bool {
	after := p.cfg.ValidateIdleAfter
	return p.cfg.Validate != nil && after >= 0 && now-max(e.idleSince, e.checked) > int64(after)
}

// validateLocked runs Validate on e for an acquirer, unlocking p.mu for the
// call. When done, the acquire is over: p.mu is unlocked and l or err is the
// result. Otherwise e failed and was destroyed, p.mu is locked again, and the
// acquirer moves on to another connection.
func (p *Pool[C]) validateLocked(ctx context.Context, e *entry[C], holder string) (l Lease[C], err error, done bool) {
	p.setStateLocked(e, StateValidating)
	p.wg.Add(1) // Close waits for this acquirer to settle e
	defer p.wg.Done()
	timeout := p.cfg.ValidationTimeout
	p.unlock()

	start := p.clock.read()
	verr := p.check(ctx, p.cfg.Validate, timeout, e.conn)
	now := p.clock.read()

	p.mu.Lock()
	switch {
	case p.closed:
		p.destroyLocked(e, DestroyClosed, nil, now)
		err = p.failLocked(FailClosed, ErrClosed, start, now)
	case verr == nil:
		e.checked = now
		p.activateLocked(e, now, holder)
		p.hist.record(since(now, start))
		l = Lease[C]{e: e, gen: e.gen}
		p.unlock()
		return l, nil, true
	case ctx.Err() != nil:
		// Cut short: the connection may be mid-exchange, so it cannot be
		// trusted, but it did not fail validation either.
		p.destroyLocked(e, DestroyError, fmt.Errorf("validation interrupted: %w", verr), now)
		p.st.canceled++
		err = p.failLocked(FailCanceled, ctx.Err(), start, now)
	default:
		p.st.validationFailures++
		p.emitLocked(Event{Kind: EventValidationFailed, ConnID: e.id, Err: verr, Duration: since(now, start)})
		p.destroyLocked(e, DestroyValidation, verr, now)
		return l, nil, false
	}
	p.unlock()
	return l, err, true
}

// resetLocked starts Reset on e, whose lease just ended, on a pool goroutine.
func (p *Pool[C]) resetLocked(e *entry[C]) {
	p.setStateLocked(e, StateValidating)
	e.resetting = true
	p.returning++
	p.wg.Add(1)
	go p.reset(e, p.cfg.ResetTimeout)
}

func (p *Pool[C]) reset(e *entry[C], timeout time.Duration) {
	defer p.wg.Done()
	err := p.check(p.ctx, p.cfg.Reset, timeout, e.conn)
	now := p.clock.read()
	p.mu.Lock()
	defer p.unlock()
	e.resetting = false
	p.returning--
	switch {
	case p.closed:
		p.destroyLocked(e, DestroyClosed, nil, now)
	case err != nil:
		p.destroyLocked(e, DestroyError, fmt.Errorf("reset: %w", err), now)
	default:
		p.recycleLocked(e, now, false)
	}
	p.startDialsLocked()
}

// check calls fn (Validate or Reset) with a context that ends at timeout,
// when ctx ends, or when the pool closes.
func (p *Pool[C]) check(parent context.Context, fn func(context.Context, C) error, timeout time.Duration, conn C) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	if parent != p.ctx {
		defer context.AfterFunc(p.ctx, cancel)()
	}
	if timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, timeout)
		defer cancelT()
	}
	return fn(ctx, conn)
}
