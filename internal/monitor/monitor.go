package monitor

import (
	"errors"
	"slices"
	"sync"
	"time"
)

// Options configure a Monitor.
type Options struct {
	// Thresholds are the rules' numbers. The zero value means
	// DefaultThresholds.
	Thresholds *Thresholds
	// Capacity is how many seconds of history each pool keeps. Zero means
	// 3600: an hour. The last five minutes (or Window, if longer) are kept
	// second by second, the rest minute by minute.
	Capacity int
	// Window is the window health, alerts, recommendations and the diagnosis
	// are judged on. Zero means one minute.
	Window time.Duration
}

// Monitor keeps the recent history of every pool and judges it. It is safe
// for concurrent use.
type Monitor struct {
	t        Thresholds
	capacity int
	window   time.Duration

	mu    sync.Mutex // protects pools and every poolState
	pools map[string]*poolState
}

// poolState is one pool's history and the last judgment of it.
type poolState struct {
	info     PoolInfo
	history  history
	last     Reading
	lastTime time.Time
	seen     bool
	alerts   AlertBook
	judged   judgment
}

// judgment is the outcome of the rules at the last sample.
type judgment struct {
	status          Status
	reason          string
	recommendations []Recommendation
	diagnosis       []Finding
}

// PoolInfo identifies a pool in reports.
type PoolInfo struct {
	Name     string `json:"name"`
	Database string `json:"database"`
	Service  string `json:"service,omitempty"`
	User     string `json:"user"`
	// Retired marks a pool a reload replaced, serving its last sessions until they
	// end: its load is its successor's to act on, so it raises no alerts.
	Retired bool `json:"retired,omitempty"`
}

// New returns a monitor.
func New(o Options) *Monitor {
	m := &Monitor{t: DefaultThresholds(), capacity: o.Capacity, window: o.Window, pools: make(map[string]*poolState)}
	if o.Thresholds != nil {
		m.t = *o.Thresholds
	}
	if m.capacity <= 0 {
		m.capacity = 3600
	}
	if m.window <= 0 {
		m.window = Minute
	}
	return m
}

// Thresholds returns the thresholds in force.
func (m *Monitor) Thresholds() Thresholds { return m.t }

// Event is an alert that fired or resolved, reported by Observe.
type Event struct {
	Pool string
	Alert
}

// Observe records a reading of pool info.Name taken at now, evaluates the
// rules and returns the alerts that fired or resolved. Readings of one pool
// must come in time order; one a second is what the windows assume.
func (m *Monitor) Observe(info PoolInfo, r Reading, now time.Time) (fired, resolved []Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.pools[info.Name]
	if ps == nil {
		ps = &poolState{history: newHistory(m.capacity, m.window)}
		m.pools[info.Name] = ps
	}
	ps.info = info
	var prev *Reading
	if ps.seen {
		prev = &ps.last
	}
	ps.history.push(newSample(prev, ps.lastTime, &r, now))
	ps.last, ps.lastTime, ps.seen = r, now, true

	w := aggregate(&ps.history, now, m.window)
	status, reason := judge(ps.judged.status, w, m.t)
	var conds []Condition
	if !info.Retired {
		conds = conditions(w, m.t, &ps.alerts)
	}
	f, rs := ps.alerts.Update(conds, now)
	ps.judged = judgment{
		status: status, reason: reason,
		recommendations: Recommend(w, r.Settings, lifetimeOf(&r), m.t),
	}
	// The diagnosis's baseline reads the whole hour: only when there is
	// something to diagnose, not every second of every idle pool.
	if w.Samples > 0 && clientsWait(w, m.t) {
		ps.judged.diagnosis = Diagnose(w, m.symptoms(ps), m.t)
	}
	return events(info.Name, f), events(info.Name, rs)
}

func events(pool string, as []Alert) []Event {
	var out []Event
	for _, a := range as {
		out = append(out, Event{Pool: pool, Alert: a})
	}
	return out
}

func (m *Monitor) symptoms(ps *poolState) Symptoms {
	sy := Symptoms{
		Baseline: aggregate(&ps.history, ps.lastTime, Hour),
		Settings: ps.last.Settings,
		Conns:    ps.last.Conns,
	}
	if err := ps.last.Stats.LastDialError; err != nil {
		sy.LastDialError = err.Error()
		var coded interface{ SQLState() string }
		if errors.As(err, &coded) {
			sy.LastDialCode = coded.SQLState()
		}
	}
	return sy
}

// lifetimeOf is how long a pool's server connections live: the larger of the
// mean age of the open ones and the mean lifetime of those closed.
func lifetimeOf(r *Reading) time.Duration { return max(r.Conns.MeanAge, r.Stats.MeanLifetime) }

// Retain forgets the pools whose names are not listed (removed by a reload).
func (m *Monitor) Retain(names []string) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.pools {
		if !keep[name] {
			delete(m.pools, name)
		}
	}
}

// Status returns a pool's status and firing alerts as of its last sample, and
// false if the pool is not monitored. Unlike Report it aggregates no window:
// /metrics asks it of every pool at every scrape.
func (m *Monitor) Status(name string) (Status, []Alert, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.pools[name]
	if ps == nil {
		return Unknown, nil, false
	}
	return ps.judged.status, ps.alerts.Firing(), true
}

// Names returns the monitored pools' names, sorted.
func (m *Monitor) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.pools))
	for n := range m.pools {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
