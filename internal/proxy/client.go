package proxy

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ClientState is where a client connection stands.
type ClientState uint8

const (
	// StateLogin: connected, not yet authenticated.
	StateLogin ClientState = iota
	// StateIdle: logged in, holding no server connection.
	StateIdle
	// StateWaiting: waiting for a server connection.
	StateWaiting
	// StateActive: holding a server connection.
	StateActive
)

func (s ClientState) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateWaiting:
		return "waiting"
	case StateActive:
		return "active"
	}
	return "login"
}

// Client is one accepted client connection.
type Client struct {
	// ID is unique within the process.
	ID uint64
	// Conn is the client's connection. The adapter may wrap it (TLS) but closes the
	// original only through the proxy.
	Conn net.Conn
	// Accepted is when the connection was accepted.
	Accepted time.Time

	proxy  *Proxy
	holder string // label of the client's leases: "client 42 127.0.0.1:5555"
	over   bool   // accepted beyond max_client_connections: refused at login

	state atomic.Uint32 // StateLogin, then StateIdle once logged in; see State
	// held and waiting count the server connections the client's session holds and its
	// acquires under way. Its state is made from them, so that it stays true whichever
	// goroutine ends a lease (the server's, after the client went on with another).
	held, waiting atomic.Int32
	// requested is when the client last asked for a server connection (the start of
	// its latest transaction in transaction mode), in Unix nanoseconds: SHOW CLIENTS'
	// request_time, and the start of its wait while it waits (a session acquires one
	// server connection at a time).
	requested atomic.Int64
	// between is set while a client holding a server connection for its session is
	// between transactions: a shutdown ends it as it ends an idle client.
	between atomic.Bool

	mu                                sync.Mutex // protects the fields below
	database, user, application, pool string
	session                           *Pool // the session's pool, once open
}

func newClient(p *Proxy, id uint64, conn net.Conn) *Client {
	return &Client{
		ID: id, Conn: conn, Accepted: time.Now(), proxy: p,
		holder: fmt.Sprintf("client %d %s", id, conn.RemoteAddr()),
	}
}

func (c *Client) setState(s ClientState) { c.state.Store(uint32(s)) }

// State returns where the client stands.
func (c *Client) State() ClientState {
	s := ClientState(c.state.Load())
	switch {
	case s == StateLogin:
		return s
	case c.held.Load() > 0:
		return StateActive
	case c.waiting.Load() > 0:
		return StateWaiting
	}
	return StateIdle
}

// ClientInfo describes a client connection, for listings.
type ClientInfo struct {
	ID       uint64
	Remote   string
	Local    string // the proxy's address the client connected to
	Accepted time.Time
	// Requested is when the client last asked for a server connection (zero if never).
	Requested time.Time
	// WaitingSince is when its wait for a server connection began, zero unless it waits.
	WaitingSince time.Time
	State        ClientState
	Database     string
	User         string
	Application  string
	Pool         string
}

// Info returns a snapshot of the client.
func (c *Client) Info() ClientInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := ClientInfo{
		ID: c.ID, Remote: c.Conn.RemoteAddr().String(), Local: c.Conn.LocalAddr().String(), Accepted: c.Accepted,
		State: c.State(), Database: c.database, User: c.user, Application: c.application, Pool: c.poolNameLocked(),
	}
	if t := c.requested.Load(); t != 0 {
		info.Requested = time.Unix(0, t)
	}
	if info.State == StateWaiting {
		info.WaitingSince = info.Requested
	}
	return info
}

// poolNameLocked is the name of the client's pool as listings show it. The
// caller holds c.mu.
func (c *Client) poolNameLocked() string {
	if c.session != nil {
		return c.session.listed().Name // a retired pool is listed under a name of its own
	}
	return c.pool
}
