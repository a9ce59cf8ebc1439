package admin

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/pool"
)

// ClientConn is one client connection, as the API and SHOW CLIENTS list it.
type ClientConn struct {
	ID          uint64    `json:"id"`
	User        string    `json:"user"`
	Database    string    `json:"database"`
	Pool        string    `json:"pool"`
	State       string    `json:"state"` // login, idle, waiting, active
	Addr        string    `json:"addr"`
	Port        int       `json:"port"`
	LocalAddr   string    `json:"local_addr"`
	LocalPort   int       `json:"local_port"`
	ConnectTime time.Time `json:"connect_time"`
	// RequestTime is when the client last asked for a server connection (the
	// start of its latest transaction in transaction mode), or ConnectTime.
	RequestTime time.Time `json:"request_time"`
	// WaitSeconds is how long it has been waiting for a server connection.
	WaitSeconds float64 `json:"wait_seconds"`
	Application string  `json:"application_name"`
}

// Clients lists the client connections, by ID.
func (a *Admin) Clients() []ClientConn {
	cs := a.px.Clients()
	out := make([]ClientConn, 0, len(cs))
	now := time.Now()
	for _, c := range cs {
		host, port := hostPort(c.Remote)
		local, localPort := hostPort(c.Local)
		cc := ClientConn{
			ID: c.ID, User: c.User, Database: c.Database, Pool: c.Pool, State: c.State.String(),
			Addr: host, Port: port, LocalAddr: local, LocalPort: localPort,
			ConnectTime: c.Accepted, RequestTime: c.Requested, Application: c.Application,
		}
		if cc.RequestTime.IsZero() {
			cc.RequestTime = c.Accepted
		}
		if !c.WaitingSince.IsZero() {
			cc.WaitSeconds = max(now.Sub(c.WaitingSince), 0).Seconds()
		}
		out = append(out, cc)
	}
	slices.SortFunc(out, func(x, y ClientConn) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

func hostPort(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// ServerConn is one server connection, as the API and SHOW SERVERS list it.
type ServerConn struct {
	ID       uint64 `json:"id"` // unique within its pool
	Pool     string `json:"pool"`
	User     string `json:"user"`
	Database string `json:"database"`
	// State is the connection's state: creating, idle, active, validating,
	// destroying.
	State       string    `json:"state"`
	Addr        string    `json:"addr"`
	Port        string    `json:"port"`
	ConnectTime time.Time `json:"connect_time"`
	AgeSeconds  float64   `json:"age_seconds"`
	Uses        uint64    `json:"uses"`
	// Client is the ID of the client holding it (0 when none); HeldSeconds
	// how long it has been held, IdleSeconds how long it has been idle.
	Client      uint64  `json:"client"`
	HeldSeconds float64 `json:"held_seconds"`
	IdleSeconds float64 `json:"idle_seconds"`
	Leaked      bool    `json:"leaked"`
	// RemotePID is the server's process ID for the connection; 0 while it
	// is being dialed, or when the protocol has none.
	RemotePID uint32 `json:"remote_pid"`
}

// Servers lists every pool's server connections, by pool and ID: one pass
// over each pool, under its lock once.
func (a *Admin) Servers() []ServerConn {
	var out []ServerConn
	var buf []pool.ConnDetail[proxy.Backend]
	for _, p := range a.sortedPools() {
		host, port := splitAddr(p.Target)
		buf = p.Core().AppendConnDetails(buf[:0])
		for _, c := range buf {
			out = append(out, ServerConn{
				ID: c.ID, Pool: p.Name, User: p.User, Database: p.Database, State: c.State.String(),
				Addr: host, Port: port, ConnectTime: c.Created, AgeSeconds: c.Age.Seconds(), Uses: c.Uses,
				Client: holderClient(c.Holder), HeldSeconds: c.Held.Seconds(), IdleSeconds: c.Idle.Seconds(), Leaked: c.Leaked,
				RemotePID: remotePID(c.Conn),
			})
		}
	}
	if out == nil {
		out = []ServerConn{}
	}
	return out
}

// remotePID returns the server process ID of b, or 0 when b is nil (being
// dialed) or its protocol has none.
func remotePID(b proxy.Backend) uint32 {
	if pb, ok := b.(proxy.ProcessIDer); ok {
		return pb.PID()
	}
	return 0
}

// holderClient extracts the client ID from a lease holder label
// ("client 42 127.0.0.1:5555").
func holderClient(holder string) uint64 {
	f := strings.Fields(holder)
	if len(f) < 2 || f[0] != "client" {
		return 0
	}
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

// pgServerState maps a connection state to PgBouncer's server states.
var pgServerState = map[string]string{
	"creating": "new", "idle": "idle", "active": "active", "validating": "tested", "destroying": "closing",
}

// pgListColumns are the columns of PgBouncer's SHOW CLIENTS and SHOW SERVERS, in its
// order, so that scripts reading them by position work; motorpool's own follow.
var pgListColumns = []string{"type", "user", "database", "state", "addr", "port", "local_addr", "local_port",
	"connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr", "link", "remote_pid", "tls", "application_name"}

// waitColumns splits a wait into PgBouncer's wait (whole seconds) and wait_us (the
// microseconds beyond them).
func waitColumns(seconds float64) (int, int) {
	us := int(seconds * 1e6)
	return us / 1e6, us % 1e6
}

// showClients is PgBouncer's SHOW CLIENTS. state is motorpool's (login, idle,
// waiting, active); ptr is the client ID and link the ptr of the server connection it
// holds, as text as PgBouncer's pointers are; remote_pid is 0 and tls NULL (not
// reported); pool is NULL while the client logs in.
func (a *Admin) showClients() *table {
	t := newTable(append(slices.Clone(pgListColumns), "pool")...)
	links := map[uint64]string{}
	for _, s := range a.Servers() {
		if s.Client != 0 {
			links[s.Client] = strconv.FormatUint(s.ID, 10)
		}
	}
	for _, c := range a.Clients() {
		wait, waitUS := waitColumns(c.WaitSeconds)
		t.add("C", c.User, c.Database, c.State, c.Addr, c.Port, c.LocalAddr, c.LocalPort,
			c.ConnectTime, c.RequestTime, wait, waitUS, 0, strconv.FormatUint(c.ID, 10), links[c.ID], 0, nil, c.Application,
			orNull(c.Pool))
	}
	return t
}

// showServers is PgBouncer's SHOW SERVERS. ptr is the connection's ID in its pool,
// link the holding client's ID (the ptr of SHOW CLIENTS), both text as PgBouncer's
// pointers are, link "" when no client holds it (as PgBouncer's), remote_pid the
// server's process ID, 0 while dialing, and application_name the holding client's.
// local_addr, local_port and tls are NULL (not reported); wait and close_needed 0.
func (a *Admin) showServers() *table {
	t := newTable(append(slices.Clone(pgListColumns), "pool", "uses", "held_seconds", "leaked")...)
	apps := map[uint64]string{}
	for _, c := range a.Clients() {
		apps[c.ID] = c.Application
	}
	now := time.Now()
	for _, s := range a.Servers() {
		req := s.ConnectTime
		if s.State == "active" {
			req = now.Add(-time.Duration(s.HeldSeconds * float64(time.Second)))
		}
		link := ""
		if s.Client != 0 {
			link = strconv.FormatUint(s.Client, 10)
		}
		var port any
		if n, err := strconv.Atoi(s.Port); err == nil {
			port = n
		}
		t.add("S", s.User, s.Database, pgServerState[s.State], orNull(s.Addr), port, nil, nil,
			s.ConnectTime, req, 0, 0, 0, strconv.FormatUint(s.ID, 10), link, s.RemotePID, nil, apps[s.Client],
			s.Pool, s.Uses, s.HeldSeconds, s.Leaked)
	}
	return t
}
