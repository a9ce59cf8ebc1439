package proxy

import (
	"context"
	"errors"
	"path"

	"github.com/motorpool/motorpool/internal/config"
)

// RouteRequest is what a client asked for at login.
type RouteRequest struct {
	Database    string
	User        string
	Application string
}

// Route is where a client goes: how it must authenticate and, once it has, which
// pool Open gives it a session on.
type Route struct {
	// Console, when set, is the admin console the client logged in to.
	Console     Console
	Credentials Credentials
	client      *Client
	req         RouteRequest
}

// AuthQuerier is implemented by adapters that can look a user's stored password up
// in the database (auth_query).
type AuthQuerier interface {
	// LookupSecret runs query on t with user as its one parameter and returns the
	// stored verifier, or "" if the user is unknown.
	LookupSecret(ctx context.Context, t *Target, query, user string) (string, error)
}

// Route finds the pool and the credentials for a client's login. It returns
// ErrUnknownDatabase, ErrTooManyClients or ErrShuttingDown.
func (c *Client) Route(req RouteRequest) (*Route, error) {
	p := c.proxy
	if p.draining.Load() {
		return nil, ErrShuttingDown
	}
	if c.over {
		return nil, ErrTooManyClients
	}
	if rt, ok, err := p.consoleRoute(c, req); ok {
		return rt, err
	}
	reg := p.reg.Load()
	db := reg.cfg.Database(req.Database)
	if db == nil {
		return nil, ErrUnknownDatabase
	}
	c.mu.Lock()
	c.database, c.user, c.application = req.Database, req.User, req.Application
	c.mu.Unlock()
	// No pool is built before the client authenticates: a database whose URL names
	// no user gets a pool per client user, and user names are the client's to choose.
	return &Route{Credentials: reg.credentials(p, db, req.User), client: c, req: req}, nil
}

// UserCredentials returns the credentials auth.users gives user (the zero value, an
// unknown user, when none). Adapters authenticate a client that asked for a database
// that does not exist against them before saying so, as PostgreSQL does, so that a
// client cannot learn which databases exist without a password.
func (c *Client) UserCredentials(user string) Credentials {
	return c.proxy.reg.Load().userCredentials(c.proxy, user)
}

// Open starts the client's session, once it has authenticated, on the pool the
// configuration in force gives it, building the pool on first use. It returns
// ErrShuttingDown, ErrUnknownDatabase when a reload removed the database since
// Route, or ErrDatabaseDisabled when the console's DISABLE refuses its clients. It must not be called for the admin console.
func (rt *Route) Open(c *Client) (*Session, error) {
	p := c.proxy
	for {
		if p.draining.Load() {
			return nil, ErrShuttingDown
		}
		if rt.Console != nil {
			return nil, ErrUnknownDatabase
		}
		reg := p.reg.Load()
		db := reg.cfg.Database(rt.req.Database)
		if db == nil {
			return nil, ErrUnknownDatabase
		}
		if p.IsDisabled(rt.req.Database) {
			return nil, ErrDatabaseDisabled
		}
		pl, err := reg.poolFor(p, db, rt.req)
		if errors.Is(err, errStaleRegistry) {
			continue // reloaded between the Load and poolFor: the new one is stored
		}
		if err != nil {
			return nil, err
		}
		if pl.retired.Load() {
			// A reload replaced pl after poolFor found it, and may have closed it
			// already, seeing no session: route again, in the new registry.
			pl.sessionEnded(p)
			continue
		}
		if pl.cold.Load() {
			p.regMu.Lock()
			p.warmUpLocked(pl)
			p.regMu.Unlock()
		}
		pl.Counters.Sessions.Add(1)
		c.mu.Lock()
		c.pool, c.session = pl.Name, pl
		c.mu.Unlock()
		c.setState(StateIdle)
		return &Session{client: c, pool: pl}, nil
	}
}

// matches reports whether a client belongs to service s.
func matches(s *config.Service, req RouteRequest) bool {
	if s.Match.User != "" {
		if ok, _ := path.Match(s.Match.User, req.User); !ok {
			return false
		}
	}
	if s.Match.ApplicationName != "" {
		if ok, _ := path.Match(s.Match.ApplicationName, req.Application); !ok {
			return false
		}
	}
	return true
}

// userCredentials returns the credentials auth.users gives user, if any.
func (r *registry) userCredentials(p *Proxy, user string) Credentials {
	cr := Credentials{}
	switch r.cfg.Auth.Type {
	case config.AuthTrust:
		cr.Method = AuthTrust
	case config.AuthMD5:
		cr.Method = AuthMD5
	}
	if u := r.cfg.User(user); u != nil {
		if u.Password.PasswordKind() == config.PasswordCleartext {
			cr.Password = string(u.Password)
		} else {
			cr.Secret = string(u.Password)
		}
	}
	return cr
}

// credentials returns what user must authenticate against for database db: a user
// of auth.users, else the database URL's own user and password, else auth_query.
func (r *registry) credentials(p *Proxy, db *config.Database, user string) Credentials {
	cr := r.userCredentials(p, user)
	if cr.Known() {
		return cr
	}
	if db.URL.User == user && db.URL.Password != "" {
		cr.Password = db.URL.Password
		return cr
	}
	if q := r.cfg.Auth.Query; q != nil {
		if aq, ok := p.proto.(AuthQuerier); ok {
			t := *r.authTarget(db)
			cr.Lookup = func(ctx context.Context) (string, error) {
				return aq.LookupSecret(ctx, &t, q.Query, user)
			}
		}
	}
	return cr
}

// authTarget returns where auth_query runs: the database, as the auth user.
func (r *registry) authTarget(db *config.Database) *Target {
	s := r.specFor(db, nil, "")
	s.user, s.password = r.cfg.Auth.Query.User, string(r.cfg.Auth.Query.Password)
	t, err := target(s)
	if err != nil {
		return &Target{}
	}
	return t
}
