package proxy

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/pool"
	"github.com/motorpool/motorpool/scale"
)

// scaleWindow is how many one-second rounds the scaling rules look back over,
// so that one slow second does not make a pool flap.
const scaleWindow = 10

// maxScalingEvents is how many scaling decisions ScalingEvents keeps.
const maxScalingEvents = 100

// ScalingEvent is a change scaling made to a pool's size, with its reason.
type ScalingEvent struct {
	Time time.Time `json:"time"`
	Pool string    `json:"pool"`
	// Bound is the size that changed: "max", the pool's maximum (moved by a
	// scaling rule, or raised to the forecast), or "min", its minimum (moved
	// by the forecast: the connections kept open ahead of demand).
	Bound  string `json:"bound"`
	From   int    `json:"from"`
	To     int    `json:"to"`
	Reason string `json:"reason"`
}

// scaler is the proxy's scaling state, driven by Scale once a second.
type scaler struct {
	mu     sync.Mutex // protects the fields below
	last   time.Time  // the latest round's time
	pools  map[string]*poolScaling
	events []ScalingEvent // the latest maxScalingEvents, oldest first
	// counts are every decision, by pool name, for metrics: events drops old
	// ones. A name's counts go with the last pool of that name (forgetCounts).
	counts map[string]ScalingCounts
}

// ScalingCounts counts one pool's scaling decisions (ScalingEvent) by the bound
// they moved and which way: up when To is above From.
type ScalingCounts struct {
	MaxUp, MaxDown, MinUp, MinDown uint64
}

// poolScaling is the scaling state of one pool, by pool name: it survives a
// reload that rebuilds the pool under the same name, and is forgotten at the
// first round no pool of the configuration in force has the name.
type poolScaling struct {
	core    *pool.Pool[Backend] // the pool the samples are of
	samples []scale.Sample      // the latest scaleWindow+1 rounds, oldest first
	rules   *scale.Rules
	built   []config.ScalingRule // what rules was built from
	fc      scale.Forecaster
	max     int  // the maximum set: connection_limit, or the rules' or forecast's
	min     int  // the minimum set: min_connections, or the forecast's
	raised  bool // min is the forecast's, above min_connections
}

// ScalingEvents returns the latest scaling decisions (at most 100), oldest
// first.
func (p *Proxy) ScalingEvents() []ScalingEvent {
	s := &p.scaling
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// ScalingCounts returns, by pool name, how many scaling decisions moved each
// pool's bounds: all of them, unlike ScalingEvents. A pool with no decision
// has no entry. A pool rebuilt by a reload under the same name keeps its
// counts; a name no pool of the configuration in force has loses them at the
// next round, so a pool added again later counts from 0.
func (p *Proxy) ScalingCounts() map[string]ScalingCounts {
	s := &p.scaling
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Scale runs one round of pool scaling as of now; the proxy runs one every
// second by itself. Each pool of the configuration in force is sampled; with
// the round's metrics over the last scaleWindow rounds, the configuration's
// scaling rules may move the pool's maximum between max(min_connections, 1)
// and connection_limit (where it starts). With predictive scaling on, the
// forecast raises its minimum to the peak demand predicted for the coming hour,
// within those bounds (and its maximum, if the rules had shrunk it below), and
// the rules do not shrink it below that meanwhile.
// With no rule and predictive scaling off, pools keep their configured sizes
// (and get them back if a reload turned scaling off).
//
// A round whose now is before the latest round's is skipped, so that a test
// driving time ahead of the clock is not disturbed by the proxy's own rounds.
func (p *Proxy) Scale(now time.Time) {
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if p.draining.Load() {
		return
	}
	s := &p.scaling
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.last) {
		return
	}
	s.last = now
	cfg := p.reg.Load().cfg
	pools := p.reg.Load().all()
	s.forgetCounts(pools)
	if len(cfg.Scaling.Rules) == 0 && !cfg.Scaling.Predictive.Enabled {
		p.unscale(pools)
		return
	}
	if s.pools == nil {
		s.pools = make(map[string]*poolScaling)
	}
	seen := make(map[string]bool, len(pools))
	for _, pl := range pools {
		seen[pl.Name] = true
		if !pl.cold.Load() { // warmUpLocked gives it its sizes first
			p.scalePool(now, cfg.Scaling, pl)
		}
	}
	for name := range s.pools {
		if !seen[name] {
			delete(s.pools, name)
		}
	}
}

// unscale gives the pools that scaling changed their configured sizes back, and
// forgets their scaling state. The caller holds scaling.mu.
func (p *Proxy) unscale(pools []*Pool) {
	s := &p.scaling
	if len(s.pools) == 0 {
		return
	}
	for _, pl := range pools {
		ps := s.pools[pl.Name]
		if ps == nil || ps.core != pl.core || pl.cold.Load() {
			continue
		}
		set, st := pl.Settings(), pl.core.Stats()
		if st.MinSize != set.MinConnections || st.MaxSize != set.ConnectionLimit {
			pl.core.Resize(set.MinConnections, set.ConnectionLimit)
			p.log.Info("pool scaling off; configured size restored", "pool", pl.Name,
				"min", set.MinConnections, "max", set.ConnectionLimit)
		}
	}
	s.pools = nil
}

// scalePool runs one round for pl. The caller holds scaling.mu.
func (p *Proxy) scalePool(now time.Time, cfg config.Scaling, pl *Pool) {
	s := &p.scaling
	set := pl.Settings()
	floor := max(set.MinConnections, 1)
	ps := s.pools[pl.Name]
	if ps == nil {
		ps = &poolScaling{max: set.ConnectionLimit, min: set.MinConnections}
		s.pools[pl.Name] = ps
	}
	if ps.core != pl.core {
		ps.core, ps.samples = pl.core, nil
	}
	if ps.rules == nil || !slices.Equal(ps.built, cfg.Rules) {
		ps.rules, ps.built = scale.NewRules(scaleRules(cfg.Rules)...), cfg.Rules
	}
	// A reload may have moved the bounds.
	ps.max = min(max(ps.max, floor), set.ConnectionLimit)

	st := pl.core.Stats()
	if st.Max == 0 { // held at a limit of 0: paused, or left nothing by its budget
		ps.samples = ps.samples[:0]
		p.applySize(pl, ps, st)
		return
	}
	ps.samples = append(ps.samples, sampleOf(st))
	if n := len(ps.samples); n > scaleWindow+1 {
		ps.samples = append(ps.samples[:0], ps.samples[n-scaleWindow-1:]...)
	}
	n := len(ps.samples)
	// The forecast's floor: the connections to have open for the coming hour.
	fcFloor, fcWhy := set.MinConnections, ""
	if cfg.Predictive.Enabled {
		if n >= 2 {
			ps.fc.Observe(now, scale.Between(ps.samples[n-2], ps.samples[n-1]).Demand)
		}
		fcFloor, fcWhy = ps.fc.Floor(now, set.MinConnections, set.ConnectionLimit)
		if fcFloor > ps.max { // the rules shrank the pool below the coming peak
			p.record(now, pl.Name, "max", ps.max, fcFloor, fcWhy)
			ps.max = fcFloor
		}
	}
	if n == scaleWindow+1 {
		// Shrinking stops at the forecast.
		b := scale.Bounds{Floor: max(floor, fcFloor), Ceiling: set.ConnectionLimit}
		if st.Limit >= 0 {
			// Under a budget's cap, growing the maximum past it changes nothing.
			b.Ceiling = min(b.Ceiling, max(st.Limit, ps.max))
		}
		m := scale.Between(ps.samples[0], ps.samples[n-1])
		if d, ok := ps.rules.Decide(now, m, ps.max, b); ok {
			p.record(now, pl.Name, "max", d.From, d.To, d.Reason)
			ps.max = d.To
			// The next rule sees a whole window at the new size.
			ps.samples = append(ps.samples[:0], ps.samples[n-1])
		}
	}
	minSize := min(fcFloor, ps.max)
	raised := minSize > set.MinConnections
	if minSize != ps.min && (raised || ps.raised) {
		why := fcWhy
		switch {
		case !cfg.Predictive.Enabled:
			why = "predictive scaling turned off"
		case !raised:
			why = "no peak above min_connections predicted for the coming hour"
		}
		p.record(now, pl.Name, "min", ps.min, minSize, why)
	}
	ps.min, ps.raised = minSize, raised
	p.applySize(pl, ps, st)
}

// applySize gives pl the sizes of ps if its core has others: a round's
// decision, or sizes a reload or a RESUME put back since.
func (p *Proxy) applySize(pl *Pool, ps *poolScaling, st pool.Stats) {
	if st.MinSize == ps.min && st.MaxSize == ps.max {
		return
	}
	if err := pl.core.Resize(ps.min, ps.max); err != nil && err != pool.ErrClosed {
		p.log.Warn("cannot resize pool", "pool", pl.Name, "min", ps.min, "max", ps.max, "err", err)
	}
}

// record logs a scaling decision, keeps it for ScalingEvents and counts it for
// ScalingCounts. The caller holds scaling.mu.
func (p *Proxy) record(now time.Time, name, bound string, from, to int, reason string) {
	p.log.Info("pool scaled", "pool", name, "bound", bound, "from", from, "to", to, "reason", reason)
	s := &p.scaling
	if len(s.events) == maxScalingEvents {
		s.events = append(s.events[:0], s.events[1:]...)
	}
	s.events = append(s.events, ScalingEvent{Time: now, Pool: name, Bound: bound, From: from, To: to, Reason: reason})
	if s.counts == nil {
		s.counts = make(map[string]ScalingCounts)
	}
	c := s.counts[name]
	switch {
	case bound == "max" && to > from:
		c.MaxUp++
	case bound == "max":
		c.MaxDown++
	case to > from:
		c.MinUp++
	default:
		c.MinDown++
	}
	s.counts[name] = c
}

// forgetCounts drops the decision counts of the names no pool of pools has.
// The caller holds scaling.mu.
func (s *scaler) forgetCounts(pools []*Pool) {
	if len(s.counts) == 0 {
		return
	}
	names := make(map[string]bool, len(pools))
	for _, pl := range pools {
		names[pl.Name] = true
	}
	for name := range s.counts {
		if !names[name] {
			delete(s.counts, name)
		}
	}
}

// sampleOf returns the scaling sample of a pool's statistics.
func sampleOf(st pool.Stats) scale.Sample {
	return scale.Sample{
		At: st.At, ActiveTime: st.ActiveTime, WaitTime: st.WaitTime,
		Acquired: st.Acquired, Failed: st.AcquireTimeouts + st.AcquireUnreachable, Max: st.Max,
	}
}

// scaleRules maps the configuration's scaling rules to the scale package's,
// naming each by its place in the configuration.
func scaleRules(rules []config.ScalingRule) []scale.Rule {
	out := make([]scale.Rule, len(rules))
	for i, r := range rules {
		out[i] = scale.Rule{
			Name: fmt.Sprintf("scaling.rules[%d]", i), Trigger: scale.Trigger(r.Trigger),
			Threshold: r.Threshold, Below: r.Below, Action: scale.Action(r.Action),
			Step: r.Step, Target: r.Target, Cooldown: r.Cooldown,
		}
	}
	return out
}
