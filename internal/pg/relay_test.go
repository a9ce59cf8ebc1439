package pg

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

// Server messages for scripts.
var (
	readyI  = &pgproto3.ReadyForQuery{TxStatus: 'I'}
	readyT  = &pgproto3.ReadyForQuery{TxStatus: 'T'}
	setDone = &pgproto3.CommandComplete{CommandTag: []byte("SET")}
	select1 = &pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")}
	begun   = &pgproto3.CommandComplete{CommandTag: []byte("BEGIN")}
)

// scripted starts motorpool in front of a fake server that plays scripts on its
// connections in order; a script that fails fails the test when it ends.
func scripted(t *testing.T, o envOptions, scripts ...pgtest.Script) *env {
	t.Helper()
	log := &serverLog{}
	t.Cleanup(func() { // runs after the env is closed
		if _, errs := log.snapshot(); len(errs) > 0 {
			t.Errorf("fake server: %v", errs)
		}
	})
	return newEnv(t, o, pgtest.Sequence(log.fail, scripts...))
}

// TestSetIsUndoneByTheSettingItNames: a SET seen in transaction mode follows the
// client; the next client of the server connection gets it reset, by the name of the
// parameter it changed. A wrong name makes PostgreSQL refuse the whole reset
// (unrecognized configuration parameter), so the setting would leak to that client
// and the client would get an error for a query it did not send.
func TestSetIsUndoneByTheSettingItNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		set   string
		reset string
	}{
		{name: "name=value without blanks", set: "SET search_path=app", reset: `RESET "search_path";`},
		{name: "SET TIME ZONE changes timezone", set: "SET TIME ZONE 'Europe/Paris'", reset: `RESET "timezone";`},
		{name: "SET NAMES changes client_encoding", set: "SET NAMES 'LATIN1'", reset: `RESET "client_encoding";`},
		{name: "SET SCHEMA changes search_path", set: "SET SCHEMA 'app'", reset: `RESET "search_path";`},
		{name: "a quoted name", set: `SET "work_mem" TO '1MB'`, reset: `RESET "work_mem";`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := scripted(t, envOptions{limit: 1}, pgtest.Script{
				pgtest.Login(nil),
				pgtest.ExpectQuery(tt.set), pgtest.Send(setDone, readyI),
				pgtest.ExpectQuery(tt.reset), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("RESET")}, readyI),
				pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
			})
			a := e.connect()
			assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query(tt.set)))
			b := e.connect()
			assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")), "the reset is motorpool's: its answers are not relayed")
		})
	}
}

// TestSessionStateFollowsTheClientToAnotherServerConnection: what a client changed on
// one server connection, by a SET motorpool recognises or by a ParameterStatus the
// server reported for any other statement, is applied on the next server connection
// the client lands on, before its statement, and the answers to motorpool's own
// statements are not relayed.
func TestSessionStateFollowsTheClientToAnotherServerConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		query    string
		reply    []pgproto3.BackendMessage
		sync     string // what the second server connection gets for a
		reset    string // what the first gets before b's statement
		relayed  string
		syncSays []pgproto3.BackendMessage
	}{
		{
			name:    "a SET is replayed",
			query:   "SET search_path TO app",
			reply:   []pgproto3.BackendMessage{setDone, readyI},
			sync:    "SET search_path TO app\n;",
			reset:   `RESET "search_path";`,
			relayed: "CommandComplete ReadyForQuery(I)",
		},
		{
			name:     "a reported parameter is set to its reported value",
			query:    "SELECT app.login()",
			reply:    []pgproto3.BackendMessage{&pgproto3.ParameterStatus{Name: "application_name", Value: "y"}, select1, readyI},
			sync:     "SELECT pg_catalog.set_config('application_name', 'y', false);",
			reset:    `RESET "application_name";`,
			relayed:  "ParameterStatus CommandComplete ReadyForQuery(I)",
			syncSays: []pgproto3.BackendMessage{&pgproto3.ParameterStatus{Name: "application_name", Value: "y"}},
		},
		{
			name:     "SET TIME ZONE, reported as TimeZone, is replayed once",
			query:    "SET TIME ZONE 'Europe/Paris'",
			reply:    []pgproto3.BackendMessage{&pgproto3.ParameterStatus{Name: "TimeZone", Value: "Europe/Paris"}, setDone, readyI},
			sync:     "SET TIME ZONE 'Europe/Paris'\n;",
			reset:    `RESET "timezone";`,
			relayed:  "ParameterStatus CommandComplete ReadyForQuery(I)",
			syncSays: []pgproto3.BackendMessage{&pgproto3.ParameterStatus{Name: "TimeZone", Value: "Europe/Paris"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := scripted(t, envOptions{limit: 2},
				pgtest.Script{
					pgtest.Login(nil),
					pgtest.ExpectQuery(tt.query), pgtest.Send(tt.reply...),
					pgtest.ExpectQuery(tt.reset), pgtest.Send(setDone, readyI),
					pgtest.ExpectQuery("BEGIN"), pgtest.Send(begun, readyT),
				},
				pgtest.Script{
					pgtest.Login(nil),
					pgtest.ExpectQuery(tt.sync), pgtest.Send(append(tt.syncSays, setDone, readyI)...),
					pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
				})
			a := e.connect()
			assert.Equal(t, tt.relayed, types(a.query(tt.query)))
			e.awaitIdle(1)
			b := e.connect()
			assert.Equal(t, "CommandComplete ReadyForQuery(T)", types(b.query("BEGIN")), "b holds the first server connection")
			assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query("SELECT 1")), "a lands on the second")
		})
	}
}

// TestPipelineErrorSkipsToSync: when a request of an extended-protocol pipeline fails,
// PostgreSQL skips every message up to Sync. motorpool must drop the answers it would
// have synthesized for skipped messages (a Close it answers itself) and undo the
// client's names for statements whose Parse was skipped, so the client sees exactly
// what PostgreSQL would have said.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
func TestPipelineErrorSkipsToSync(t *testing.T) {
	t.Parallel()
	var got []string
	log := &serverLog{}
	e := newEnv(t, envOptions{limit: 1}, func(c *pgtest.Conn) {
		c.Trace = func(m pgtest.Message) { log.add(m.String()) }
		respondLogin(c)
	})
	c := e.connect()
	c.send(
		&pgproto3.Parse{Name: "ok", Query: "SELECT 1"},
		&pgproto3.Sync{},
	)
	require.Equal(t, "ParseComplete ReadyForQuery(I)", types(c.untilReady()))
	c.send(
		&pgproto3.Parse{Name: "s1", Query: "SELECT 1"},
		&pgproto3.Bind{PreparedStatement: "s1"},
		&pgproto3.Execute{},
		&pgproto3.Parse{Name: "bad", Query: "SELECT FAIL"},
		&pgproto3.Bind{PreparedStatement: "bad"},
		&pgproto3.Execute{},
		&pgproto3.Close{ObjectType: 'S', Name: "ok"},
		&pgproto3.Parse{Name: "later", Query: "SELECT 2"},
		&pgproto3.Parse{Name: "s1", Query: "SELECT 1"},
		&pgproto3.Sync{},
	)
	assert.Equal(t, "ParseComplete BindComplete CommandComplete ErrorResponse(42601) ReadyForQuery(I)", types(c.untilReady()),
		"nothing after the error but ReadyForQuery: no CloseComplete, no ParseComplete, no duplicate-statement error")

	c.send(&pgproto3.Describe{ObjectType: 'S', Name: "later"}, &pgproto3.Sync{})
	assert.Equal(t, "ErrorResponse(26000) ReadyForQuery(I)", types(c.untilReady()), "a skipped Parse created nothing")
	c.send(&pgproto3.Describe{ObjectType: 'S', Name: "bad"}, &pgproto3.Sync{})
	assert.Equal(t, "ErrorResponse(26000) ReadyForQuery(I)", types(c.untilReady()), "a failed Parse created nothing")
	c.send(&pgproto3.Parse{Name: "bad", Query: "SELECT 3"}, &pgproto3.Sync{})
	assert.Equal(t, "ParseComplete ReadyForQuery(I)", types(c.untilReady()), "its name is free")
	c.send(&pgproto3.Describe{ObjectType: 'S', Name: "s1"}, &pgproto3.Sync{})
	assert.Equal(t, "ParameterDescription NoData ReadyForQuery(I)", types(c.untilReady()), "a statement prepared before the error stays")
	c.send(&pgproto3.Describe{ObjectType: 'S', Name: "ok"}, &pgproto3.Sync{})
	assert.Equal(t, "ParameterDescription NoData ReadyForQuery(I)", types(c.untilReady()),
		"a Close skipped after the error closed nothing")
	c.close()
	got, _ = log.snapshot()
	t.Logf("server received: %v", got)
}

// TestLargeBindIsMappedWhateverTheReadsSplit: a Bind larger than the relay buffer has
// its statement name mapped while its parameters stream; the name must be mapped even
// when only the Bind's header has arrived when the relay gets to it (here: the header
// alone ends the client's first write, and the rest is written once the server has
// seen the message before it).
func TestLargeBindIsMappedWhateverTheReadsSplit(t *testing.T) {
	t.Parallel()
	described := make(chan struct{}, 1)
	var bound []*pgproto3.Bind
	var mu sync.Mutex
	e := newEnv(t, envOptions{limit: 1}, func(c *pgtest.Conn) {
		c.Trace = func(m pgtest.Message) {
			switch m.Type {
			case 'D':
				described <- struct{}{}
			case 'B':
				msg, err := m.Decode()
				if err == nil {
					mu.Lock()
					bound = append(bound, msg.(*pgproto3.Bind))
					mu.Unlock()
				}
			}
		}
		respondLogin(c)
	})
	c := e.connect()
	c.send(&pgproto3.Parse{Name: "s1", Query: "SELECT $1::text"}, &pgproto3.Sync{})
	require.Equal(t, "ParseComplete ReadyForQuery(I)", types(c.untilReady()))

	param := bytes.Repeat([]byte("p"), 3*clientBufSize)
	bind, err := (&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{param}}).Encode(nil)
	require.NoError(t, err)
	first, _ := (&pgproto3.Describe{ObjectType: 'S', Name: "s1"}).Encode(nil)
	first, _ = (&pgproto3.Flush{}).Encode(first)
	require.NoError(t, c.sendRaw(append(first, bind[:headerLen]...)))
	select {
	case <-described:
	case <-time.After(hangTimeout):
		t.Fatal("the server never got the Describe")
	}
	rest := append([]byte(nil), bind[headerLen:]...)
	rest, _ = (&pgproto3.Execute{}).Encode(rest)
	rest, _ = (&pgproto3.Sync{}).Encode(rest)
	require.NoError(t, c.sendRaw(rest))
	assert.Equal(t, "ParameterDescription NoData BindComplete CommandComplete ReadyForQuery(I)", types(c.untilReady()))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bound, 1)
	assert.Equal(t, "mp_1", bound[0].PreparedStatement)
	assert.Equal(t, [][]byte{param}, bound[0].Parameters)
}

// TestWaitForASlowDialIsNotCalledExhausted: a client that gives up while the pool's
// server connection is still being opened (pool_timeout shorter than the server's
// login) is told so, not that the pool is exhausted and should be made larger.
func TestWaitForASlowDialIsNotCalledExhausted(t *testing.T) {
	t.Parallel()
	e := scripted(t, envOptions{limit: 2, poolTimeout: "200ms", database: "    connect_timeout: 5s\n"},
		pgtest.Script{pgtest.WaitClose()}, // accepts, never answers the login
		pgtest.Script{pgtest.WaitClose()})
	_, msgs, err := e.tryConnect() // the login waits for a server connection
	require.Error(t, err)
	require.Equal(t, "53300", errorCode(msgs), "got %s", types(msgs))
	msg := lastError(msgs).Message
	assert.Contains(t, msg, "0/2 in use and the others still being opened")
	assert.NotContains(t, msg, "raise connection_limit")
}
