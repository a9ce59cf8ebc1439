package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/config"
)

type opsProto struct{}

func (opsProto) Name() string { return "fake" }
func (opsProto) Dial(ctx context.Context, t *Target) (Backend, error) {
	return opsBackend{}, nil
}
func (opsProto) Serve(ctx context.Context, c *Client) error { return nil }

type opsBackend struct{}

func (opsBackend) Usable() bool { return true }
func (opsBackend) Close() error { return nil }

// opsSession returns a proxy with databases shop and other, and a session of
// a client of shop; the returned conn is the client's end of its connection.
func opsSession(t *testing.T) (*Proxy, *Session, net.Conn) {
	t.Helper()
	return shopSession(t, opsProto{}, `
auth: { users: { app: { password: x } } }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=2" }
  other: { url: "postgresql://app:pw@127.0.0.1:1/other" }
`)
}

// shopSession returns a proxy for the YAML configuration, whose server connections
// proto dials, and a session of a client of its database shop as user app; the
// returned conn is the client's end of its connection.
func shopSession(t *testing.T, proto Protocol, yaml string) (*Proxy, *Session, net.Conn) {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, proto, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	mine, theirs := net.Pipe()
	c := newClient(p, 1, mine)
	p.mu.Lock()
	p.clients[c.ID] = c
	p.mu.Unlock()
	rt, err := c.Route(RouteRequest{Database: "shop", User: "app"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	return p, s, theirs
}

// waitUntil polls cond; the deadline only ends a broken run.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func TestPauseHoldsAcquiresUntilResume(t *testing.T) {
	p, s, _ := opsSession(t)
	ctx := context.Background()
	if err := p.Pause(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if !p.IsPaused("shop") || !p.IsPaused("other") || !slices.Equal(p.Paused(), []string{"*"}) {
		t.Fatalf("paused: %v", p.Paused())
	}
	got := make(chan error, 1)
	go func() {
		l, err := s.Acquire(ctx)
		if err == nil {
			s.Release(l)
		}
		got <- err
	}()
	waitUntil(t, "the acquire to wait", func() bool { return s.client.State() == StateWaiting })
	select {
	case err := <-got:
		t.Fatalf("acquire returned while paused: %v", err)
	default:
	}
	if err := p.Resume(""); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if p.IsPaused("shop") || len(p.Paused()) != 0 {
		t.Fatalf("still paused: %v", p.Paused())
	}
}

func TestPauseWaitsForLeases(t *testing.T) {
	p, s, _ := opsSession(t)
	l, err := s.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Pause(ctx, "shop"); !errors.Is(err, context.Canceled) {
		t.Fatalf("pause with a lease out and ctx done: %v", err)
	}
	if !p.IsPaused("shop") || p.IsPaused("other") {
		t.Fatal("the pause should stay in force for shop only")
	}
	done := make(chan error, 1)
	go func() { done <- p.Pause(context.Background(), "shop") }()
	s.Release(l)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(context.Background())
	acancel()
	if _, err := s.Acquire(actx); !errors.Is(err, context.Canceled) || s.client.State() != StateIdle {
		t.Fatalf("acquire with ctx done while paused: %v, state %v", err, s.client.State())
	}
	if err := p.Resume("other"); err == nil {
		t.Error("resume of a database not paused succeeded")
	}
	if err := p.Resume("shop"); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(""); err == nil {
		t.Error("resume with no database paused succeeded")
	}
}

func TestKillDropsClientsAndPauses(t *testing.T) {
	p, _, theirs := opsSession(t)
	if _, err := p.Kill("nosuch"); err == nil {
		t.Error("kill of an unknown database succeeded")
	}
	if err := p.Pause(context.Background(), "nosuch"); err == nil {
		t.Error("pause of an unknown database succeeded")
	}
	n, err := p.Kill("shop")
	if err != nil || n != 1 {
		t.Fatalf("kill: %d clients, %v", n, err)
	}
	if _, err := theirs.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client connection after kill: %v", err)
	}
	if !p.IsPaused("shop") {
		t.Fatal("kill should leave shop paused")
	}
}
