package proxy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// ops is the state of the admin operations PAUSE, RESUME, KILL, DISABLE and
// ENABLE.
type ops struct {
	n atomic.Int32 // pauses in force; 0 keeps Session.Acquire's check to one load

	mu       sync.Mutex // protects the fields below
	all      bool       // every database is paused
	dbs      map[string]bool
	disabled map[string]bool // databases refusing new clients
	resume   chan struct{}   // closed (and replaced) when a pause is lifted

	holdMu sync.Mutex                  // serializes syncHolds and budget sharing; protects held
	held   map[*pool.Pool[Backend]]int // pools held at limit 0 while paused, with their limit before

	closeMu sync.Mutex                     // protects closing
	closing map[*pool.Pool[Backend]]uint64 // per pool, the last connection ID Reconnect expired
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
// Like PgBouncer's PAUSE it closes the database's server connections, idle
// ones at once and the others as they are released, opens none until Resume
// (min_connections included), and waits until they are all closed, so that
// the database can then be restarted, renamed or dropped; or until ctx ends
// (the pause stays in force). Pausing an unknown database is an error.
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
	p.syncHolds()
	return waitFor(ctx, func() bool { return p.serverConns(db) == 0 })
}

// waitFor polls done every 20 ms until it reports true or ctx ends.
func waitFor(ctx context.Context, done func() bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// serverConns counts the server connections of database db ("" for all),
// those being dialed or closed included.
func (p *Proxy) serverConns(db string) int {
	n := 0
	for _, pl := range p.Pools() {
		if db == "" || pl.Database == db {
			n += pl.core.Stats().Total
		}
	}
	return n
}

// syncHolds makes each pool's limit follow its database's pause: a paused
// database's pools are held at a limit of 0, which closes their idle server
// connections, closes the others as they are released and opens none; the
// pools of a database no longer paused get their limit back (those under a
// budget get 0, then their share at once).
func (p *Proxy) syncHolds() {
	o := &p.ops
	o.holdMu.Lock()
	defer o.holdMu.Unlock()
	if o.held == nil {
		o.held = make(map[*pool.Pool[Backend]]int)
	}
	listed := make(map[*pool.Pool[Backend]]bool)
	for _, pl := range p.Pools() {
		core := pl.core
		listed[core] = true
		prev, held := o.held[core]
		switch paused := p.IsPaused(pl.Database); {
		case paused && !held:
			o.held[core] = core.Stats().Limit
			core.SetLimit(0)
		case !paused && held:
			core.SetLimit(prev)
			delete(o.held, core)
		}
	}
	// Pools closed since have nothing to give back.
	maps.DeleteFunc(o.held, func(core *pool.Pool[Backend], _ int) bool { return !listed[core] })
	p.shareLocked(time.Now()) // pools under a budget resume at 0: share them now
}

// Resume lifts a pause of database db, or every pause when db is "". As with
// PgBouncer's RESUME, it is an error to resume a database that is not paused,
// or every database when none is.
func (p *Proxy) Resume(db string) error {
	if err := p.resume(db); err != nil {
		return err
	}
	p.syncHolds()
	return nil
}

func (p *Proxy) resume(db string) error {
	o := &p.ops
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case db == "" && !o.all && len(o.dbs) == 0:
		return fmt.Errorf("no database is paused")
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
// their sessions end, and none is opened until Resume.
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
	p.syncHolds()
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

// Disable makes database db refuse new clients, as PgBouncer's DISABLE does:
// their login ends with ErrDatabaseDisabled until Enable. Clients already
// connected go on. Disabling an unknown database is an error.
func (p *Proxy) Disable(db string) error {
	if p.Config().Database(db) == nil {
		return fmt.Errorf("no such database: %s", db)
	}
	o := &p.ops
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.disabled == nil {
		o.disabled = make(map[string]bool)
	}
	o.disabled[db] = true
	return nil
}

// Enable lets database db take new clients again after Disable; enabling a
// database that is not disabled does nothing.
func (p *Proxy) Enable(db string) {
	o := &p.ops
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.disabled, db)
}

// IsDisabled reports whether database db refuses new clients (Disable).
func (p *Proxy) IsDisabled(db string) bool {
	o := &p.ops
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.disabled[db]
}

// Reconnect closes the server connections of database db (every database
// when db is ""), as PgBouncer's RECONNECT does after the database moved:
// idle ones at once, the others when released; new ones are opened as
// needed. It does not wait: WaitClose does. Reconnecting an unknown database
// is an error.
func (p *Proxy) Reconnect(db string) error {
	if db != "" && p.Config().Database(db) == nil {
		return fmt.Errorf("no such database: %s", db)
	}
	o := &p.ops
	o.closeMu.Lock()
	defer o.closeMu.Unlock()
	if o.closing == nil {
		o.closing = make(map[*pool.Pool[Backend]]uint64)
	}
	for _, pl := range p.Pools() {
		if db == "" || pl.Database == db {
			if last := pl.core.Expire(); last > 0 {
				o.closing[pl.core] = last
			}
		}
	}
	return nil
}

// WaitClose waits until the server connections Reconnect closes for
// database db (every database when db is "") are all closed, or ctx ends.
func (p *Proxy) WaitClose(ctx context.Context, db string) error {
	return waitFor(ctx, func() bool { return p.closing(db) == 0 })
}

// closing counts the server connections of database db ("" for all) that
// Reconnect expired and that are still open, forgetting pools that have none
// left.
func (p *Proxy) closing(db string) int {
	o := &p.ops
	o.closeMu.Lock()
	defer o.closeMu.Unlock()
	n := 0
	listed := make(map[*pool.Pool[Backend]]bool)
	for _, pl := range p.Pools() {
		listed[pl.core] = true
		last, ok := o.closing[pl.core]
		if !ok {
			continue
		}
		left := 0
		for _, c := range pl.core.Conns() {
			if c.ID <= last {
				left++
			}
		}
		if left == 0 {
			delete(o.closing, pl.core)
		}
		if db == "" || pl.Database == db {
			n += left
		}
	}
	maps.DeleteFunc(o.closing, func(core *pool.Pool[Backend], _ uint64) bool { return !listed[core] }) // closed since
	return n
}

// buildPool builds a pool for s. A pool of a paused database, or of one with a
// budget, is built cold (see poolSpec.cold): a pool dials its min_connections as
// soon as it is built, before syncHolds can hold it or Share can cap it, and a
// pause opens no server connection until RESUME, nor a budget beyond what is
// free. Once the pool is listed, warmUpLocked holds or caps it and gives it its
// minimum back.
func (p *Proxy) buildPool(s poolSpec) (*Pool, error) {
	s.cold = p.IsPaused(s.database) || s.budgeted
	return newPool(p.proto, s, p.poolEvent)
}

// warmUpLocked gives the cold pools among pls, now listed (Pools), their
// min_connections, once syncHolds has held those whose database is still paused
// (they dial when it is resumed) and capped those under a budget. The caller
// holds regMu, so that no reload changes their settings meanwhile.
func (p *Proxy) warmUpLocked(pls ...*Pool) {
	var cold []*Pool
	for _, pl := range pls {
		if pl.cold.Swap(false) {
			cold = append(cold, pl)
		}
	}
	if len(cold) == 0 {
		return
	}
	p.syncHolds()
	for _, pl := range cold {
		pl.core.Reconfigure(coreConfig(pl.Settings()).Settings())
	}
}
