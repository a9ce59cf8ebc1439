package pg

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

// sendCancelTo sends a CancelRequest with the given body to motorpool and waits until
// motorpool closes the connection, as it does once it has handled the request.
func sendCancelTo(t *testing.T, addr string, body []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(hangTimeout))
	_, err = conn.Write(startupBytes(codeCancel, body))
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, conn)
	require.NoError(t, err, "motorpool closes the connection")
	assert.Zero(t, n, "a cancel request gets no answer")
}

func keyBody(k pgproto3.BackendKeyData) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, k.ProcessID), binary.BigEndian.Uint32(k.SecretKey))
}

var canceled = &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "57014", Message: "canceling statement due to user request"}

// TestCancelRequests: a cancel request reaches the server connection working for the
// client that holds the key, with that server's own key; any other (a key nobody
// holds, a client whose server connection was released to another client, a client
// that left) is dropped, never forwarded to a connection working for someone else.
func TestCancelRequests(t *testing.T) {
	t.Parallel()
	t.Run("a running query is cancelled on its server with the server's key", func(t *testing.T) {
		t.Parallel()
		key := make(chan pgtest.CancelRequest, 1)
		running := make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			func(c *pgtest.Conn) error { key <- pgtest.CancelRequest{PID: c.PID, Secret: c.Secret}; return nil },
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT pg_sleep(60)"), signal(running),
			pgtest.WaitCancel(hangTimeout),
			pgtest.Send(canceled, readyI),
		})
		c := e.connect()
		assert.NotEqual(t, uint32(0), c.key.ProcessID)
		c.send(&pgproto3.Query{String: "SELECT pg_sleep(60)"})
		wait(t, running)
		sendCancelTo(t, e.addr, keyBody(c.key))
		assert.Equal(t, "ErrorResponse(57014) ReadyForQuery(I)", types(c.untilReady()))
		e.close() // waits for cancel forwarding
		srv := <-key
		assert.Equal(t, []pgtest.CancelRequest{srv}, e.srv.Cancels())
		assert.NotEqual(t, srv.PID, c.key.ProcessID, "in transaction mode the client's key is motorpool's own")
	})
	t.Run("keys nobody holds are dropped", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{limit: 1}, respondLogin)
		c := e.connect()
		wrong := c.key
		wrong.SecretKey = binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(c.key.SecretKey)+1)
		sendCancelTo(t, e.addr, keyBody(wrong))
		sendCancelTo(t, e.addr, []byte{0, 0, 0, 1, 0, 0, 0, 2})
		sendCancelTo(t, e.addr, []byte{0, 0, 0, 1})                                     // too short
		sendCancelTo(t, e.addr, append(keyBody(c.key), make([]byte, 24)...))            // a 3.2 key motorpool never gave
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("SELECT 1"))) // motorpool still serves
		e.close()
		assert.Empty(t, e.srv.Cancels())
	})
	t.Run("a client whose server connection went to another client is not forwarded", func(t *testing.T) {
		t.Parallel()
		running, finish := make(chan struct{}), make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
			pgtest.ExpectQuery("SELECT pg_sleep(1)"), signal(running), await(finish), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query("SELECT 1")))
		b := e.connect()
		b.send(&pgproto3.Query{String: "SELECT pg_sleep(1)"})
		wait(t, running) // b runs on a's former server connection
		sendCancelTo(t, e.addr, keyBody(a.key))
		close(finish)
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.untilReady()), "b's query is not cancelled")
		e.close()
		assert.Empty(t, e.srv.Cancels())
	})
	t.Run("a client that left is not forwarded", func(t *testing.T) {
		t.Parallel()
		running, finish := make(chan struct{}), make(chan struct{})
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
			pgtest.ExpectQuery("SELECT pg_sleep(1)"), signal(running), await(finish), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query("SELECT 1")))
		key := a.key
		a.close()
		b := e.connect()
		b.send(&pgproto3.Query{String: "SELECT pg_sleep(1)"})
		wait(t, running)
		sendCancelTo(t, e.addr, keyBody(key))
		close(finish)
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.untilReady()), "b's query is not cancelled")
		e.close()
		assert.Empty(t, e.srv.Cancels())
	})
	t.Run("a cancel with nothing running is dropped", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1, mode: "session"}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery(";"), pgtest.Send(&pgproto3.EmptyQueryResponse{}, readyI), // the session's settings probe
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
		})
		c := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("SELECT 1")))
		sendCancelTo(t, e.addr, keyBody(c.key))
		e.close()
		assert.Empty(t, e.srv.Cancels())
		assert.Equal(t, uint32(1001), c.key.ProcessID, "in session mode the client gets the server's process ID")
	})
}
