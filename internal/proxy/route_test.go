package proxy

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const verifier = "SCRAM-SHA-256$4096:c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

const routingConfig = `
auth:
	users:
		app: { password: secret }
		analyst: { password: "` + verifier + `" }
		batch7: { password: batchpw }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?sslmode=disable" }
	peruser: { url: "postgresql://127.0.0.1:1/peruser?sslmode=disable" }
services:
	gateway: { database: shop, match: { application_name: "gateway*" } }
	reports: { database: shop, match: { user: analyst } }
	nightly: { database: shop, match: { user: "batch*", application_name: nightly } }
	gateway2: { database: shop, match: { application_name: "gateway-eu" } }
`

// TestRouting: a client goes to the first service of its database whose every match
// field matches its user and application_name (path.Match globs), else to the
// database's own pool; a database whose URL names no user gets a pool per client
// user, logging in as that user.
func TestRouting(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, routingConfig, nil)
	tests := []struct {
		name string
		req  RouteRequest
		pool string
		err  error
	}{
		{name: "an application name glob", req: RouteRequest{Database: "shop", User: "app", Application: "gateway-7"}, pool: "shop/gateway"},
		{name: "the first matching service wins", req: RouteRequest{Database: "shop", User: "app", Application: "gateway-eu"}, pool: "shop/gateway"},
		{name: "a user", req: RouteRequest{Database: "shop", User: "analyst", Application: "psql"}, pool: "shop/reports"},
		{name: "a user glob and an application name together", req: RouteRequest{Database: "shop", User: "batch7", Application: "nightly"}, pool: "shop/nightly"},
		{name: "one field matching is not enough", req: RouteRequest{Database: "shop", User: "batch7", Application: "daily"}, pool: "shop"},
		{name: "no service matches: the database's pool", req: RouteRequest{Database: "shop", User: "app", Application: "web"}, pool: "shop"},
		{name: "an empty application name matches no application glob", req: RouteRequest{Database: "shop", User: "app"}, pool: "shop"},
		{name: "a pool per user where the URL names none", req: RouteRequest{Database: "peruser", User: "app"}, pool: "peruser.app"},
		{name: "an unknown database", req: RouteRequest{Database: "nope", User: "app"}, err: ErrUnknownDatabase},
		{name: "database names are exact", req: RouteRequest{Database: "Shop", User: "app"}, err: ErrUnknownDatabase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClient(t, p)
			rt, err := c.Route(tt.req)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			s, err := rt.Open(c)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tt.pool, s.Pool().Name)
			info := c.Info()
			assert.Equal(t, tt.pool, info.Pool)
			assert.Equal(t, tt.req.User, info.User)
		})
	}
	t.Run("a per-user pool logs in as the client with its configured password", func(t *testing.T) {
		pl := routedPool(t, p, RouteRequest{Database: "peruser", User: "batch7"})
		assert.Equal(t, "batch7", pl.Target.User)
		assert.Equal(t, "batchpw", pl.Target.Password)
		assert.Equal(t, "batch7", pl.User)
		assert.Same(t, pl, routedPool(t, p, RouteRequest{Database: "peruser", User: "batch7"}), "one pool per user")
	})
	t.Run("a service pool logs in as the database URL's user", func(t *testing.T) {
		pl := routedPool(t, p, RouteRequest{Database: "shop", User: "analyst"})
		assert.Equal(t, "app", pl.Target.User)
		assert.Equal(t, "pw", pl.Target.Password)
		assert.Equal(t, []string{"127.0.0.1:1"}, pl.Target.Addresses)
		assert.Equal(t, "shop", pl.Target.Database)
	})
}

// TestCredentials: what a client authenticates against comes from auth.users first,
// then the database URL's own user and password, then auth_query; with none of them
// the user is unknown (authentication runs and fails).
func TestCredentials(t *testing.T) {
	t.Parallel()
	const cfg = `
auth:
	type: %s
	users:
		app: { password: fromusers }
		hashed: { password: "%s" }
	auth_query: { user: lookup, password: lookpw, query: "SELECT usename, passwd FROM pg_shadow WHERE usename = $1" }
databases:
	shop: { url: "postgresql://app:fromurl@127.0.0.1:1/shop?sslmode=disable" }
	own: { url: "postgresql://owner:ownerpw@127.0.0.1:1/own?sslmode=disable" }
`
	proto := &stubProto{secret: "md5" + "0123456789abcdef0123456789abcdef"}
	p := newStubProxy(t, fmt.Sprintf(cfg, "scram-sha-256", verifier), proto)
	creds := func(db, user string) Credentials {
		t.Helper()
		rt, err := testClient(t, p).Route(RouteRequest{Database: db, User: user})
		require.NoError(t, err)
		return rt.Credentials
	}
	t.Run("auth.users wins over the URL's password", func(t *testing.T) {
		c := creds("shop", "app")
		assert.Equal(t, "fromusers", c.Password)
		assert.Nil(t, c.Lookup)
		assert.Equal(t, AuthSCRAM, c.Method)
	})
	t.Run("a stored verifier is a secret, not a password", func(t *testing.T) {
		c := creds("shop", "hashed")
		assert.Equal(t, verifier, c.Secret)
		assert.Empty(t, c.Password)
	})
	t.Run("the URL's user and password when auth.users does not know the user", func(t *testing.T) {
		c := creds("own", "owner")
		assert.Equal(t, "ownerpw", c.Password)
		assert.Nil(t, c.Lookup)
	})
	t.Run("the URL's password is for the URL's user only", func(t *testing.T) {
		c := creds("own", "stranger")
		assert.Empty(t, c.Password)
		require.NotNil(t, c.Lookup, "auth_query looks the stranger up")
		s, err := c.Lookup(context.Background())
		require.NoError(t, err)
		assert.Equal(t, proto.secret, s)
		proto.mu.Lock()
		defer proto.mu.Unlock()
		require.Len(t, proto.asked, 1)
		call := proto.asked[0]
		assert.Equal(t, "stranger", call.user)
		assert.Contains(t, call.query, "$1")
		assert.Equal(t, "lookup", call.target.User, "auth_query runs as its own user")
		assert.Equal(t, "lookpw", call.target.Password)
		assert.Equal(t, "own", call.target.Database, "on the client's database")
	})
	t.Run("auth type md5 and trust set the method", func(t *testing.T) {
		pm := newStubProxy(t, fmt.Sprintf(cfg, "md5", "md5"+"0123456789abcdef0123456789abcdef"), nil)
		rt, err := testClient(t, pm).Route(RouteRequest{Database: "shop", User: "app"})
		require.NoError(t, err)
		assert.Equal(t, AuthMD5, rt.Credentials.Method)
		pt := newStubProxy(t, fmt.Sprintf(cfg, "trust", verifier), nil)
		rt, err = testClient(t, pt).Route(RouteRequest{Database: "shop", User: "app"})
		require.NoError(t, err)
		assert.Equal(t, AuthTrust, rt.Credentials.Method)
	})
	t.Run("without auth_query an unknown user has no credentials", func(t *testing.T) {
		pn := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
`, nil)
		rt, err := testClient(t, pn).Route(RouteRequest{Database: "shop", User: "nobody"})
		require.NoError(t, err)
		assert.False(t, rt.Credentials.Known())
	})
}

// TestMaxClientConnections: clients beyond max_client_connections are accepted (so
// they can be told why) and refused at routing with ErrTooManyClients; a client
// leaving makes room.
func TestMaxClientConnections(t *testing.T) {
	t.Parallel()
	routed := make(chan error)
	proto := &stubProto{serve: func(ctx context.Context, c *Client) error {
		_, err := c.Route(RouteRequest{Database: "shop", User: "app"})
		routed <- err
		var b [1]byte
		c.Conn.Read(b[:]) // stay until the test hangs up
		return nil
	}}
	p := newStubProxy(t, `
max_client_connections: 2
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
`, proto)
	connect := func() (net.Conn, error) {
		t.Helper()
		mine, theirs := net.Pipe()
		t.Cleanup(func() { theirs.Close() })
		p.start(mine)
		select {
		case err := <-routed:
			return theirs, err
		case <-time.After(time.Minute):
			t.Fatal("the client was never served")
			return nil, nil
		}
	}
	first, err := connect()
	require.NoError(t, err)
	_, err = connect()
	require.NoError(t, err)
	third, err := connect()
	assert.ErrorIs(t, err, ErrTooManyClients)
	third.Close()
	waitUntil(t, "the refused client to leave", func() bool { return p.nclients.Load() == 2 })
	fourth, err := connect()
	assert.ErrorIs(t, err, ErrTooManyClients, "a refused client made no room")
	fourth.Close()
	waitUntil(t, "the refused client to leave", func() bool { return p.nclients.Load() == 2 })
	first.Close()
	waitUntil(t, "the first client to leave", func() bool { return p.nclients.Load() == 1 })
	_, err = connect()
	assert.NoError(t, err, "a client that left made room")
}

// TestDraining: once Shutdown begins, new logins are refused with ErrShuttingDown,
// a client routed before gets no session, and a client holding a server connection
// keeps it until it releases it.
func TestDraining(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
`, nil)
	busy := testClient(t, p)
	rt, err := busy.Route(RouteRequest{Database: "shop", User: "app"})
	require.NoError(t, err)
	s, err := rt.Open(busy)
	require.NoError(t, err)
	lease, err := s.Acquire(context.Background())
	require.NoError(t, err)
	late := testClient(t, p)
	lateRoute, err := late.Route(RouteRequest{Database: "shop", User: "app"})
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- p.Shutdown(context.Background()) }()
	waitUntil(t, "draining", func() bool { return p.draining.Load() })
	assert.True(t, s.Draining())
	_, err = testClient(t, p).Route(RouteRequest{Database: "shop", User: "app"})
	assert.ErrorIs(t, err, ErrShuttingDown)
	_, err = lateRoute.Open(late)
	assert.ErrorIs(t, err, ErrShuttingDown)
	select {
	case <-done:
		t.Fatal("Shutdown returned while a client held a server connection")
	default:
	}
	s.Release(lease)
	s.Close()
	p.mu.Lock()
	clear(p.clients) // what the adapter's goroutines do as their clients leave
	p.mu.Unlock()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("Shutdown hangs")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, p.Serve(ln), ErrClosed, "no more accepting")
}

// TestNoPoolBeforeLogin: a client's pool is built when its session opens, after it
// has authenticated, not when it is routed: on a database whose URL names no user,
// each user name gets a pool, which warms up min_connections, and a client that
// never logs in must not leave one behind.
func TestNoPoolBeforeLogin(t *testing.T) {
	t.Parallel()
	proto := &stubProto{}
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	peruser: { url: "postgresql://127.0.0.1:1/peruser?min_connections=1" }
`, proto)
	c := testClient(t, p)
	rt, err := c.Route(RouteRequest{Database: "peruser", User: "stranger"})
	require.NoError(t, err)
	assert.Empty(t, p.Pools(), "no pool for a client that has not logged in")
	assert.Zero(t, proto.dials.Load())

	s, err := rt.Open(c)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "peruser.stranger", s.Pool().Name)
	assert.Equal(t, []*Pool{s.Pool()}, p.Pools())
	assert.Equal(t, "peruser.stranger", c.Info().Pool)
}
