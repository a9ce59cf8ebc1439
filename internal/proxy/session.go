package proxy

import (
	"context"
	"errors"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// Session is one client's use of one pool: the proxy's half of a client connection
// after login. The adapter acquires a server connection through it whenever the client
// needs one, and releases it when the pool mode says so.
type Session struct {
	client *Client
	pool   *Pool
}

// Lease is a client's hold on a server connection, from Acquire to Release or Destroy.
// The zero Lease holds nothing.
type Lease struct {
	l      pool.Lease[Backend]
	client *Client // counted as holding it; nil once detached
}

// let counts l out of its client's holdings.
func (l Lease) let() {
	if l.client != nil {
		l.client.held.Add(-1)
	}
}

// Backend returns the leased server connection.
func (l Lease) Backend() Backend { return l.l.Conn() }

// Pool returns the session's pool.
func (s *Session) Pool() *Pool { return s.pool }

// Mode returns the session's pool mode.
func (s *Session) Mode() Mode { return s.pool.Mode }

// Client returns the session's client.
func (s *Session) Client() *Client { return s.client }

var errUnusable = errors.New("server connection failed while idle")

// Acquire leases a server connection from the session's pool, waiting up to the
// pool's pool_timeout. A failure is an *AcquireError. Connections found broken are
// destroyed and replaced transparently. While the pool's database is paused (PAUSE)
// it first waits for RESUME or the end of ctx.
func (s *Session) Acquire(ctx context.Context) (Lease, error) {
	c := s.client
	c.requested.Store(time.Now().UnixNano())
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	if err := s.waitResumed(ctx); err != nil {
		return Lease{}, err
	}
	for {
		l, err := s.pool.core.AcquireAs(ctx, c.holder)
		if err != nil {
			var ae *pool.AcquireError
			if errors.As(err, &ae) {
				return Lease{}, &AcquireError{Pool: s.pool.Name, AcquireError: *ae}
			}
			return Lease{}, err
		}
		if !l.Conn().Usable() {
			l.Destroy(errUnusable)
			continue
		}
		c.held.Add(1)
		return Lease{l: l, client: c}, nil
	}
}

// Release returns a clean, idle server connection to its pool. Safe to call from any
// goroutine.
func (s *Session) Release(l Lease) {
	l.l.Release()
	l.let()
}

// Detach returns l no longer counted as the client's: the client has let go of the
// server connection, which stays out of the pool until the adapter ends the returned
// lease (from any goroutine; the client's state is left alone then). A cancel request
// in flight for the client's last query holds a connection back so.
func (s *Session) Detach(l Lease) Lease {
	l.let()
	l.client = nil
	return l
}

// Destroy closes a server connection that must not be reused (dirty, out of sync or
// failed); cause says why. Safe to call from any goroutine.
func (s *Session) Destroy(l Lease, cause error) {
	l.l.Destroy(cause)
	l.let()
}

// Discard closes a server connection that works but holds state the next client must
// not see, with no way to reset it; why says what. It is not counted as an error.
// Safe to call from any goroutine.
func (s *Session) Discard(l Lease, why error) {
	l.l.Discard(why)
	l.let()
}

// SetBetweenTransactions tells the proxy whether a client that keeps its server
// connection between transactions (session mode) is between two now, with nothing
// asked of the server: a shutdown ends such a client at once, as it ends an idle one.
// Safe to call from any goroutine.
func (s *Session) SetBetweenTransactions(v bool) { s.client.between.Store(v) }

// Draining reports whether the proxy is shutting down: the adapter should end the
// client once it holds no server connection.
func (s *Session) Draining() bool { return s.client.proxy.draining.Load() }

// Close ends the session. The adapter calls it once, after the client's last lease
// has been released or destroyed, or handed to a goroutine that will.
func (s *Session) Close() { s.pool.sessionEnded(s.client.proxy) }

// sessionEnded counts a session of pl out, and closes pl if a reload retired it and
// this was its last session. (Proxy.retire closes it if it has none: between the
// two, a retired pool always closes once, or twice, which Close allows.) The time is
// stored first, so that whoever sees no session sees when the last one ended.
func (pl *Pool) sessionEnded(p *Proxy) {
	pl.idleSince.Store(time.Now().UnixNano())
	if pl.sessions.Add(-1) == 0 && pl.retired.Load() {
		p.closePool(pl)
	}
}
