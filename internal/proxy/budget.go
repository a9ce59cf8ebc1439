package proxy

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/motorpool/motorpool/budget"
	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/pool"
)

// demandHalfLife is how fast a pool's demand, once it falls, stops counting
// toward its share of a budget (budget.Demand): a pool idle for a few seconds
// lends its share out; one between two bursts keeps it.
const demandHalfLife = 5 * time.Second

// sharing is the state of budget sharing. Protected by ops.holdMu, which
// serializes every SetLimit the proxy makes: the budgets' and the pauses'.
type sharing struct {
	pools   map[*pool.Pool[Backend]]*demandState // pools a budget caps
	budgets []Budget                             // as last shared, by database name
}

// demandState is what sharing remembers of one pool between two passes.
type demandState struct {
	db     string // the pool's database
	demand budget.Demand
	busy   time.Duration // Stats.ActiveTime + WaitTime at the last pass
	at     time.Time     // of the last pass
}

// Budget is one database's budget as it was last shared (Proxy.Budgets).
type Budget struct {
	Database string
	Budget   int
	// InUse is the server connections the database's pools held, in every
	// state: never above Budget once limits have caught up with a reload.
	InUse int
	Pools []BudgetPool // by name
	At    time.Time    // when it was shared
}

// BudgetPool is one pool's part of a budget.
type BudgetPool struct {
	Pool     string // as listed (Pool.Name; a retired pool under its retired name)
	Service  string // "" for a database's own pool (and its per-user pools)
	Priority config.Priority
	Weight   int // budget.WeightLow, WeightMedium or WeightHigh
	Min      int // guaranteed minimum: min_connections (0 for a retired pool)
	Max      int // the pool's own maximum: connection_limit, or as a scaler set it
	// Demand is the smoothed number of connections the pool needs: leased
	// plus waited for (budget.Demand).
	Demand float64
	Share  int  // what it is entitled to now (budget.Grant)
	Limit  int  // the cap in force: its share, or less while others give back
	Held   int  // server connections it holds
	Paused bool // held at 0 by PAUSE or KILL, whatever its share
}

// weight returns the budget weight of a priority.
func weight(p config.Priority) int {
	switch p {
	case config.PriorityHigh:
		return budget.WeightHigh
	case config.PriorityLow:
		return budget.WeightLow
	}
	return budget.WeightMedium
}

// Share shares each database's budget between its pools as of now, and
// removes the caps of pools whose database no longer has one. The proxy does
// it every second (reapLoop), when a pool is built (warmUpLocked), at a
// reload and when a pause starts or ends; a caller may do it to apply a change
// at once. now
// dates the demand observed: a later now lets a fallen demand decay further.
func (p *Proxy) Share(now time.Time) {
	p.ops.holdMu.Lock()
	defer p.ops.holdMu.Unlock()
	p.shareLocked(now)
}

// Budgets returns each database's budget as last shared, by database name.
func (p *Proxy) Budgets() []Budget {
	p.ops.holdMu.Lock()
	defer p.ops.holdMu.Unlock()
	out := slices.Clone(p.sharing.budgets)
	for i := range out {
		out[i].Pools = slices.Clone(out[i].Pools)
	}
	return out
}

// shareLocked is Share. The caller holds ops.holdMu.
func (p *Proxy) shareLocked(now time.Time) {
	s := &p.sharing
	if s.pools == nil {
		s.pools = make(map[*pool.Pool[Backend]]*demandState)
	}
	cfg := p.Config()
	byDB := make(map[string][]*Pool)
	for _, pl := range p.Pools() {
		if db := cfg.Database(pl.Database); db != nil && db.Budget > 0 {
			byDB[pl.Database] = append(byDB[pl.Database], pl)
		}
	}
	capped := make(map[*pool.Pool[Backend]]bool)
	s.budgets = s.budgets[:0]
	for _, name := range slices.Sorted(maps.Keys(byDB)) {
		pls := byDB[name]
		slices.SortFunc(pls, func(a, b *Pool) int { return strings.Compare(a.Name, b.Name) })
		for _, pl := range pls {
			capped[pl.core] = true
		}
		s.budgets = append(s.budgets, p.shareDatabase(cfg.Database(name).Budget, pls, now))
	}
	for core, ds := range s.pools {
		if capped[core] {
			continue
		}
		delete(s.pools, core)
		if db := cfg.Database(ds.db); db != nil && db.Budget > 0 {
			continue // the pool is gone, or closing: its cap stays
		}
		// Its database lost its budget (a reload).
		if _, held := p.ops.held[core]; held {
			p.ops.held[core] = -1 // RESUME gives it no cap back
		} else {
			core.SetLimit(-1)
		}
	}
}

// shareDatabase shares total between pls, the pools of one database, and
// returns how. Limits that go down are set first; then the held connections
// are counted again and limits go up only out of what is free (budget.Raise),
// so that the database never receives more than total connections, even from
// a pool that opened some between the two counts.
func (p *Proxy) shareDatabase(total int, pls []*Pool, now time.Time) Budget {
	s := &p.sharing
	claims := make([]budget.Claim, len(pls))
	paused := make([]bool, len(pls))
	for i, pl := range pls {
		st := pl.core.Stats()
		ds := s.pools[pl.core]
		if ds == nil {
			ds = &demandState{db: pl.Database, demand: budget.Demand{HalfLife: demandHalfLife}}
			s.pools[pl.core] = ds
		}
		set := pl.Settings()
		c := budget.Claim{
			Weight: weight(set.Priority), Min: set.MinConnections, Max: st.MaxSize,
			Demand: ds.observe(st, now), Held: st.Total,
		}
		if pl.Retired() {
			// It serves its last sessions: no minimum to keep, nothing to grow into.
			c.Min, c.Max = 0, min(c.Max, c.Demand)
		}
		claims[i] = c
		_, paused[i] = p.ops.held[pl.core]
		if paused[i] {
			p.ops.held[pl.core] = 0 // RESUME leaves it to the next share
		}
	}
	grants := budget.Allocate(total, claims)
	for i, pl := range pls {
		if paused[i] {
			continue
		}
		st := pl.core.Stats()
		switch {
		case st.Limit < 0: // new, or its database just got a budget
			pl.core.SetLimit(min(grants[i].Limit, st.Total))
		case grants[i].Limit < st.Limit:
			pl.core.SetLimit(grants[i].Limit)
		}
	}
	steps := make([]budget.Step, len(pls))
	b := Budget{Database: pls[0].Database, Budget: total, Pools: make([]BudgetPool, len(pls)), At: now}
	for i, pl := range pls {
		st := pl.core.Stats()
		steps[i] = budget.Step{Weight: claims[i].Weight, Held: st.Total, From: st.Limit, To: grants[i].Limit}
		if paused[i] {
			steps[i].To = st.Limit
		}
		b.InUse += st.Total
		b.Pools[i] = BudgetPool{
			Pool: pl.listed().Name, Service: pl.Service, Priority: pl.Settings().Priority,
			Weight: claims[i].Weight, Min: claims[i].Min, Max: st.MaxSize, Demand: s.pools[pl.core].demand.Value(),
			Share: grants[i].Share, Limit: st.Limit, Held: st.Total, Paused: paused[i],
		}
	}
	for i, limit := range budget.Raise(total, steps) {
		if limit > steps[i].From && !paused[i] {
			pls[i].core.SetLimit(limit)
			b.Pools[i].Limit = limit
		}
	}
	return b
}

// observe returns the pool's smoothed demand in connections, given its
// statistics now: the mean number of connections leased and acquirers waiting
// since the last pass (bursts between two passes count), or the number right
// now if higher.
func (ds *demandState) observe(st pool.Stats, now time.Time) int {
	seen := float64(st.Active + st.Waiting)
	busy := st.ActiveTime + st.WaitTime
	if d := now.Sub(ds.at); !ds.at.IsZero() && d > 0 {
		seen = max(seen, float64(busy-ds.busy)/float64(d))
	}
	if now.After(ds.at) {
		ds.busy, ds.at = busy, now
	}
	ds.demand.Observe(now, seen)
	return ds.demand.Conns()
}
