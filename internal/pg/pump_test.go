package pg

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

var adminShutdown = &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01",
	Message: "terminating connection due to administrator command"}

// signal is a script step that closes ch.
func signal(ch chan struct{}) pgtest.Step {
	return func(*pgtest.Conn) error { close(ch); return nil }
}

// await is a script step that waits for ch, or fails after hangTimeout.
func await(ch chan struct{}) pgtest.Step {
	return func(*pgtest.Conn) error {
		select {
		case <-ch:
			return nil
		case <-time.After(hangTimeout):
			return errors.New("timed out waiting for the test")
		}
	}
}

// closedByPeer is a script step that half-closes the connection and waits until
// motorpool closes its side: by then its pump has handled everything sent before.
func closedByPeer() pgtest.Step {
	return func(c *pgtest.Conn) error {
		c.Conn.(*net.TCPConn).CloseWrite()
		_, err := io.Copy(io.Discard, c.Conn)
		return err
	}
}

func wait(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangTimeout):
		t.Fatal("timed out waiting for the fake server")
	}
}

// lastError returns the last message if it is an ErrorResponse.
func lastError(msgs []pgproto3.BackendMessage) *pgproto3.ErrorResponse {
	if len(msgs) == 0 {
		return nil
	}
	e, _ := msgs[len(msgs)-1].(*pgproto3.ErrorResponse)
	return e
}

// TestServerFailures: what the server does wrong or on its own (a FATAL error, a
// closed socket, a message out of turn) breaks that server connection only: the
// bound client, if it was owed anything, gets FATAL 08006 and the connection is
// never reused, and a client that was not involved never notices.
func TestServerFailures(t *testing.T) {
	t.Parallel()
	t.Run("a FATAL error while idle in the pool goes unnoticed by clients", func(t *testing.T) {
		t.Parallel()
		kill, gone := make(chan struct{}), make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
			await(kill), pgtest.Send(adminShutdown), closedByPeer(), signal(gone),
		})
		c := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("SELECT 1")))
		close(kill)
		wait(t, gone)
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("SELECT 2")), "served by a new server connection")
		st := e.pool().Core().Stats()
		assert.Equal(t, uint64(2), st.Created)
		assert.Equal(t, uint64(1), st.Destroyed)
	})
	t.Run("a FATAL error while bound inside a transaction reaches the client, which is then ended as a direct connection is", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("BEGIN"), pgtest.Send(begun, readyT),
			pgtest.Send(adminShutdown), pgtest.Close(),
		})
		c := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(T)", types(c.query("BEGIN")))
		msgs := c.untilEOF()
		assert.Equal(t, "ErrorResponse(57P01)", types(msgs), "no second error of motorpool's after the server's")
		other := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(other.query("SELECT 1")))
	})
	t.Run("a server closing in the middle of a result fails the query's client", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT * FROM t"),
			pgtest.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("x"), DataTypeOID: 23, DataTypeSize: 4}}},
				&pgproto3.DataRow{Values: [][]byte{[]byte("1")}}, &pgproto3.DataRow{Values: [][]byte{[]byte("2")}}),
			pgtest.Close(),
		})
		c := e.connect()
		c.send(&pgproto3.Query{String: "SELECT * FROM t"})
		msgs := c.untilEOF()
		assert.Equal(t, "RowDescription DataRow DataRow ErrorResponse(08006)", types(msgs))
		if e := lastError(msgs); assert.NotNil(t, e) {
			assert.Equal(t, "FATAL", e.Severity)
		}
		other := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(other.query("SELECT 1")), "a new server connection serves the next client")
	})
	t.Run("ReadyForQuery before the pipeline's Sync is a protocol violation", func(t *testing.T) {
		t.Parallel()
		closed := make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectType('P'), pgtest.ExpectType('B'), pgtest.ExpectType('H'),
			pgtest.Send(&pgproto3.ParseComplete{}, readyI),
			pgtest.WaitClose(), signal(closed),
		})
		c := e.connect()
		c.send(&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Bind{}, &pgproto3.Flush{})
		msgs := c.untilEOF()
		assert.NotContains(t, types(msgs), "ReadyForQuery", "the stray ReadyForQuery is not relayed")
		assert.Equal(t, "08006", lastError(msgs).Code)
		wait(t, closed)
		other := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(other.query("SELECT 1")))
		assert.Equal(t, uint64(2), e.pool().Core().Stats().Created, "the connection is not reused")
	})
	t.Run("a ReadyForQuery too large for the buffer fails the client it was owed to", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT 1"),
			pgtest.Send(select1),
			pgtest.SendRaw([]byte{'Z', 0x30, 0, 0, 5, 'I'}), // claims 805 MB
			pgtest.Close(),
		})
		c := e.connect()
		c.send(&pgproto3.Query{String: "SELECT 1"})
		assert.Equal(t, "CommandComplete ErrorResponse(08006)", types(c.untilEOF()))
	})
	t.Run("a message nobody asked for breaks the connection, not the idle client", func(t *testing.T) {
		t.Parallel()
		kill, gone := make(chan struct{}), make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
			await(kill), pgtest.Send(select1), closedByPeer(), signal(gone),
		})
		c := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("SELECT 1")))
		close(kill)
		wait(t, gone)
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("SELECT 2")))
	})
	t.Run("an ErrorResponse during login is the client's error", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{limit: 1, poolTimeout: "1s"}, func(c *pgtest.Conn) {
			c.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "28P01", Message: `password authentication failed for user "srv"`})
		})
		_, msgs, err := e.tryConnect()
		require.Error(t, err)
		assert.Equal(t, "28P01", errorCode(msgs), "the database refused motorpool itself: %s", types(msgs))
	})
}

// TestTransactionTimingEndsWhenTheServerIsIdle: a transaction ended by motorpool's
// own statement (the ROLLBACK for a client that left inside one) leaves no start
// time behind, or the next client's first transaction would be timed from it.
func TestTransactionTimingEndsWhenTheServerIsIdle(t *testing.T) {
	t.Parallel()
	sc := &ServerConn{}
	var obs answered
	sc.q.push(expectation{kind: expectQuery, sent: nanotime()}) // the leaver's BEGIN
	route := func(msg []byte) {
		t.Helper()
		if _, _, _, err := sc.route(nil, msg, &obs); err != nil {
			t.Fatal(err)
		}
	}
	route([]byte{msgReadyForQuery, 0, 0, 0, 5, 'T'})
	if sc.txBegan == 0 {
		t.Fatal("no transaction in progress after BEGIN")
	}
	sc.q.push(expectation{kind: expectQuery, drop: true}) // motorpool's ROLLBACK
	route([]byte{msgReadyForQuery, 0, 0, 0, 5, 'I'})
	if sc.txBegan != 0 {
		t.Error("a transaction is still timed after the server reported idle")
	}
	if len(obs.transactions) != 0 {
		t.Errorf("motorpool's own ROLLBACK counted as the client's transaction: %v", obs.transactions)
	}
}
