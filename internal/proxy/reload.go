package proxy

import (
	"crypto/tls"
	"fmt"
	"maps"
	"reflect"
	"time"

	"github.com/motorpool/motorpool/internal/config"
)

// Reload applies a new configuration without dropping clients. Pools whose settings
// are unchanged carry over. A pool whose changes are all ones a pool takes in place
// (config.ApplyLive: sizes, timeouts, max_connecting, prepared_statements, ...) is
// reconfigured in place, keeping its server connections and its sessions. Any other
// change (config.ApplyNewPool: server address, credentials, TLS, session settings,
// pool mode) builds a new pool for new sessions while existing sessions finish on the
// old one, which closes after its last session. Routing, authentication and
// max_client_connections follow the new configuration at once. The listen addresses
// (listen, admin.listen) do not change until restart: Config keeps returning those
// in use, so that the next reload is compared with them.
//
// New pools are built before any pool is changed: if one cannot be built, Reload
// closes those it built and returns the error, and the running configuration keeps
// serving unchanged.
//
// Once Shutdown or Close has begun, Reload returns ErrShuttingDown and changes
// nothing: a configuration applied then would only open server connections that no
// client can use, and that Close might not see.
func (p *Proxy) Reload(cfg *config.Config) error {
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if p.draining.Load() {
		return ErrShuttingDown
	}
	old := p.reg.Load()
	asked := cfg.Listen
	cfg = withListen(cfg, old.cfg)
	reg := &registry{cfg: cfg, pools: make(map[string]*Pool)}
	var changed []poolChange
	carried := make(map[*Pool]bool) // the old pools the new registry takes over
	old.mu.Lock()
	for key, pl := range old.pools {
		spec, ok := specForKey(reg, key)
		if !ok {
			continue
		}
		switch {
		case samePool(pl, spec):
			reg.pools[key] = pl
			carried[pl] = true
		case onlyLiveChanges(pl, spec):
			reg.pools[key] = pl
			carried[pl] = true
			changed = append(changed, poolChange{key, pl, spec.settings})
		}
	}
	old.mu.Unlock()
	if err := p.warm(reg); err != nil {
		for _, pl := range reg.all() {
			if !carried[pl] {
				p.closePool(pl)
			}
		}
		return err
	}
	for _, c := range changed {
		if err := c.pool.core.Reconfigure(coreConfig(c.settings).Settings()); err != nil {
			// The settings passed config validation, so only a pool closed
			// meanwhile gets here: the next client builds a new one.
			delete(reg.pools, c.key)
			delete(carried, c.pool)
			continue
		}
		c.pool.settings.Store(&c.settings)
	}
	p.reg.Store(reg)
	for _, pl := range old.seal(carried) {
		p.retire(pl)
	}
	// Once the pools retired are listed as such: syncHolds forgets the holds of
	// pools it does not list.
	p.warmUpLocked(reg.all()...)
	p.Share(time.Now()) // a budget added, changed or removed
	if asked != cfg.Listen {
		p.log.Warn("listen address changed; restart motorpool to apply it", "old", cfg.Listen, "new", asked)
	}
	return nil
}

// withListen returns cfg with the listen addresses of cur, the configuration in
// force: a reload does not move the listeners, and cfg is not changed.
func withListen(cfg, cur *config.Config) *config.Config {
	if cfg.Listen == cur.Listen && cfg.Admin.Listen == cur.Admin.Listen {
		return cfg
	}
	c := *cfg
	c.Listen, c.Admin.Listen = cur.Listen, cur.Admin.Listen
	c.Origins = maps.Clone(cfg.Origins)
	if c.Origins == nil {
		c.Origins = make(map[string]config.Origin)
	}
	for _, key := range []string{"listen", "admin.listen"} {
		if o, ok := cur.Origins[key]; ok {
			c.Origins[key] = o
		} else {
			delete(c.Origins, key)
		}
	}
	return &c
}

// seal stops r, a registry a reload has replaced, from taking new pools, and returns
// its pools the new registry did not take over (carried): those the reload replaced
// or dropped, and those clients built in r while it ran (a database whose URL names
// no user gets a pool per user on first use).
func (r *registry) seal(carried map[*Pool]bool) []*Pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sealed = true
	var retire []*Pool
	for _, pl := range r.pools {
		if !carried[pl] {
			retire = append(retire, pl)
		}
	}
	return retire
}

// retire closes pl once its last session ends. Until it has closed, listings show
// it under a name of its own: its successor has its name.
func (p *Proxy) retire(pl *Pool) {
	p.mu.Lock()
	p.nretired++
	view := *pl
	view.Name = fmt.Sprintf("%s (retired #%d)", pl.Name, p.nretired)
	pl.view.Store(&view)
	pl.retired.Store(true)
	p.retired = append(p.retired, pl)
	p.mu.Unlock()
	if pl.sessions.Load() == 0 {
		p.closePool(pl)
	}
}

// specForKey returns the spec the pool with key would have under reg, and whether
// reg still has such a pool.
func specForKey(reg *registry, key string) (poolSpec, bool) {
	db, svc, user := splitKey(key)
	d := reg.cfg.Database(db)
	if d == nil {
		return poolSpec{}, false
	}
	if (user == "") != (d.URL.User != "") {
		return poolSpec{}, false
	}
	var s *config.Service
	if svc != "" {
		if s = reg.cfg.Service(svc); s == nil || s.Database != db {
			return poolSpec{}, false
		}
	}
	return reg.specFor(d, s, user), true
}

func splitKey(key string) (db, svc, user string) {
	parts := [3]string{}
	i := 0
	start := 0
	for j := 0; j < len(key) && i < 2; j++ {
		if key[j] == 0 {
			parts[i] = key[start:j]
			i++
			start = j + 1
		}
	}
	parts[2] = key[start:]
	return parts[0], parts[1], parts[2]
}

// poolChange is a pool a reload reconfigures in place, with its new settings.
type poolChange struct {
	key      string
	pool     *Pool
	settings config.Pool
}

// samePool reports whether pl was built from spec.
func samePool(pl *Pool, spec poolSpec) bool {
	t, err := target(spec)
	return err == nil && pl.Settings() == spec.settings && sameTarget(pl.Target, t) &&
		pl.ResetQuery == spec.resetQuery && pl.Name == spec.name
}

// sameTarget reports whether two targets built by target are the same.
func sameTarget(a, b *Target) bool {
	ca, cb := *a, *b
	ca.TLS, cb.TLS = nil, nil
	return reflect.DeepEqual(ca, cb) && sameTLS(a.TLS, b.TLS)
}

// sameTLS reports whether two configurations built by serverTLS are the same.
// reflect.DeepEqual alone never finds them so once they verify certificates: a
// function (VerifyConnection) is never deeply equal to anything, nor is a
// certificate pool (it holds functions). VerifyConnection checks the chain against
// RootCAs, which is compared instead.
func sameTLS(a, b *tls.Config) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !a.RootCAs.Equal(b.RootCAs) || (a.VerifyConnection == nil) != (b.VerifyConnection == nil) {
		return false
	}
	a, b = a.Clone(), b.Clone()
	a.RootCAs, b.RootCAs = nil, nil
	a.VerifyConnection, b.VerifyConnection = nil, nil
	return reflect.DeepEqual(a, b)
}

// onlyLiveChanges reports whether pl differs from spec only in pool settings that a
// pool takes in place (config.ApplyLive).
func onlyLiveChanges(pl *Pool, spec poolSpec) bool {
	cur := pl.Settings()
	for _, s := range config.Settings() {
		if s.Effect() != config.ApplyLive && cur.Format(s) != spec.settings.Format(s) {
			return false
		}
	}
	spec.settings = cur
	return samePool(pl, spec)
}
