package pg

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

var (
	discarded  = &pgproto3.CommandComplete{CommandTag: []byte("DISCARD ALL")}
	rolledBack = &pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")}
	emptyQuery = &pgproto3.EmptyQueryResponse{}
)

// TestServerConnectionsAreCleanForTheNextClient: session state a client leaves
// behind never reaches the next client of its server connection.
func TestServerConnectionsAreCleanForTheNextClient(t *testing.T) {
	t.Parallel()
	t.Run("state motorpool cannot carry is reset before the next client", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("CREATE TEMP TABLE t (x int)"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("CREATE TABLE")}, readyI),
			pgtest.ExpectQuery("DISCARD ALL"), pgtest.Send(discarded, readyI),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete NoticeResponse ReadyForQuery(I)", types(a.query("CREATE TEMP TABLE t (x int)")),
			"the client is warned that its temporary table does not survive pooling")
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")), "the reset's answers are not relayed")
	})
	t.Run("in statement mode the warning names statement pooling", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1, mode: "statement"}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("CREATE TEMP TABLE t (x int)"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("CREATE TABLE")}, readyI),
		})
		msgs := e.connect().query("CREATE TEMP TABLE t (x int)")
		n, ok := msgs[1].(*pgproto3.NoticeResponse)
		if assert.True(t, ok, "a warning: %s", types(msgs)) {
			assert.Equal(t, "motorpool: a temporary table does not survive statement pooling", n.Message)
		}
	})
	t.Run("in session mode a client that leaves has its connection reset", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1, mode: "session"}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery(";"), pgtest.Send(emptyQuery, readyI), // a's login
			pgtest.ExpectQuery("SET work_mem = '1MB'"), pgtest.Send(setDone, readyI),
			pgtest.ExpectQuery("DISCARD ALL"), pgtest.Send(discarded, readyI),
			pgtest.ExpectQuery(";"), pgtest.Send(emptyQuery, readyI), // b's login
			pgtest.ExpectQuery("SHOW work_mem"), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query("SET work_mem = '1MB'")))
		a.close()
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SHOW work_mem")))
	})
	t.Run("a reset_query other than DISCARD ALL is followed by RESET ALL and DEALLOCATE ALL", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1, database: "    reset_query: SELECT pg_advisory_unlock_all()"}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("LISTEN c"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("LISTEN")}, readyI),
			pgtest.ExpectQuery("SELECT pg_advisory_unlock_all()"), pgtest.Send(select1, readyI),
			pgtest.ExpectQuery("RESET ALL"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("RESET")}, readyI),
			pgtest.ExpectQuery("DEALLOCATE ALL"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("DEALLOCATE ALL")}, readyI),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete NoticeResponse ReadyForQuery(I)", types(a.query("LISTEN c")))
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")), "the reset's answers are not relayed")
	})
	t.Run("with an empty reset_query a dirty connection is closed, not handed on", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1, database: `    reset_query: ""`}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("LISTEN c"), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("LISTEN")}, readyI),
			pgtest.ExpectType('X'),
		}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete NoticeResponse ReadyForQuery(I)", types(a.query("LISTEN c")))
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")))
	})
	t.Run("in session mode an empty reset_query resets nothing but the settings motorpool follows", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1, mode: "session", database: `    reset_query: ""`}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery(";"), pgtest.Send(emptyQuery, readyI), // a's login
			pgtest.ExpectQuery("SET work_mem = '1MB'"), pgtest.Send(setDone, readyI),
			// b's login, on the same connection: b's settings are applied, as on any
			// connection with other settings.
			pgtest.ExpectQuery(`RESET "work_mem";;`), pgtest.Send(&pgproto3.CommandComplete{CommandTag: []byte("RESET")}, emptyQuery, readyI),
			pgtest.ExpectQuery("SHOW work_mem"), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query("SET work_mem = '1MB'")))
		a.close()
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SHOW work_mem")))
	})
	t.Run("statement mode refuses a transaction block and rolls it back", func(t *testing.T) {
		t.Parallel()
		e := scripted(t, envOptions{limit: 1, mode: "statement"}, pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("BEGIN"), pgtest.Send(begun, readyT),
			pgtest.ExpectQuery("ROLLBACK"), pgtest.Send(rolledBack, readyI),
			pgtest.ExpectQuery("SELECT 1"), pgtest.Send(select1, readyI),
		})
		a := e.connect()
		a.send(&pgproto3.Query{String: "BEGIN"})
		msgs := a.untilEOF()
		if assert.NotNil(t, lastError(msgs)) {
			assert.Equal(t, "0A000", lastError(msgs).Code)
			assert.Equal(t, "FATAL", lastError(msgs).Severity)
		}
		b := e.connect()
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(b.query("SELECT 1")))
	})
}
