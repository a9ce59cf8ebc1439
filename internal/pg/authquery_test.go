package pg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
	"github.com/motorpool/motorpool/internal/proxy"
)

const (
	lookupSQL   = "SELECT usename, passwd FROM pg_shadow WHERE usename = $1"
	aliceStored = "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy"
)

// lookupServer is a fake PostgreSQL that answers auth_query lookups by the user
// looked up: "alice" has a stored password, "nobody" has none, "boom" fails the query,
// "intx" leaves a transaction open, "bye" is answered and then the server closes the
// connection, and "hang" waits until release is closed.
type lookupServer struct {
	*pgtest.Server
	open    atomic.Int32  // connections being served
	hanging chan struct{} // a value for each "hang" lookup received
	release chan struct{}
}

func newLookupServer(t *testing.T) *lookupServer {
	s := &lookupServer{hanging: make(chan struct{}, 64), release: make(chan struct{})}
	s.Server = pgtest.NewServer(t, s.serve)
	return s
}

func (s *lookupServer) target(password string) *proxy.Target {
	return &proxy.Target{Addresses: []string{s.Addr()}, User: "lookup", Password: password, Database: "db"}
}

// awaitOpen waits until the server has n connections open: it sees a close a little
// after motorpool makes it.
func (s *lookupServer) awaitOpen(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for int(s.open.Load()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("the server has %d connections open, want %d", s.open.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *lookupServer) serve(c *pgtest.Conn) {
	s.open.Add(1)
	defer s.open.Add(-1)
	if c.Login(nil) != nil {
		return
	}
	user := ""
	for {
		m, err := c.Receive()
		if err != nil {
			return
		}
		switch m.Type {
		case 'B':
			if msg, err := m.Decode(); err == nil && len(msg.(*pgproto3.Bind).Parameters) == 1 {
				user = string(msg.(*pgproto3.Bind).Parameters[0])
			}
		case 'S':
			if !s.answer(c, user) {
				return
			}
		}
	}
}

// answer answers the lookup of user and reports whether to keep the connection.
func (s *lookupServer) answer(c *pgtest.Conn, user string) bool {
	done := &pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")}
	idle := &pgproto3.ReadyForQuery{TxStatus: 'I'}
	row := &pgproto3.DataRow{Values: [][]byte{[]byte(user), []byte(aliceStored)}}
	switch user {
	case "alice":
		return c.Send(row, done, idle) == nil
	case "bye":
		c.Send(row, done, idle)
		return false
	case "boom":
		return c.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42501", Message: "permission denied for view pg_shadow"}, idle) == nil
	case "intx":
		return c.Send(done, &pgproto3.ReadyForQuery{TxStatus: 'T'}) == nil
	case "hang":
		s.hanging <- struct{}{}
		<-s.release
	}
	return c.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")}, idle) == nil
}

func newLookupAdapter(t *testing.T) *Adapter {
	a := New(Config{})
	t.Cleanup(func() { a.Close() })
	return a
}

func TestLookupSecretReusesItsConnection(t *testing.T) {
	srv := newLookupServer(t)
	a := newLookupAdapter(t)
	ctx := context.Background()
	for range 10 {
		s, err := a.LookupSecret(ctx, srv.target("pw"), lookupSQL, "alice")
		require.NoError(t, err)
		assert.Equal(t, aliceStored, s)
		s, err = a.LookupSecret(ctx, srv.target("pw"), lookupSQL, "nobody")
		require.NoError(t, err)
		assert.Empty(t, s, "an unknown user has no stored password")
	}
	assert.Equal(t, 1, srv.Accepts(), "one server connection serves every lookup in turn")
	assert.Equal(t, 1, a.authq.idleConns())
}

func TestLookupSecretOpensAtMostTheCap(t *testing.T) {
	srv := newLookupServer(t)
	a := newLookupAdapter(t)
	users := []string{"alice", "nobody", "boom"}
	var wg sync.WaitGroup
	errs := make(chan error, 90)
	for i := range 90 {
		wg.Go(func() {
			user := users[i%len(users)]
			s, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, user)
			var se *ServerError
			switch {
			case user == "boom" && !(errors.As(err, &se) && se.Code == "42501"):
				errs <- fmt.Errorf("boom: got %q, %v; want the server's 42501", s, err)
			case user == "alice" && (err != nil || s != aliceStored):
				errs <- fmt.Errorf("alice: got %q, %v", s, err)
			case user == "nobody" && (err != nil || s != ""):
				errs <- fmt.Errorf("nobody: got %q, %v", s, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.LessOrEqual(t, srv.Accepts(), authQueryMaxConns, "concurrent lookups share at most the cap of connections")
}

func TestLookupSecretWaitsForAConnection(t *testing.T) {
	srv := newLookupServer(t)
	a := newLookupAdapter(t)
	var wg sync.WaitGroup
	for range authQueryMaxConns {
		wg.Go(func() {
			_, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "hang")
			assert.NoError(t, err)
		})
	}
	for range authQueryMaxConns {
		<-srv.hanging
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.LookupSecret(ctx, srv.target("pw"), lookupSQL, "alice")
	assert.ErrorIs(t, err, context.Canceled, "a lookup that cannot get a connection gives up when its login does")

	waited := make(chan error, 1)
	go func() {
		s, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
		if err == nil && s != aliceStored {
			err = fmt.Errorf("got %q", s)
		}
		waited <- err
	}()
	close(srv.release)
	wg.Wait()
	require.NoError(t, <-waited)
	assert.Equal(t, authQueryMaxConns, srv.Accepts(), "the waiting lookup used a connection another one finished with")
}

func TestLookupSecretKeepsOnlyCleanConnections(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   string
		wantErr bool
		accepts int
	}{
		{"a failed query leaves the connection usable", "boom", true, 1},
		{"a transaction left open discards the connection", "intx", false, 2},
		{"a connection the server closed while idle is replaced", "bye", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newLookupServer(t)
			a := newLookupAdapter(t)
			_, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, tc.first)
			if tc.wantErr {
				var se *ServerError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, "42501", se.Code)
			} else {
				require.NoError(t, err)
			}
			s, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
			require.NoError(t, err)
			assert.Equal(t, aliceStored, s)
			assert.Equal(t, tc.accepts, srv.Accepts())
		})
	}
}

func TestLookupSecretLoginFailure(t *testing.T) {
	srv := pgtest.NewServer(t, func(c *pgtest.Conn) {
		c.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: CodeInvalidPassword, Message: `password authentication failed for user "lookup"`})
	})
	a := newLookupAdapter(t)
	for range 2 {
		_, err := a.LookupSecret(context.Background(), &proxy.Target{Addresses: []string{srv.Addr()}, User: "lookup", Database: "db"}, lookupSQL, "alice")
		var se *ServerError
		require.ErrorAs(t, err, &se, "a failed login is the server's error, each time")
		assert.Equal(t, CodeInvalidPassword, se.Code)
	}
	assert.Zero(t, a.authq.idleConns())
}

func TestAuthQueryConnectionsClose(t *testing.T) {
	srv := newLookupServer(t)
	a := New(Config{})
	_, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
	require.NoError(t, err)
	srv.awaitOpen(t, 1)

	require.NoError(t, a.Close())
	srv.awaitOpen(t, 0)
	require.NoError(t, a.Close(), "Close is idempotent")
	_, err = a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
	assert.ErrorIs(t, err, errAuthQueryClosed)
	assert.Equal(t, 1, srv.Accepts())
}

func TestAuthQueryConnectionsAfterReload(t *testing.T) {
	srv := newLookupServer(t)
	other := newLookupServer(t)
	a := newLookupAdapter(t)
	ctx := context.Background()
	for _, s := range []*lookupServer{srv, other} {
		_, err := a.LookupSecret(ctx, s.target("pw"), lookupSQL, "alice")
		require.NoError(t, err)
	}
	assert.Equal(t, 2, a.authq.idleConns(), "a connection per target")

	// A reload changed the auth user's password: connections logged in with the old
	// one, to any target, are closed.
	_, err := a.LookupSecret(ctx, srv.target("new-pw"), lookupSQL, "alice")
	require.NoError(t, err)
	other.awaitOpen(t, 0)
	srv.awaitOpen(t, 1)
	assert.Equal(t, 2, srv.Accepts())
	assert.Equal(t, 1, a.authq.idleConns())
}

func TestAuthQueryConnectionsIdleTimeout(t *testing.T) {
	srv := newLookupServer(t)
	a := newLookupAdapter(t)
	_, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
	require.NoError(t, err)

	a.authq.sweep(time.Now())
	assert.Equal(t, 1, a.authq.idleConns(), "a connection idle less than the timeout stays")
	a.authq.sweep(time.Now().Add(authQueryIdleTimeout + time.Second))
	assert.Zero(t, a.authq.idleConns())
	srv.awaitOpen(t, 0)

	_, err = a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Accepts())
}

func TestAuthQueryConnectionsClosedByReloaded(t *testing.T) {
	srv := newLookupServer(t)
	a := newLookupAdapter(t)
	_, err := a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
	require.NoError(t, err)
	assert.Equal(t, 1, a.authq.idleConns())

	a.Reloaded() // say, the server's address or TLS settings changed
	srv.awaitOpen(t, 0)
	assert.Zero(t, a.authq.idleConns())
	_, err = a.LookupSecret(context.Background(), srv.target("pw"), lookupSQL, "alice")
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Accepts(), "the next lookup opens a connection")
}
