package proxy

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/config"
)

// stubProto is a Protocol whose server connections are stubBackends and whose Serve
// runs serve (returning at once when nil). It answers auth_query lookups with
// lookup.
type stubProto struct {
	serve  func(ctx context.Context, c *Client) error
	dials  atomic.Int64
	mu     sync.Mutex
	asked  []lookupCall
	secret string
}

type lookupCall struct {
	target      Target
	query, user string
}

func (p *stubProto) Name() string { return "stub" }

func (p *stubProto) Dial(ctx context.Context, t *Target) (Backend, error) {
	p.dials.Add(1)
	return &stubBackend{}, nil
}

func (p *stubProto) Serve(ctx context.Context, c *Client) error {
	if p.serve == nil {
		return nil
	}
	return p.serve(ctx, c)
}

func (p *stubProto) LookupSecret(ctx context.Context, t *Target, query, user string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, lookupCall{*t, query, user})
	return p.secret, nil
}

type stubBackend struct{ closed atomic.Bool }

func (b *stubBackend) Usable() bool { return !b.closed.Load() }
func (b *stubBackend) Close() error { b.closed.Store(true); return nil }

// parseConfig parses YAML written with tabs for indentation.
func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(strings.ReplaceAll(yaml, "\t", "  ")), nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// newStubProxy returns a proxy for the configuration, closed when the test ends.
func newStubProxy(t *testing.T, yaml string, proto *stubProto) *Proxy {
	t.Helper()
	if proto == nil {
		proto = &stubProto{}
	}
	p, err := New(parseConfig(t, yaml), proto, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// testClient registers a client of p on an in-memory connection.
func testClient(t *testing.T, p *Proxy) *Client {
	t.Helper()
	mine, theirs := net.Pipe()
	t.Cleanup(func() { mine.Close(); theirs.Close() })
	c := newClient(p, p.nextID.Add(1), mine)
	p.mu.Lock()
	p.clients[c.ID] = c
	p.mu.Unlock()
	return c
}

// poolNamed returns the proxy's pool with the given name, or nil.
func poolNamed(p *Proxy, name string) *Pool {
	for _, pl := range p.Pools() {
		if pl.Name == name {
			return pl
		}
	}
	return nil
}

// routedPool routes a new client of p with req, opens its session (closed when the
// test ends) and returns the session's pool.
func routedPool(t *testing.T, p *Proxy, req RouteRequest) *Pool {
	t.Helper()
	s := openSession(t, p, req)
	t.Cleanup(s.Close)
	return s.Pool()
}

// openSession routes a new client of p with req and opens its session.
func openSession(t *testing.T, p *Proxy, req RouteRequest) *Session {
	t.Helper()
	c := testClient(t, p)
	rt, err := c.Route(req)
	require.NoError(t, err)
	s, err := rt.Open(c)
	require.NoError(t, err)
	return s
}
