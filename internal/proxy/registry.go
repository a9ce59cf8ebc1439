package proxy

import (
	"errors"
	"sync"

	"github.com/motorpool/motorpool/internal/config"
)

// registry is one configuration's routing table: its pools by key. A reload builds a
// new registry that takes over the pools whose settings did not change.
type registry struct {
	cfg *config.Config

	mu    sync.Mutex       // protects pools and sealed
	pools map[string]*Pool // by poolKey
	// sealed is set once a reload has replaced the registry: pools are no longer
	// added to it (poolFor returns errStaleRegistry, and the caller routes again).
	sealed bool
}

// errStaleRegistry is poolFor's answer on a registry a reload has replaced.
var errStaleRegistry = errors.New("the configuration was reloaded meanwhile")

// poolKey identifies a pool within a registry: database, service ("" for the
// database's own pool) and, for databases whose URL names no user, the client user.
func poolKey(db, service, user string) string { return db + "\x00" + service + "\x00" + user }

// poolFor returns the pool a client goes to, creating it on first use, with the
// client's session counted on it: under r.mu, so that removeUnused never takes a
// pool a session is being opened on. The caller ends the session with
// Pool.sessionEnded.
func (r *registry) poolFor(p *Proxy, db *config.Database, req RouteRequest) (*Pool, error) {
	var svc *config.Service
	for _, s := range r.cfg.Services {
		if s.Database == db.Name && matches(s, req) {
			svc = s
			break
		}
	}
	user := ""
	if db.URL.User == "" {
		user = req.User // connections log in as the client
	}
	service := ""
	if svc != nil {
		service = svc.Name
	}
	key := poolKey(db.Name, service, user)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sealed {
		return nil, errStaleRegistry
	}
	pl := r.pools[key]
	if pl == nil {
		var err error
		if pl, err = p.buildPool(r.specFor(db, svc, user)); err != nil {
			return nil, err
		}
		r.pools[key] = pl
	}
	pl.sessions.Add(1)
	return pl, nil
}

// specFor returns what a pool of db (or of service svc) for user is built from.
func (r *registry) specFor(db *config.Database, svc *config.Service, user string) poolSpec {
	s := poolSpec{
		name: db.Name, database: db.Name, settings: db.Pool, url: db.URL,
		user: db.URL.User, password: db.URL.Password, session: db.Session,
		resetQuery: db.ResetQuery, allowCleartext: db.ServerCleartextPassword,
		budgeted: db.Budget > 0,
	}
	if svc != nil {
		s.name, s.service, s.settings, s.session = db.Name+"/"+svc.Name, svc.Name, svc.Pool, svc.Session
	}
	if user != "" {
		s.name += "." + user
		s.user, s.password, s.perUser = user, "", true
		if u := r.cfg.User(user); u != nil && u.Password.PasswordKind() == config.PasswordCleartext {
			s.password = string(u.Password)
		}
	}
	return s
}

// all returns the registry's pools.
func (r *registry) all() []*Pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Pool, 0, len(r.pools))
	for _, pl := range r.pools {
		out = append(out, pl)
	}
	return out
}
