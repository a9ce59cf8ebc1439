package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/testenv"
)

// A leaver is what a client does before it goes away: rounds it waits the answers of,
// then messages it sends and never waits for.
type leaver struct {
	name   string
	rounds []round
	// unanswered are sent last; the client leaves without reading the answer. A
	// CopyData after them is sent once the server asked for it (copyIn).
	unanswered []pgproto3.FrontendMessage
	copyIn     bool
}

var leavers = []leaver{
	{name: "inside a transaction holding locks, a temp table and session settings", rounds: []round{
		{query("BEGIN")},
		{query("CREATE TEMP TABLE leftover (x int)")},
		{query("SET search_path = leftover_schema, public")},
		{query("SET statement_timeout = 1234")},
		{query("SELECT * FROM dirty FOR UPDATE")},
		{query("LOCK TABLE dirty IN SHARE MODE")},
		{query("SELECT pg_advisory_xact_lock(1)")},
		{query("SELECT pg_advisory_lock(2)")},
		{query("INSERT INTO dirty VALUES (99)")},
	}},
	{name: "inside a failed transaction", rounds: []round{
		{query("BEGIN")},
		{query("INSERT INTO dirty VALUES (99)")},
		{query("SELECT 1/0")},
	}},
	{name: "outside a transaction with session state", rounds: []round{
		{query("CREATE TEMP TABLE leftover (x int)")},
		{query("SET search_path = leftover_schema, public")},
		{query("SET application_name = 'leaver'")},
		{query("SELECT pg_advisory_lock(2)")},
		{query("LISTEN leftover_channel")},
		{query("PREPARE leftover_stmt AS SELECT 1")},
		{query("DECLARE leftover_cursor CURSOR WITH HOLD FOR SELECT 1")},
	}},
	{name: "with a query still running", unanswered: []pgproto3.FrontendMessage{
		query("SELECT pg_sleep(60)"),
	}},
	{name: "inside a transaction with a query still running", rounds: []round{
		{query("BEGIN")},
		{query("CREATE TEMP TABLE leftover (x int)")},
		{query("SET search_path = leftover_schema, public")},
		{query("SELECT pg_advisory_xact_lock(1)")},
		{query("INSERT INTO dirty VALUES (99)")},
	}, unanswered: []pgproto3.FrontendMessage{
		query("SELECT pg_sleep(60)"),
	}},
	{name: "with a large result unread", unanswered: []pgproto3.FrontendMessage{
		query("SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g"),
	}},
	{name: "during COPY TO STDOUT", unanswered: []pgproto3.FrontendMessage{
		query("COPY (SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g) TO STDOUT"),
	}},
	{name: "during COPY FROM STDIN", copyIn: true, unanswered: []pgproto3.FrontendMessage{
		query("COPY dirty FROM STDIN"),
	}},
	{name: "during COPY FROM STDIN inside a transaction", copyIn: true, rounds: []round{
		{query("BEGIN")},
		{query("INSERT INTO dirty VALUES (99)")},
	}, unanswered: []pgproto3.FrontendMessage{
		query("COPY dirty FROM STDIN"),
	}},
	{name: "in the middle of a pipeline without Sync", unanswered: []pgproto3.FrontendMessage{
		parse("", "SELECT pg_sleep(60)"), bind(""), execute(0),
	}},
	{name: "in the middle of a pipeline with Flush", unanswered: []pgproto3.FrontendMessage{
		parse("", "INSERT INTO dirty VALUES (99)"), bind(""), execute(0),
		parse("", "SELECT 1"), bind(""), execute(0), &pgproto3.Flush{},
	}},
	{name: "in the middle of a pipeline inside a transaction", rounds: []round{
		{query("BEGIN")},
	}, unanswered: []pgproto3.FrontendMessage{
		parse("", "INSERT INTO dirty VALUES (99)"), bind(""), execute(0),
	}},
}

// TestLeavingClientNeverLeavesADirtyServerConnection: whatever a client was doing when
// it left — killed, or saying goodbye — the next client on the same server connection
// (a pool of 1) finds no open transaction, no temporary table, no session setting, no
// lock, no LISTEN, no prepared statement or cursor, and none of the leaver's
// uncommitted rows.
func TestLeavingClientNeverLeavesADirtyServerConnection(t *testing.T) {
	t.Parallel()
	p, db, direct := cleanlinessFixture(t)
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			s := poolOfOne(mode, p, db)
			e := start(t, s)
			for _, l := range leavers {
				for _, how := range []string{"killed", "saying goodbye"} {
					t.Run(l.name+" "+how, func(t *testing.T) {
						leave(t, e, l, how == "killed")
						next := connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, "application_name=next"))
						assertClean(t, next)
						assertUnlocked(t, direct)
					})
				}
			}
		})
	}
}

// cleanlinessFixture returns a database with what assertClean looks for (the table
// dirty, with one row, and the schema leftover_schema) and a direct superuser
// connection to it.
func cleanlinessFixture(t *testing.T) (*testenv.PG, string, *pgx.Conn) {
	t.Helper()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	direct := p.Connect(t, p.SuperUser, "", db)
	mustExec(t, direct, "CREATE TABLE dirty (x int)", "INSERT INTO dirty VALUES (1)",
		"GRANT ALL ON dirty TO PUBLIC", "CREATE SCHEMA leftover_schema", "GRANT ALL ON SCHEMA leftover_schema TO PUBLIC")
	return p, db, direct
}

// poolOfOne is a motorpool in pool mode mode with one server connection to db, which
// every client shares in turn, with trust logins so raw clients can connect.
func poolOfOne(mode string, p *testenv.PG, db string) setup {
	return setup{Mode: mode, PoolSize: 1, ClientAuth: "trust", ServerUser: testenv.TrustUser,
		PG: p, Database: db, URLParams: "pool_timeout=20"}
}

// leave plays l on a new raw client, then closes it: abruptly, or with Terminate.
func leave(t *testing.T, e *env, l leaver, kill bool) {
	t.Helper()
	c := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
	for _, r := range l.rounds {
		c.round(t, r...)
	}
	if len(l.unanswered) > 0 {
		c.send(l.unanswered...)
		if err := c.fe.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if l.copyIn {
		c.conn.SetReadDeadline(time.Now().Add(time.Minute))
		for {
			msg, err := c.fe.Receive()
			if err != nil {
				t.Fatalf("waiting for CopyInResponse: %v", err)
			}
			if _, ok := msg.(*pgproto3.CopyInResponse); ok {
				break
			}
		}
		c.send(&pgproto3.CopyData{Data: []byte("7\n8\n")})
		c.fe.Flush()
	}
	if strings.Contains(l.name, "running") || strings.Contains(l.name, "Sync") {
		waitActive(t, e.Direct(t), "pg_sleep(60)")
	}
	if !kill {
		c.send(&pgproto3.Terminate{})
		c.fe.Flush()
	}
	c.conn.Close()
}

// assertClean checks that conn's server session carries nothing of an earlier client.
func assertClean(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	var (
		xid                                   *int64
		searchPath, timeout, app              string
		temps, locks, listens, stmts, cursors int64
		rows                                  int64
	)
	err := conn.QueryRow(ctx, `SELECT txid_current_if_assigned(),
			current_setting('search_path'), current_setting('statement_timeout'), current_setting('application_name'),
			(SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()),
			(SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'),
			(SELECT count(*) FROM pg_listening_channels()),
			(SELECT count(*) FROM pg_prepared_statements WHERE from_sql),
			(SELECT count(*) FROM pg_cursors WHERE name <> ''),
			(SELECT count(*) FROM dirty WHERE x <> 1)`).
		Scan(&xid, &searchPath, &timeout, &app, &temps, &locks, &listens, &stmts, &cursors, &rows)
	if err != nil {
		t.Fatalf("the next client's query failed: %v", err)
	}
	problems := []string{}
	check := func(bad bool, format string, args ...any) {
		if bad {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(conn.PgConn().TxStatus() != 'I' || xid != nil, "a transaction is open (status %c, xid %v)", conn.PgConn().TxStatus(), xid)
	check(searchPath != `"$user", public`, "search_path is %q", searchPath)
	check(timeout != "0", "statement_timeout is %q", timeout)
	check(app != "next", "application_name is %q, want the client's own \"next\"", app)
	check(temps != 0, "%d temporary tables are left", temps)
	check(locks != 0, "%d locks are held", locks)
	check(listens != 0, "%d LISTENs are left", listens)
	check(stmts != 0, "%d SQL prepared statements are left", stmts)
	check(cursors != 0, "%d cursors are open", cursors)
	check(rows != 0, "%d uncommitted rows of the leaver are visible", rows)
	if len(problems) > 0 {
		t.Fatalf("the server connection was handed over dirty: %s", strings.Join(problems, "; "))
	}
	var tx pgx.Tx
	tx, err = conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '30s'; LOCK TABLE dirty IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatalf("the table is still locked by someone: %v", err)
	}
}

// assertUnlocked waits until no session of the database holds an advisory lock or a
// lock on the test table: a server connection that was destroyed instead of cleaned
// takes a moment to exit.
func assertUnlocked(t *testing.T, direct *pgx.Conn) {
	t.Helper()
	eventually(t, time.Minute, "locks of the leaver released", func() error {
		n := queryInt(t, direct, `SELECT count(*) FROM pg_locks WHERE pid <> pg_backend_pid()
			AND (locktype = 'advisory' OR relation = 'dirty'::regclass)`)
		if n != 0 {
			return fmt.Errorf("%d locks held", n)
		}
		return nil
	})
}

// extendedStateRounds create session state through the extended query protocol, as
// JDBC and other drivers that prepare every statement do: unnamed and named
// statements, the named one executed again later (so motorpool prepares it anew on a
// server connection that was reset meanwhile).
var extendedStateRounds = []round{
	{parse("", "SET search_path = leftover_schema, public"), bind(""), execute(0), syncMsg()},
	{parse("s_timeout", "SET statement_timeout = 1234"), syncMsg()},
	{bind("s_timeout"), execute(0), syncMsg()},
	{parse("", "SET application_name = 'stayer'"), bind(""), execute(0),
		parse("", "CREATE TEMP TABLE leftover (x int)"), bind(""), execute(0), syncMsg()},
	{parse("", "SELECT pg_advisory_lock(2)"), bind(""), execute(0), syncMsg()},
	{parse("", "LISTEN leftover_channel"), bind(""), execute(0), syncMsg()},
	{parse("", "PREPARE leftover_stmt AS SELECT 1"), bind(""), execute(0), syncMsg()},
	{parse("", "DECLARE leftover_cursor CURSOR WITH HOLD FOR SELECT 1"), bind(""), execute(0), syncMsg()},
}

// TestExtendedProtocolSessionStateNeverReachesTheNextClient: session state a client
// creates with Parse/Bind/Execute instead of a simple query (settings, a temporary
// table, a session lock, LISTEN, SQL PREPARE, a WITH HOLD cursor) stays with that
// client: the next client on its server connection (a pool of 1) finds a clean
// session, and the client that made state transaction pooling cannot keep is warned
// once (01000). With prepared statements mapped, its settings follow it, as a simple
// query's do; relayed as they are, they last until its transaction ends.
func TestExtendedProtocolSessionStateNeverReachesTheNextClient(t *testing.T) {
	t.Parallel()
	p, db, direct := cleanlinessFixture(t)
	for _, mapped := range []bool{true, false} {
		t.Run(fmt.Sprintf("mapped=%v", mapped), func(t *testing.T) {
			s := poolOfOne("transaction", p, db)
			rounds := append(extendedStateRounds, extendedStateRounds[2])
			if !mapped {
				// A named statement is then the server connection's, gone with its reset.
				s.DBYAML = "    prepared_statements: false\n"
				rounds = append([]round{extendedStateRounds[0]}, extendedStateRounds[3:]...)
			}
			e := start(t, s)
			stayer := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
			// The next client prepares nothing: unmapped, its statements would go with
			// each reset.
			next := connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, "application_name=next&default_query_exec_mode=simple_protocol"))
			warnings := 0
			for i, r := range rounds {
				stayer.send(r...)
				if err := stayer.fe.Flush(); err != nil {
					t.Fatal(err)
				}
				stayer.conn.SetReadDeadline(time.Now().Add(time.Minute))
				for ready := false; !ready; {
					msg, err := stayer.fe.Receive()
					if err != nil {
						t.Fatalf("round %d: %v", i, err)
					}
					switch m := msg.(type) {
					case *pgproto3.NoticeResponse:
						if m.Code == "01000" {
							warnings++
						}
					case *pgproto3.ErrorResponse:
						t.Fatalf("round %d: %s", i, describe(m))
					case *pgproto3.ReadyForQuery:
						ready = true
					}
				}
				assertClean(t, next)
				assertUnlocked(t, direct)
			}
			if warnings != 1 {
				t.Errorf("the client was warned %d times that its session state does not survive pooling, want once", warnings)
			}
			if !mapped {
				return
			}
			got := stayer.round(t, query(`SELECT current_setting('search_path') || '|' ||
				current_setting('statement_timeout') || '|' || current_setting('application_name')`))
			if want := "DataRow leftover_schema, public|1234ms|stayer"; got[1] != want {
				t.Errorf("the client's own settings after its turns: %q, want %q", got[1], want)
			}
		})
	}
}

// TestSessionStateHiddenInAQueryNeverReachesTheNextClient: in transaction mode, state
// created past a query's first word or in a later statement of a multi-statement
// query (a SET, a temporary table, a session lock, LISTEN, a WITH HOLD cursor) is
// not handed to the next client of the server connection, while the client that
// created it is still connected.
func TestSessionStateHiddenInAQueryNeverReachesTheNextClient(t *testing.T) {
	t.Parallel()
	p, db, direct := cleanlinessFixture(t)
	e := start(t, poolOfOne("transaction", p, db))
	for _, q := range []string{
		"select 1; set statement_timeout = 1234",
		"begin; set search_path = leftover_schema, public; commit",
		"select 1 as s into temp leftover",
		"create table pg_temp.leftover (x int)",
		"create /* c */ temp table leftover (x int)",
		"/* a /* nested */ comment */ set statement_timeout = 1234",
		"do $$begin perform set_config('statement_timeout', '1234', false); end$$",
		"do $$begin create temp table leftover (x int); end$$",
		"select pg_advisory_lock(2), pg_advisory_xact_lock(3)",
		"select SET_CONFIG('statement_timeout', '1234', false)",
		"select 1; listen leftover_channel",
		"begin; declare leftover_cursor cursor  with  hold for select 1; commit",
	} {
		t.Run(q, func(t *testing.T) {
			c := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
			c.round(t, query(q))
			next := connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, "application_name=next"))
			assertClean(t, next)
			assertUnlocked(t, direct)
			c.conn.Close()
		})
	}
	t.Run("a SET hidden by a backslash with standard_conforming_strings off", func(t *testing.T) {
		c := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
		defer c.conn.Close()
		c.round(t, query("set standard_conforming_strings = off"))
		c.round(t, query(`select 'x\'' ; set statement_timeout = 1234; --'`))
		next := connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, "application_name=next"))
		assertClean(t, next)
	})
}
