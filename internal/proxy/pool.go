package proxy

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/pool"
)

const msRound = time.Millisecond

// leakThreshold is how long a transaction may hold a server connection before the
// pool reports it as leaked (transaction and statement mode; in session mode a lease
// lasts the whole session).
const leakThreshold = 5 * time.Minute

// Pool is the server connections of one database (for one server user), or of one
// service, with the settings they were built from.
type Pool struct {
	// Name identifies the pool in logs, metrics and the admin console: the database
	// name, "database/service" for a service's pool, or "database.user" for a
	// per-user pool. Listings show a pool a reload retired as "NAME (retired #N)",
	// apart from its successor.
	Name     string
	Database string
	Service  string // "" for a database's own pool
	// User is the user server connections log in as.
	User       string
	Mode       Mode
	ResetQuery string
	// Target is where and how server connections are opened. Read-only.
	Target *Target

	// poolState is the pool proper (its core, settings, sessions and Counters),
	// shared with the Pool that listings show once a reload retired it: see
	// listed.
	*poolState
}

// poolState is what a Pool and its listing as a retired pool share.
type poolState struct {
	core     *pool.Pool[Backend]
	settings atomic.Pointer[config.Pool] // a reload may change them in place

	attachOnce sync.Once
	attached   any

	// perUser is set on a pool the registry built for a client's user (a database
	// URL without a user), which the proxy removes once unused (see reap.go).
	perUser bool

	// cold is set on a pool built without its min_connections (poolSpec.cold)
	// until Proxy.warmUp gives them back.
	cold atomic.Bool

	sessions  atomic.Int64 // open sessions
	idleSince atomic.Int64 // when sessions last fell to 0, in Unix nanoseconds
	retired   atomic.Bool  // replaced by a reload; closes when its last session ends
	// view is how listings show the pool once retired: the same pool under a name
	// of its own (see Proxy.retire). nil until then.
	view atomic.Pointer[Pool]

	// Counters are the pool's traffic counters.
	Counters Counters
}

// Retired reports whether a reload replaced the pool: it serves the sessions it
// had until they end, then closes, while new sessions go to its successor.
func (p *Pool) Retired() bool { return p.retired.Load() }

// listed returns the pool as listings show it: p, or once a reload retired p, the
// same pool under its retired name.
func (p *Pool) listed() *Pool {
	if v := p.view.Load(); v != nil {
		return v
	}
	return p
}

// Counters are a pool's traffic counters, since the pool was created.
type Counters struct {
	Sessions     atomic.Uint64 // sessions opened
	Transactions atomic.Uint64 // transactions ended (see Observer.Transaction)
	TxTimeNanos  atomic.Uint64 // their time, in total
	Queries      atomic.Uint64 // requests answered by servers (see Observer.Query)
	BytesIn      atomic.Uint64 // bytes relayed from clients to servers
	BytesOut     atomic.Uint64 // bytes relayed from servers to clients
}

// Settings returns the pool's resolved settings.
func (p *Pool) Settings() config.Pool { return *p.settings.Load() }

// Core returns the pool core, for statistics and connection listings.
func (p *Pool) Core() *pool.Pool[Backend] { return p.core }

// Attachment returns the value an adapter keeps with the pool, creating it with
// init the first time.
func (p *Pool) Attachment(init func() any) any {
	p.attachOnce.Do(func() { p.attached = init() })
	return p.attached
}

// poolSpec is what a pool is built from.
type poolSpec struct {
	name, database, service string
	settings                config.Pool
	url                     config.URL
	user, password          string
	session                 map[string]string
	resetQuery              string
	allowCleartext          bool
	perUser                 bool // user is the client's (see poolState.perUser)
	// cold builds the pool without its min_connections, until Proxy.warmUp: its
	// database is paused or has a budget, and a pool's first dials start as it
	// is built.
	cold bool
	// budgeted is set when the pool's database has a budget.
	budgeted bool
}

// validateIdleAfter is how long a server connection may sit idle before it is
// validated (see Validator) when next acquired: PgBouncer's server_check_delay.
var validateIdleAfter = 30 * time.Second

// newPool builds a pool; its connections are dialed by proto.
func newPool(proto Protocol, s poolSpec, onEvent func(*Pool, pool.Event)) (*Pool, error) {
	mode, err := ParseMode(string(s.settings.Mode))
	if err != nil {
		return nil, err
	}
	t, err := target(s)
	if err != nil {
		return nil, err
	}
	p := &Pool{
		Name: s.name, Database: s.database, Service: s.service, User: s.user,
		Mode: mode, ResetQuery: s.resetQuery, Target: t, poolState: &poolState{perUser: s.perUser},
	}
	p.settings.Store(&s.settings)
	p.idleSince.Store(time.Now().UnixNano())
	cfg := coreConfig(s.settings)
	if s.cold {
		cfg.MinSize = 0
		p.cold.Store(true)
	}
	cfg.Dial = func(ctx context.Context) (Backend, error) { return proto.Dial(ctx, t) }
	cfg.Close = func(b Backend) { b.Close() }
	// Usable is checked on every acquire, for free; a round trip only after a while
	// idle, as PgBouncer's server_check_delay.
	cfg.Validate = func(ctx context.Context, b Backend) error {
		if v, ok := b.(Validator); ok {
			return v.Validate(ctx)
		}
		return nil
	}
	cfg.ValidateIdleAfter = validateIdleAfter
	// A server connection whose server went away while it sat idle (a restart,
	// pg_terminate_backend, idle_session_timeout) is closed and, below
	// min_connections, replaced within a second, not when a client comes across it.
	cfg.Broken = func(b Backend) bool { return !b.Usable() }
	if mode != ModeSession {
		// A lease is a transaction (or a statement): one held this long is a client
		// that stopped in the middle, which is what the pool reports as a leak.
		cfg.LeakThreshold = leakThreshold
	}
	if onEvent != nil {
		cfg.OnEvent = func(e pool.Event) { onEvent(p, e) }
	}
	if p.core, err = pool.New(cfg); err != nil {
		return nil, fmt.Errorf("pool %s: %w", s.name, err)
	}
	return p, nil
}

// coreConfig maps a pool's settings onto the pool core's Config. Its Settings
// are what a reload applies in place.
func coreConfig(st config.Pool) pool.Config[Backend] {
	return pool.Config[Backend]{
		MinSize:           st.MinConnections,
		MaxSize:           st.ConnectionLimit,
		MaxConnecting:     st.MaxConnecting,
		AcquireTimeout:    st.PoolTimeout,
		ConnectTimeout:    st.ConnectTimeout,
		IdleTimeout:       orNever(st.IdleTimeout),
		MaxLifetime:       orNever(st.MaxLifetime),
		ValidationTimeout: st.ValidationTimeout,
	}
}

// orNever maps the configuration's "0 = never" to the pool's "negative = never".
func orNever(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// target builds the dial target of a pool.
func target(s poolSpec) (*Target, error) {
	t := &Target{
		User:           s.user,
		Password:       s.password,
		Database:       s.url.DBName,
		Params:         s.session,
		AllowCleartext: s.allowCleartext,
	}
	for _, h := range s.url.Hosts {
		if strings.HasPrefix(h.Host, "/") {
			t.Addresses = append(t.Addresses, fmt.Sprintf("%s/.s.PGSQL.%d", h.Host, h.Port))
			continue
		}
		t.Addresses = append(t.Addresses, net.JoinHostPort(h.Host, strconv.Itoa(h.Port)))
	}
	var err error
	if t.TLS, t.TLSRequired, err = serverTLS(s.url); err != nil {
		return nil, fmt.Errorf("pool %s: %w", s.name, err)
	}
	return t, nil
}
