package pg

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

// Messages carrying these markers make the relay or the pump panic, in this test
// binary only.
const (
	relayPanicMarker = "motorpool test: panic in the relay"
	pumpPanicMarker  = "motorpool test: panic in the pump"
)

func init() {
	testHookClient = func(msg []byte) {
		if bytes.Contains(msg, []byte(relayPanicMarker)) {
			panic("test: the relay panics")
		}
	}
	testHookServer = func(msg []byte) {
		if bytes.Contains(msg, []byte(pumpPanicMarker)) {
			panic("test: the pump panics")
		}
	}
}

// TestPanicInTheRelayCostsOneClient: a bug that panics while a client's message is
// handled, with its server connection locked, ends that client with XX000 and that
// server connection; the pool of one replaces it for the next client, and the panic is
// logged as an error.
func TestPanicInTheRelayCostsOneClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{limit: 1}, respondLogin)
	a := e.connect()
	require.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query("select 1")))
	b := e.connect() // logged in before the panic: it must not notice it
	a.send(&pgproto3.Query{String: "select '" + relayPanicMarker + "'"})
	got := a.untilEOF()
	assert.Equal(t, "XX000", errorCode(got), "the client whose message hit the bug: %s", types(got))

	assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("select 2")), "another client of the same one-connection pool")
	c := e.connect()
	assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("select 3")), "a new client")
	assert.Contains(t, e.logs.takePanics(), "test: the relay panics")
}

// TestPanicInThePumpCostsOneServerConnection: a bug that panics while the pump routes
// a server message ends that server connection, as a failure would: its client, which
// was owed an answer, gets XX000; the process and the other clients go on.
func TestPanicInThePumpCostsOneServerConnection(t *testing.T) {
	t.Parallel()
	e := scripted(t, envOptions{limit: 1}, pgtest.Script{
		pgtest.Login(nil),
		pgtest.ExpectQuery("select 'notice'"),
		pgtest.Send(
			&pgproto3.NoticeResponse{Severity: "NOTICE", Code: "00000", Message: pumpPanicMarker},
			select1,
			&pgproto3.ReadyForQuery{TxStatus: 'I'},
		),
	})
	a := e.connect()
	b := e.connect()
	a.send(&pgproto3.Query{String: "select 'notice'"})
	got := a.untilEOF()
	assert.Equal(t, "XX000", errorCode(got), "the client owed an answer: %s", types(got))

	assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("select 2")), "another client of the same one-connection pool")
	assert.Contains(t, e.logs.takePanics(), "test: the pump panics")
}
