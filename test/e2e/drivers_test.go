package e2e

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/testenv"
)

// Frontend messages drivers send that protocol_test.go has no shorthand for.
func flushMsg() *pgproto3.Flush { return &pgproto3.Flush{} }
func bindPortal(portal, stmt string, args ...string) *pgproto3.Bind {
	b := bind(stmt, args...)
	b.DestinationPortal = portal
	return b
}
func executePortal(portal string, maxRows uint32) *pgproto3.Execute {
	return &pgproto3.Execute{Portal: portal, MaxRows: maxRows}
}
func describeNamedPortal(portal string) *pgproto3.Describe {
	return &pgproto3.Describe{ObjectType: 'P', Name: portal}
}
func closePortal(portal string) *pgproto3.Close {
	return &pgproto3.Close{ObjectType: 'P', Name: portal}
}

// driverStep is one round sent by one of a scenario's clients (numbered from 0; each
// is its own connection, opened at its first step and kept to the end).
type driverStep struct {
	client int
	msgs   round
}

// driverScenarios are message sequences that client drivers of other ecosystems send
// (asyncpg, psycopg, pgjdbc, node-postgres), reduced to the protocol messages that
// matter, with several clients sharing one server connection in transaction mode.
// Every answer through motorpool must equal PostgreSQL's own.
var driverScenarios = []struct {
	name  string
	steps []driverStep
}{
	// asyncpg: every query is a named statement, prepared with Parse, Describe and
	// Flush (no Sync), its parameter types introspected by another named statement,
	// then bound and executed with a Sync; another client uses the same names
	// (__asyncpg_stmt_N__ count from 1 in every connection) for other queries.
	{"asyncpg: flushed Parse and Describe, introspection, then Bind and Execute", []driverStep{
		{0, round{parse("__asyncpg_stmt_1__", "SELECT $1::int + 1 AS x"), describeStmt("__asyncpg_stmt_1__"), flushMsg()}},
		{0, round{parse("__asyncpg_stmt_2__", "SELECT typname FROM pg_type WHERE oid = ANY($1::oid[]) ORDER BY 1"), describeStmt("__asyncpg_stmt_2__"), flushMsg()}},
		{0, round{bind("__asyncpg_stmt_2__", "{23,25}"), execute(0), syncMsg()}},
		{0, round{bind("__asyncpg_stmt_1__", "41"), execute(0), syncMsg()}},
		{1, round{parse("__asyncpg_stmt_1__", "SELECT 'other' AS y"), describeStmt("__asyncpg_stmt_1__"), flushMsg()}},
		{1, round{bind("__asyncpg_stmt_1__"), execute(0), syncMsg()}},
		{0, round{bind("__asyncpg_stmt_1__", "1"), execute(0), syncMsg()}},
		{0, round{closeStmt("__asyncpg_stmt_2__"), syncMsg()}},
		{0, round{bind("__asyncpg_stmt_2__", "{23}"), execute(0), syncMsg()}},
	}},
	// asyncpg cursors with prefetch and pgjdbc setFetchSize in a transaction: a named
	// portal read a few rows at a time, one Sync each, then closed.
	{"asyncpg and pgjdbc: a named portal read in pieces across Syncs in a transaction", []driverStep{
		{0, round{query("BEGIN")}},
		{0, round{parse("S_1", "SELECT g FROM generate_series(1, 5) g"), bindPortal("C_2", "S_1"), describeNamedPortal("C_2"), executePortal("C_2", 2), syncMsg()}},
		{0, round{executePortal("C_2", 2), syncMsg()}},
		{0, round{executePortal("C_2", 2), closePortal("C_2"), syncMsg()}},
		{0, round{bindPortal("C_3", "S_1"), executePortal("C_3", 4), flushMsg()}},
		{0, round{executePortal("C_3", 4), syncMsg()}},
		{0, round{query("COMMIT")}},
		{1, round{parse("S_1", "SELECT 'other'"), bind("S_1"), execute(0), syncMsg()}},
		{0, round{bind("S_1"), execute(1), syncMsg()}},
	}},
	// pgjdbc executeBatch: one statement bound and executed several times before one
	// Sync, then used by name in later transactions; an error in a batch skips the rest.
	{"pgjdbc: a batch of Binds of one named statement, then the statement reused", []driverStep{
		{0, round{query("DROP TABLE IF EXISTS drv_b; CREATE TABLE drv_b(a int PRIMARY KEY)")}},
		{0, round{parse("S_1", "INSERT INTO drv_b VALUES ($1)"), bind("S_1", "1"), execute(1), bind("S_1", "2"), execute(1), bind("S_1", "3"), execute(1), syncMsg()}},
		{1, round{parse("S_1", "SELECT count(*) FROM drv_b"), bind("S_1"), execute(0), syncMsg()}},
		{0, round{bind("S_1", "4"), execute(1), bind("S_1", "2"), execute(1), bind("S_1", "5"), execute(1), syncMsg()}},
		{1, round{bind("S_1"), execute(0), syncMsg()}},
	}},
	// pgjdbc with autosave: the savepoint's rollback prepared as a named statement
	// while the transaction is still good, then bound after errors.
	{"pgjdbc: a ROLLBACK TO SAVEPOINT prepared before the error and bound after it", []driverStep{
		{0, round{query("BEGIN")}},
		{0, round{parse("S_1", "SAVEPOINT PGJDBC_AUTOSAVE"), bind("S_1"), execute(0), parse("S_2", "ROLLBACK TO SAVEPOINT PGJDBC_AUTOSAVE"), syncMsg()}},
		{0, round{parse("", "SELECT 1/0"), bind(""), execute(0), syncMsg()}},
		{0, round{bind("S_2"), execute(0), syncMsg()}},
		{0, round{bind("S_1"), execute(0), parse("", "SELECT 1/0"), bind(""), execute(0), syncMsg()}},
		{0, round{bind("S_2"), execute(0), syncMsg()}},
		{0, round{query("COMMIT")}},
		{1, round{query("BEGIN")}},
		{1, round{parse("S_2", "ROLLBACK TO SAVEPOINT x"), syncMsg()}},
		{1, round{query("ROLLBACK")}},
	}},
	// node-postgres named queries ({name, text}) and psycopg's prepared statements
	// (_pg3_N): parsed once with Bind, Describe of the portal and Execute, then bound by
	// name only; another client has the same name for another query.
	{"node-postgres and psycopg: a named query parsed once, then bound by name", []driverStep{
		{0, round{parse("q", "SELECT $1::text AS t"), bind("q", "a"), describePortal(), execute(0), syncMsg()}},
		{1, round{parse("q", "SELECT $1::int AS t"), bind("q", "7"), describePortal(), execute(0), syncMsg()}},
		{0, round{bind("q", "b"), describePortal(), execute(0), syncMsg()}},
		{0, round{query("BEGIN")}},
		{0, round{bind("q", "c"), describePortal(), execute(0), syncMsg()}},
		{0, round{parse("_pg3_0", "SELECT 1/$1::int"), bind("_pg3_0", "0"), describePortal(), execute(0), syncMsg()}},
		{0, round{query("ROLLBACK")}},
		{1, round{bind("q", "8"), describePortal(), execute(0), syncMsg()}},
		{0, round{bind("_pg3_0", "1"), describePortal(), execute(0), syncMsg()}},
	}},
	// pgjdbc with autosave=always and node-postgres's named {text: 'ROLLBACK'}: the
	// statement that ends a failed transaction is parsed in it, and the server
	// connection already has it from another client. PostgreSQL accepts a Parse of a
	// transaction-exit statement there.
	{"a ROLLBACK parsed in a failed transaction, already prepared on the server connection", []driverStep{
		{0, round{parse("r0", "ROLLBACK"), bind("r0"), execute(0), syncMsg()}},
		{1, round{query("BEGIN")}},
		{1, round{query("SELECT 1/0")}},
		{1, round{parse("r1", "ROLLBACK"), bind("r1"), execute(0), syncMsg()}},
		{1, round{query("SELECT 1")}},
	}},
	{"a ROLLBACK TO SAVEPOINT parsed in a failed transaction, already prepared on the server connection", []driverStep{
		{0, round{query("BEGIN")}},
		{0, round{query("SAVEPOINT PGJDBC_AUTOSAVE")}},
		{0, round{parse("S_1", "ROLLBACK TO SAVEPOINT PGJDBC_AUTOSAVE"), bind("S_1"), execute(0), syncMsg()}},
		{0, round{query("COMMIT")}},
		{1, round{query("BEGIN")}},
		{1, round{parse("", "SAVEPOINT PGJDBC_AUTOSAVE"), bind(""), execute(0), syncMsg()}},
		{1, round{parse("", "SELECT 1/0"), bind(""), execute(0), syncMsg()}},
		{1, round{parse("S_1", "ROLLBACK TO SAVEPOINT PGJDBC_AUTOSAVE"), bind("S_1"), execute(0), syncMsg()}},
		{1, round{parse("", "SELECT 2"), bind(""), execute(0), syncMsg()}},
		{1, round{query("COMMIT")}},
	}},
	{"a COMMIT parsed in a failed transaction, already prepared on the server connection", []driverStep{
		{0, round{parse("c0", "COMMIT"), bind("c0"), execute(0), syncMsg()}},
		{1, round{query("BEGIN")}},
		{1, round{query("SELECT 1/0")}},
		{1, round{parse("c1", "COMMIT"), bind("c1"), execute(0), syncMsg()}},
	}},
	// asyncpg prepares every query as a named statement and binds parameters by the
	// types its Describe reports; test suites re-create their schema between runs. A
	// client's first Parse of a text must see the schema as it is now, not as it was
	// when another client prepared the same text on the server connection.
	{"a first Parse after a column's type changed describes the new parameter type", []driverStep{
		{0, round{query("DROP TABLE IF EXISTS drv_p; CREATE TABLE drv_p(c int)")}},
		{0, round{parse("a", "INSERT INTO drv_p(c) VALUES ($1)"), describeStmt("a"), syncMsg()}},
		{1, round{query("DROP TABLE drv_p; CREATE TABLE drv_p(c text)")}},
		{2, round{parse("b", "INSERT INTO drv_p(c) VALUES ($1)"), describeStmt("b"), bind("b", "x"), execute(0), syncMsg()}},
	}},
	{"a first Parse after ALTER TABLE describes the new columns", []driverStep{
		{0, round{query("DROP TABLE IF EXISTS drv_r; CREATE TABLE drv_r(a int); INSERT INTO drv_r VALUES (1)")}},
		{0, round{parse("a", "SELECT * FROM drv_r"), bind("a"), execute(0), syncMsg()}},
		{1, round{query("ALTER TABLE drv_r ADD COLUMN b text DEFAULT 'x'")}},
		{2, round{parse("b", "SELECT * FROM drv_r"), describeStmt("b"), syncMsg()}},
		{2, round{bind("b"), execute(0), syncMsg()}},
		{0, round{bind("a"), execute(0), syncMsg()}},
	}},
	{"a first Parse after a schema change in another client's transaction block", []driverStep{
		{0, round{query("DROP TABLE IF EXISTS drv_t; CREATE TABLE drv_t(a int); INSERT INTO drv_t VALUES (1)")}},
		{0, round{parse("a", "SELECT * FROM drv_t"), bind("a"), execute(0), syncMsg()}},
		{1, round{query("BEGIN")}},
		{1, round{query("ALTER TABLE drv_t ADD COLUMN b int DEFAULT 2")}},
		{1, round{parse("b", "SELECT * FROM drv_t"), describeStmt("b"), syncMsg()}},
		{1, round{query("COMMIT")}},
		{2, round{parse("c", "SELECT * FROM drv_t"), describeStmt("c"), bind("c"), execute(0), syncMsg()}},
	}},
}

// TestDriverSequencesMatchPostgreSQL runs each driver scenario straight against
// PostgreSQL, then through motorpool in transaction mode on a pool of one server
// connection (so every client's statements meet the others' on it), and requires the
// same answers.
func TestDriverSequencesMatchPostgreSQL(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	pgAddr := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))

	run := func(t *testing.T, addr string, steps []driverStep) [][]string {
		clients := map[int]*rawClient{}
		var out [][]string
		for _, s := range steps {
			c := clients[s.client]
			if c == nil {
				c = dialRaw(t, addr, testenv.TrustUser, db, nil)
				clients[s.client] = c
			}
			out = append(out, c.round(t, s.msgs...))
		}
		for _, c := range clients {
			c.conn.Close()
		}
		return out
	}
	want := make([][][]string, len(driverScenarios))
	for i, sc := range driverScenarios {
		want[i] = run(t, pgAddr, sc.steps)
	}
	e := start(t, protocolSetup(p, db))
	for i, sc := range driverScenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := run(t, e.Addr, sc.steps)
			for j := range got {
				if !slices.Equal(got[j], want[i][j]) {
					t.Fatalf("step %d (client %d): motorpool answered\n\t%s\nPostgreSQL answers\n\t%s",
						j+1, sc.steps[j].client, strings.Join(got[j], "\n\t"), strings.Join(want[i][j], "\n\t"))
				}
			}
		})
	}
}
