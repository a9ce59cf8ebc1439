package pool

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// State is where a connection is in its life.
type State uint8

const (
	// StateCreating: being dialed, or waiting out a backoff to be dialed again.
	StateCreating State = iota
	// StateIdle: open and waiting in the pool.
	StateIdle
	// StateActive: leased.
	StateActive
	// StateValidating: being checked by Validate before an acquirer gets it,
	// or cleaned by Reset after a lease ended.
	StateValidating
	// StateDestroying: Config.Close is running on it.
	StateDestroying

	numStates = 5
)

// String returns the state's lowercase name: "creating", "idle", "active",
// "validating" or "destroying".
func (s State) String() string {
	switch s {
	case StateCreating:
		return "creating"
	case StateIdle:
		return "idle"
	case StateActive:
		return "active"
	case StateValidating:
		return "validating"
	case StateDestroying:
		return "destroying"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// entry is the pool's record of one connection, from the start of its dial
// until its Close returns.
type entry[C any] struct {
	pool *Pool[C]
	id   uint64 // immutable
	conn C      // set once the dial succeeds, before the entry is shared

	// gen counts the leases that ended on this entry. A Lease carries the gen
	// it was issued with and is current while the two match. Written under
	// pool.mu, only by the goroutine ending the lease; read under pool.mu by
	// Release, Destroy and SetHolder, so their misuse is always caught, and
	// without it by Lease.Conn, which every write happens before unless the
	// program already misuses a lease across goroutines (the race detector
	// then reports it).
	gen uint64

	// The fields below are protected by pool.mu. Times are clock readings.
	state     State
	slot      int    // index in pool.conns
	created   int64  // dial start while creating, then dial end
	expires   int64  // MaxLifetime (with jitter) ends; 0: never
	idleSince int64  // last lease ended (or connection opened)
	checked   int64  // last successful validation
	leased    int64  // current lease began
	uses      uint64 // leases so far
	holder    string // label of the current lease
	leaked    bool   // the current lease was reported as a leak
	resetting bool   // validating because Reset runs
	forced    bool   // closed by Close while leased; its lease may still end
}

// ConnInfo describes one connection at the moment Conns was called.
type ConnInfo struct {
	ID      uint64    // unique in the pool, increasing from 1; Lease.ID returns it too
	State   State     // see State
	Created time.Time // when the dial succeeded; while creating, when it began
	Age     time.Duration
	Uses    uint64 // leases so far, including the current one
	// Holder is the label of the current lease (AcquireAs or Lease.SetHolder),
	// set only while active.
	Holder string
	// Held is how long the current lease has lasted, set only while active.
	Held time.Duration
	// Idle is how long the connection has been idle, set only while idle.
	Idle time.Duration
	// Leaked is set while active when the lease has been held longer than
	// LeakThreshold.
	Leaked bool
}

// Conns lists every connection the pool counts, in every state, ordered by ID.
// It is safe to call at any time, including after Close.
func (p *Pool[C]) Conns() []ConnInfo { return p.AppendConns(nil) }

// AppendConns is Conns appending to dst, so that a caller listing
// periodically can reuse one slice.
func (p *Pool[C]) AppendConns(dst []ConnInfo) []ConnInfo {
	now := p.clock.read()
	start := len(dst)
	p.mu.Lock()
	for _, e := range p.conns {
		dst = append(dst, p.infoLocked(e, now))
	}
	p.unlock()
	slices.SortFunc(dst[start:], func(a, b ConnInfo) int { return cmp.Compare(a.ID, b.ID) })
	return dst
}

// ConnDetail is a connection with its ConnInfo, as AppendConnDetails lists
// them.
type ConnDetail[C any] struct {
	ConnInfo
	// Conn is the connection itself; the zero C while it is being dialed
	// (StateCreating). It may be leased to someone else: use only what is
	// safe alongside its holder, such as what it learned at login.
	Conn C
}

// AppendConnDetails is AppendConns with each connection alongside its
// ConnInfo, so that a listing can show what the connections know about
// themselves: one pass under one lock, where calling Conn for each would
// scan the pool once per connection.
func (p *Pool[C]) AppendConnDetails(dst []ConnDetail[C]) []ConnDetail[C] {
	now := p.clock.read()
	start := len(dst)
	p.mu.Lock()
	for _, e := range p.conns {
		d := ConnDetail[C]{ConnInfo: p.infoLocked(e, now)}
		if e.state != StateCreating { // the dial sets conn without the lock
			d.Conn = e.conn
		}
		dst = append(dst, d)
	}
	p.unlock()
	slices.SortFunc(dst[start:], func(a, b ConnDetail[C]) int { return cmp.Compare(a.ID, b.ID) })
	return dst
}

// Conn returns the connection with the given ID (ConnInfo.ID), so that a
// listing can show what the connection knows about itself. ok is false while
// the connection is being dialed and once it is gone. The connection may be
// leased to someone else meanwhile: use only what is safe alongside its
// holder, such as what it learned at login. It scans the pool: to list
// connections, use AppendConnDetails.
func (p *Pool[C]) Conn(id uint64) (conn C, ok bool) {
	p.mu.Lock()
	defer p.unlock()
	for _, e := range p.conns {
		if e.id == id && e.state != StateCreating {
			return e.conn, true
		}
	}
	return conn, false
}

func (p *Pool[C]) infoLocked(e *entry[C], now int64) ConnInfo {
	ci := ConnInfo{
		ID:      e.id,
		State:   e.state,
		Created: p.clock.time(e.created),
		Age:     since(now, e.created),
		Uses:    e.uses,
	}
	switch e.state {
	case StateActive:
		ci.Holder, ci.Held, ci.Leaked = e.holder, since(now, e.leased), e.leaked
	case StateIdle:
		ci.Idle = since(now, e.idleSince)
	}
	return ci
}

// since returns now-t, never negative: hot-path readings may trail exact ones
// by up to clockResolution.
func since(now, t int64) time.Duration { return time.Duration(max(now-t, 0)) }
