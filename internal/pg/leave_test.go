package pg

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

// TestClientLeavingMidRequest: a client that disconnects in the middle of a request
// must leave its server connection at a point where the next client can use it,
// with the client's unfinished work undone, as PostgreSQL undoes it when its own
// client disconnects (the backend exits and the transaction rolls back).
func TestClientLeavingMidRequest(t *testing.T) {
	t.Parallel()
	pipeline := []pgproto3.FrontendMessage{
		&pgproto3.Parse{Query: "INSERT INTO t VALUES (1)"},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Flush{},
	}
	t.Run("an extended batch without Sync is rolled back before the next client", func(t *testing.T) {
		t.Parallel()
		log := &serverLog{}
		e := newEnv(t, envOptions{limit: 1}, func(c *pgtest.Conn) {
			c.Trace = func(m pgtest.Message) { log.add(m.String()) }
			respondLogin(c)
		})
		a := e.connect()
		a.send(pipeline...)
		assert.Equal(t, "ParseComplete", types([]pgproto3.BackendMessage{a.receive()}))
		assert.Equal(t, "BindComplete", types([]pgproto3.BackendMessage{a.receive()}))
		assert.Equal(t, "CommandComplete", types([]pgproto3.BackendMessage{a.receive()}))
		a.close()

		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")))
		got, _ := log.snapshot()
		exec := slices.Index(got, `E("\x00\x00\x00\x00\x00")`)
		next := slices.Index(got, `Query("SELECT 1")`)
		require.True(t, exec >= 0 && next > exec, "server got %q", got)
		between := slices.DeleteFunc(slices.Clone(got[exec+1:next]), func(m string) bool { return m == `H("")` })
		require.Len(t, between, 2, "server got %q", between)
		assert.True(t, strings.HasPrefix(between[0], "P(") && strings.Contains(between[0], "motorpool refused"), "a failing Parse: %q", between[0])
		assert.Equal(t, `S("")`, between[1])
	})
	t.Run("a busy batch without Sync is cancelled, ended and released", func(t *testing.T) {
		t.Parallel()
		received := make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectType('P'), pgtest.ExpectType('B'), pgtest.ExpectType('E'), pgtest.ExpectType('H'),
			func(*pgtest.Conn) error { close(received); return nil },
			pgtest.WaitCancel(hangTimeout), // the client has left
			pgtest.Send(&pgproto3.ParseComplete{}, &pgproto3.BindComplete{}, &pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")}),
			pgtest.ExpectType('f'), // ignored outside COPY
			pgtest.ExpectType('P'),
			pgtest.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42601", Message: "syntax error"}),
			pgtest.ExpectType('S'), pgtest.Send(readyI),
		})
		a := e.connect()
		a.send(pipeline...)
		select { // a holds the server connection
		case <-received:
		case <-time.After(hangTimeout):
			t.Fatal("the server never got the batch")
		}
		a.close()
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")), "the only server connection is back")
	})
	t.Run("a COPY from a client that left is failed", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("COPY t FROM STDIN"), pgtest.Send(&pgproto3.CopyInResponse{}),
			pgtest.ExpectType('d'), pgtest.ExpectType('f'),
			pgtest.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "57014", Message: "COPY from stdin failed: client disconnected"}, readyI),
		})
		a := e.connect()
		a.send(&pgproto3.Query{String: "COPY t FROM STDIN"})
		require.Equal(t, "CopyInResponse", types([]pgproto3.BackendMessage{a.receive()}))
		a.send(&pgproto3.CopyData{Data: []byte("1\n")})
		a.close()
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")), "the only server connection is back")
	})
	t.Run("a busy client inside a transaction block is cancelled, rolled back and released", func(t *testing.T) {
		t.Parallel()
		received := make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("BEGIN"), pgtest.Send(begun, readyT),
			pgtest.ExpectQuery("SELECT pg_sleep(60)"),
			func(*pgtest.Conn) error { close(received); return nil },
			pgtest.WaitCancel(hangTimeout), // the client has left
			pgtest.ExpectType('f'),         // ignored outside COPY
			pgtest.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "57014", Message: "canceling statement due to user request"},
				&pgproto3.ReadyForQuery{TxStatus: 'E'}),
			pgtest.ExpectQuery("ROLLBACK"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")}, readyI),
			// The same connection serves the next client, reset first: the cancelled
			// statement's session state is unknown.
			pgtest.ExpectQuery("DISCARD ALL"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("DISCARD ALL")}, readyI),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(T)", types(a.query("BEGIN")))
		a.send(&pgproto3.Query{String: "SELECT pg_sleep(60)"})
		select { // a holds the server connection
		case <-received:
		case <-time.After(hangTimeout):
			t.Fatal("the server never got the query")
		}
		a.close()
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")), "the only server connection is back")
		assert.Equal(t, 1, e.srv.Accepts()-len(e.srv.Cancels()), "the server connection was closed and another opened")
	})
	t.Run("a client inside a transaction block is rolled back", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("BEGIN"), pgtest.Send(begun, readyT),
			pgtest.ExpectQuery("ROLLBACK"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")}, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(T)", types(a.query("BEGIN")))
		a.close()
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")))
	})
}

// TestLoginWaitsForAServerConnectionAsLongAsPoolTimeout: a session-mode client whose
// login waits for the pool's only server connection waits up to pool_timeout, though
// that is longer than the login timeout (which bounds authentication only).
func TestLoginWaitsForAServerConnectionAsLongAsPoolTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{limit: 1, mode: "session", poolTimeout: "30s", adapter: Config{LoginTimeout: 300 * time.Millisecond}}, respondLogin)
	a := e.connect()
	type result struct {
		c   *client
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, _, err := e.tryConnect()
		got <- result{c, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("b's login ended while a held the only server connection: %v", r.err)
	case <-time.After(time.Second): // more than the login timeout
	}
	a.close()
	select {
	case r := <-got:
		require.NoError(t, r.err, "b's login, once a left")
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(r.c.query("SELECT 1")))
	case <-time.After(hangTimeout):
		t.Fatal("b never logged in")
	}
}
