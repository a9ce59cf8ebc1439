package pg

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
)

// authQueryMaxConns is the most server connections auth_query opens to one target
// (one database, as the auth user), and so the most lookups that run there at once;
// the others wait their turn within the login timeout. A lookup on an open connection
// is one round trip, so a few connections serve hundreds of logins a second, while a
// flood of startup packets for made-up users costs PostgreSQL no more than this many
// backends per database instead of one backend per packet.
const authQueryMaxConns = 4

// authQueryIdleTimeout closes an auth_query connection left unused this long, so
// that a quiet motorpool holds no backends for lookups and the connections of a
// target a reload dropped do not linger.
const authQueryIdleTimeout = time.Minute

// errAuthQueryClosed is a lookup after the adapter closed.
var errAuthQueryClosed = errors.New("auth_query: the adapter is closed")

// authQueryConns is the adapter's auth_query connections: a pool of them per target.
// The zero value is ready; close ends it.
type authQueryConns struct {
	mu     sync.Mutex           // protects the fields below
	pools  map[string]*authPool // by authKey of their target
	closed bool
	stop   chan struct{} // closed by close: ends the sweeper

	wg sync.WaitGroup // the sweeper, started with the first pool
}

// get returns the pool for t, making it if need be. One configuration runs every
// lookup as the same auth user with the same password: pools with another user or
// password are from before a reload, and get closes them.
func (c *authQueryConns) get(t *proxy.Target) (*authPool, error) {
	key := authKey(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errAuthQueryClosed
	}
	if p := c.pools[key]; p != nil && sameRoots(p.tls, t.TLS) {
		return p, nil
	}
	for k, p := range c.pools {
		if k == key || p.user != t.User || p.password != t.Password {
			delete(c.pools, k)
			p.close()
		}
	}
	if c.pools == nil {
		c.pools = make(map[string]*authPool)
		c.stop = make(chan struct{})
		c.wg.Add(1)
		go c.sweepEvery(authQueryIdleTimeout / 4)
	}
	p := newAuthPool(t)
	c.pools[key] = p
	return p, nil
}

// close closes the idle connections, and makes lookups under way close theirs when
// they end and later lookups fail. It stops the sweeper and waits for it. It may be
// called more than once.
func (c *authQueryConns) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for k, p := range c.pools {
			delete(c.pools, k)
			p.close()
		}
		if c.stop != nil {
			close(c.stop)
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// reset closes every pool, after a reload: lookups from now on open connections with
// the settings in force. Lookups under way close theirs when they end.
func (c *authQueryConns) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.pools {
		delete(c.pools, k)
		p.close()
	}
}

func (c *authQueryConns) sweepEvery(d time.Duration) {
	defer c.wg.Done()
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-tick.C:
			c.sweep(now)
		}
	}
}

// sweep closes the connections idle since before now less authQueryIdleTimeout, and
// forgets the pools left with no connection and no lookup.
func (c *authQueryConns) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.pools {
		if p.closeIdle(now.Add(-authQueryIdleTimeout)) {
			delete(c.pools, k)
			p.close()
		}
	}
}

// idleConns returns how many connections the pools hold idle, for tests.
func (c *authQueryConns) idleConns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.pools {
		p.mu.Lock()
		n += len(p.idle)
		p.mu.Unlock()
	}
	return n
}

// authPool is the auth_query connections of one target. A lookup holds a slot from
// acquire to done and uses at most one connection meanwhile, so the pool never has
// more than authQueryMaxConns connections open, idle ones included.
type authPool struct {
	user, password string        // the target's, to tell pools from before a reload
	tls            *tls.Config   // the first target's, to compare root certificates
	slots          chan struct{} // a token per lookup under way

	mu     sync.Mutex    // protects the fields below
	idle   []*lookupConn // the most recently used last
	closed bool          // connections are closed when released
}

func newAuthPool(t *proxy.Target) *authPool {
	return &authPool{user: t.User, password: t.Password, tls: t.TLS, slots: make(chan struct{}, authQueryMaxConns)}
}

// lookupConn is an auth_query connection, idle or used by one lookup.
type lookupConn struct {
	conn      net.Conn
	rd        reader
	clean     bool // the last lookup ended with the server idle and nothing unread
	idleSince time.Time
}

func (c *lookupConn) close() { c.conn.Close() }

// acquire waits for a slot until ctx ends, and returns the most recently used idle
// connection, or nil when there is none and the caller is to dial one. A nil error
// must be followed by exactly one done.
func (p *authPool) acquire(ctx context.Context) (*lookupConn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("auth_query: waiting for a connection: %w", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil, nil
	}
	c := p.idle[n-1]
	p.idle = p.idle[:n-1]
	return c, nil
}

// put makes c idle, or closes it if the pool is closed.
func (p *authPool) put(c *lookupConn) {
	p.mu.Lock()
	if !p.closed {
		c.idleSince = time.Now()
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// done gives back the slot acquire took.
func (p *authPool) done() { <-p.slots }

// close closes the idle connections; those in use are closed when put back.
func (p *authPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// closeIdle closes the connections idle since before cutoff and reports whether the
// pool is left with no connection and no lookup under way.
func (p *authPool) closeIdle(cutoff time.Time) (empty bool) {
	p.mu.Lock()
	var old []*lookupConn
	keep := p.idle[:0]
	for _, c := range p.idle {
		if c.idleSince.Before(cutoff) {
			old = append(old, c)
		} else {
			keep = append(keep, c)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	empty = len(keep) == 0 && len(p.slots) == 0
	p.mu.Unlock()
	for _, c := range old {
		c.close()
	}
	return empty
}

// authKey identifies t's server, database, login and session settings. Root
// certificates are compared apart (sameRoots): a CertPool cannot be listed.
func authKey(t *proxy.Target) string {
	var b strings.Builder
	add := func(s string) { fmt.Fprintf(&b, "%q ", s) }
	for _, a := range t.Addresses {
		add(a)
	}
	add(t.Database)
	add(t.User)
	add(t.Password)
	for _, k := range slices.Sorted(maps.Keys(t.Params)) {
		add(k)
		add(t.Params[k])
	}
	fmt.Fprintf(&b, "cleartext=%t tls-required=%t ", t.AllowCleartext, t.TLSRequired)
	if c := t.TLS; c != nil {
		fmt.Fprintf(&b, "tls=%q,%t,%d,%t ", c.ServerName, c.InsecureSkipVerify, c.MinVersion, c.RootCAs != nil)
		for _, cert := range c.Certificates {
			for _, der := range cert.Certificate {
				fmt.Fprintf(&b, "%x ", sha256.Sum256(der))
			}
		}
	}
	return b.String()
}

// sameRoots reports whether a and b trust the same root certificates.
func sameRoots(a, b *tls.Config) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.RootCAs == nil || b.RootCAs == nil {
		return a.RootCAs == b.RootCAs
	}
	return a.RootCAs.Equal(b.RootCAs)
}
