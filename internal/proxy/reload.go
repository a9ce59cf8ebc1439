package proxy

import (
	"reflect"

	"github.com/motorpool/motorpool/internal/config"
)

// Reload applies a new configuration without dropping clients. Pools whose settings
// are unchanged carry over; a pool whose only change is its size is resized in place;
// any other change builds a new pool for new sessions while existing sessions finish
// on the old one, which closes after its last session. Routing, authentication and
// max_client_connections follow the new configuration at once. The listen address
// does not change until restart.
func (p *Proxy) Reload(cfg *config.Config) error {
	old := p.reg.Load()
	reg := &registry{cfg: cfg, pools: make(map[string]*Pool)}
	var retire []*Pool
	old.mu.Lock()
	for key, pl := range old.pools {
		spec, ok := specForKey(reg, key)
		switch {
		case !ok:
			retire = append(retire, pl)
		case samePool(pl, spec):
			reg.pools[key] = pl
		case sameExceptSize(pl, spec):
			if err := pl.core.Resize(spec.settings.MinConnections, spec.settings.ConnectionLimit); err != nil {
				retire = append(retire, pl)
				continue
			}
			pl.settings.Store(&spec.settings)
			reg.pools[key] = pl
		default:
			retire = append(retire, pl)
		}
	}
	old.mu.Unlock()
	if err := p.warm(reg); err != nil {
		return err
	}
	p.reg.Store(reg)
	for _, pl := range retire {
		p.retire(pl)
	}
	if cfg.Listen != old.cfg.Listen {
		p.log.Warn("listen address changed; restart motorpool to apply it", "old", old.cfg.Listen, "new", cfg.Listen)
	}
	return nil
}

// retire closes pl once its last session ends.
func (p *Proxy) retire(pl *Pool) {
	pl.retired.Store(true)
	p.mu.Lock()
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

// samePool reports whether pl was built from spec.
func samePool(pl *Pool, spec poolSpec) bool {
	t, err := target(spec)
	return err == nil && pl.Settings() == spec.settings && reflect.DeepEqual(pl.Target, t) &&
		pl.ResetQuery == spec.resetQuery && pl.Name == spec.name
}

// sameExceptSize reports whether pl differs from spec only in its size.
func sameExceptSize(pl *Pool, spec poolSpec) bool {
	s := spec.settings
	s.MinConnections, s.ConnectionLimit = pl.Settings().MinConnections, pl.Settings().ConnectionLimit
	spec.settings = s
	return samePool(pl, spec)
}
