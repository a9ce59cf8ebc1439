package proxy

import "time"

// reapPeriod is how often the proxy looks for per-user pools to remove, scales its
// pools and shares budgets.
const reapPeriod = time.Second

// reapLoop removes unused per-user pools, runs a round of pool scaling and shares
// budgets (Share, after Scale, so that it reads the maximums scaling set) every
// reapPeriod until the proxy closes.
func (p *Proxy) reapLoop() {
	defer p.reaper.Done()
	tick := time.NewTicker(reapPeriod)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case now := <-tick.C:
			p.reap(now)
			p.Scale(now)
			p.Share(now)
		}
	}
}

// reap removes from the registry in force the per-user pools that are unused as of
// now (see Pool.unused) and closes them. A client that logs in as the same user
// afterwards gets a new pool.
func (p *Proxy) reap(now time.Time) {
	p.regMu.Lock()
	defer p.regMu.Unlock()
	for _, pl := range p.reg.Load().removeUnused(now) {
		p.closePool(pl)
	}
}

// removeUnused removes r's unused per-user pools and returns them. Sessions are
// counted under r.mu (poolFor), so a pool without one here gets none afterwards.
// The caller holds Proxy.regMu: r is in force, not being copied by a reload.
func (r *registry) removeUnused(now time.Time) []*Pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Pool
	for key, pl := range r.pools {
		if pl.perUser && pl.sessions.Load() == 0 && pl.unused(now) {
			delete(r.pools, key)
			out = append(out, pl)
		}
	}
	return out
}

// unused reports whether pl, a per-user pool with no session, is to be removed:
// it has had no session for its idle_timeout (never when that is 0), or it has no
// server connection and its last dial failed (a user PostgreSQL refuses, whose
// pool would otherwise retry its min_connections forever). Either way no server
// connection may be leased (one still draining a query a client cancelled).
func (pl *Pool) unused(now time.Time) bool {
	st := pl.core.Stats()
	if st.Active > 0 {
		return false
	}
	if st.LastDialError != nil && st.Idle+st.Validating == 0 {
		return true
	}
	idle := pl.Settings().IdleTimeout
	return idle > 0 && now.Sub(time.Unix(0, pl.idleSince.Load())) >= idle
}
