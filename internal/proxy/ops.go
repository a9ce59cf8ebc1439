package proxy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ops is the state of the admin operations PAUSE, RESUME and KILL.
type ops struct {
	n atomic.Int32 // pauses in force; 0 keeps Session.Acquire's check to one load

	mu     sync.Mutex // protects the fields below
	all    bool       // every database is paused
	dbs    map[string]bool
	resume chan struct{} // closed (and replaced) when a pause is lifted
}

// paused reports whether database db is paused, and a channel closed when any
// pause is lifted.
func (o *ops) paused(db string) (bool, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.resume == nil {
		o.resume = make(chan struct{})
	}
	return o.all || o.dbs[db], o.resume
}

func (o *ops) count() {
	n := len(o.dbs)
	if o.all {
		n++
	}
	o.n.Store(int32(n))
}

// Pause stops database db (every database when db is "") from starting new
// transactions: clients asking for a server connection wait until Resume.
// Like PgBouncer's PAUSE it then waits until the database's server
// connections are all released, or ctx ends (the pause stays in force).
// Pausing an unknown database is an error.
func (p *Proxy) Pause(ctx context.Context, db string) error {
	if db != "" && p.Config().Database(db) == nil {
		return fmt.Errorf("no such database: %s", db)
	}
	o := &p.ops
	o.mu.Lock()
	if db == "" {
		o.all = true
	} else {
		if o.dbs == nil {
			o.dbs = make(map[string]bool)
		}
		o.dbs[db] = true
	}
	o.count()
	o.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for p.leased(db) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// leased counts the leased server connections of database db ("" for all).
func (p *Proxy) leased(db string) int {
	n := 0
	for _, pl := range p.Pools() {
		if db == "" || pl.Database == db {
			n += pl.core.Stats().Active
		}
	}
	return n
}

// Resume lifts a pause of database db, or every pause when db is "". It is an
// error to resume a database that is not paused.
func (p *Proxy) Resume(db string) error {
	o := &p.ops
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case db == "":
		o.all, o.dbs = false, nil
	case o.dbs[db]:
		delete(o.dbs, db)
	default:
		return fmt.Errorf("database %s is not paused", db)
	}
	o.count()
	if o.resume != nil {
		close(o.resume)
		o.resume = nil
	}
	return nil
}

// Paused returns the paused databases, sorted; "*" stands for all.
func (p *Proxy) Paused() []string {
	o := &p.ops
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	if o.all {
		out = append(out, "*")
	}
	for db := range o.dbs {
		out = append(out, db)
	}
	slices.Sort(out)
	return out
}

// IsPaused reports whether database db is paused, by its own pause or by a
// pause of every database.
func (p *Proxy) IsPaused(db string) bool {
	paused, _ := p.ops.paused(db)
	return paused
}

// Kill drops database db's clients and idle server connections at once and
// leaves it paused, as PgBouncer's KILL does: new transactions wait until
// Resume. Server connections leased by the killed clients are closed as
// their sessions end.
func (p *Proxy) Kill(db string) (clients int, err error) {
	if p.Config().Database(db) == nil {
		return 0, fmt.Errorf("no such database: %s", db)
	}
	o := &p.ops
	o.mu.Lock()
	if o.dbs == nil {
		o.dbs = make(map[string]bool)
	}
	o.dbs[db] = true
	o.count()
	o.mu.Unlock()
	p.mu.Lock()
	for _, c := range p.clients {
		c.mu.Lock()
		match := c.database == db
		c.mu.Unlock()
		if match {
			c.Conn.Close()
			clients++
		}
	}
	p.mu.Unlock()
	for _, pl := range p.Pools() {
		if pl.Database == db {
			// A limit of 0 closes every idle connection; the previous limit
			// (a budget's, or none) comes back at once.
			prev := pl.core.Stats().Limit
			pl.core.SetLimit(0)
			pl.core.SetLimit(prev)
		}
	}
	return clients, nil
}

// waitResumed holds a session's acquire while its database is paused, until
// Resume or ctx ends.
func (s *Session) waitResumed(ctx context.Context) error {
	o := &s.client.proxy.ops
	if o.n.Load() == 0 {
		return nil
	}
	for {
		paused, resumed := o.paused(s.pool.Database)
		if !paused {
			return nil
		}
		select {
		case <-resumed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Draining reports whether the proxy is shutting down (Shutdown or Close
// began): it accepts no new clients.
func (p *Proxy) Draining() bool { return p.draining.Load() }
