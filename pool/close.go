package pool

import "context"

// Close shuts the pool down. At once it stops handing out connections (waiting
// and later acquirers fail with FailClosed), cancels dials, validations and
// resets in flight, and closes idle connections. Then it waits until every
// lease has ended, each leased connection being closed when its lease ends.
// If ctx ends first, Close closes the connections still leased as well, under
// their holders, whose use of them then fails and whose Release or Destroy
// does nothing; Config.Close must tolerate that. Finally it waits for every
// pool goroutine, delivers the last events, and returns nil, or ctx.Err() if
// it had to cut leases short.
//
// Close is idempotent and safe to call concurrently; every call waits as
// described, and the pool stays closed.
func (p *Pool[C]) Close(ctx context.Context) error {
	now := p.clock.read()
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.closing)
		p.cancel()
		for w := p.waiters.front(); w != nil; w = p.waiters.front() {
			p.failWaiterLocked(w, FailClosed, ErrClosed, now)
		}
		for e := p.idle.pop(); e != nil; e = p.idle.pop() {
			p.destroyLocked(e, DestroyClosed, nil, now)
		}
		p.checkDrainedLocked()
	}
	p.unlock()

	var err error
	select {
	case <-p.drained:
	case <-ctx.Done():
		err = ctx.Err()
		p.forceClose()
	}
	p.wg.Wait()
	p.stopEvents()
	return err
}

// forceClose closes the connections still leased when Close's ctx ended.
func (p *Pool[C]) forceClose() {
	now := p.clock.read()
	p.mu.Lock()
	defer p.unlock()
	for _, e := range p.conns {
		if e.state == StateActive {
			e.forced = true
			p.st.released++
			p.st.leaseSum += max(p.st.endedAt(now)-e.leased, 0)
			p.destroyLocked(e, DestroyClosed, nil, now)
		}
	}
	p.checkDrainedLocked()
}

// checkDrainedLocked closes drained once the pool is closed and no lease is
// outstanding.
func (p *Pool[C]) checkDrainedLocked() {
	if p.closed && !p.isDrained && p.count[StateActive] == 0 {
		p.isDrained = true
		close(p.drained)
	}
}
