package e2e

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/testenv"
)

// Frontend message shorthands for protocol scripts.
func parse(name, sql string) *pgproto3.Parse { return &pgproto3.Parse{Name: name, Query: sql} }
func bind(stmt string, args ...string) *pgproto3.Bind {
	b := &pgproto3.Bind{PreparedStatement: stmt}
	for _, a := range args {
		b.Parameters = append(b.Parameters, []byte(a))
	}
	return b
}
func execute(maxRows uint32) *pgproto3.Execute { return &pgproto3.Execute{MaxRows: maxRows} }
func describeStmt(name string) *pgproto3.Describe {
	return &pgproto3.Describe{ObjectType: 'S', Name: name}
}
func describePortal() *pgproto3.Describe    { return &pgproto3.Describe{ObjectType: 'P'} }
func closeStmt(name string) *pgproto3.Close { return &pgproto3.Close{ObjectType: 'S', Name: name} }
func syncMsg() *pgproto3.Sync               { return &pgproto3.Sync{} }
func query(sql string) *pgproto3.Query      { return &pgproto3.Query{String: sql} }

type round = []pgproto3.FrontendMessage

// protocolScenarios are extended-protocol conversations whose every answer through
// motorpool must equal PostgreSQL's own, message for message.
var protocolScenarios = []struct {
	name   string
	rounds []round
}{
	{"a duplicate Parse is 42P05 and keeps the first statement", []round{
		{parse("s1", "SELECT 1"), syncMsg()},
		{parse("s1", "SELECT 2"), syncMsg()},
		{bind("s1"), execute(0), syncMsg()},
	}},
	{"a duplicate Parse in one pipeline fails the rest of it", []round{
		{parse("d", "SELECT 1"), parse("d", "SELECT 2"), bind("d"), execute(0), syncMsg()},
		{bind("d"), execute(0), syncMsg()},
	}},
	{"a Bind of an unknown statement is 26000 and the session goes on", []round{
		{bind("nope"), execute(0), syncMsg()},
		{parse("", "SELECT 1"), bind(""), execute(0), syncMsg()},
	}},
	{"a Describe of an unknown statement is 26000", []round{
		{describeStmt("nope"), syncMsg()},
		{parse("", "SELECT 1"), bind(""), execute(0), syncMsg()},
	}},
	{"a closed statement is gone and its name can be prepared again", []round{
		{parse("s", "SELECT 1"), bind("s"), execute(0), syncMsg()},
		{closeStmt("s"), syncMsg()},
		{bind("s"), execute(0), syncMsg()},
		{parse("s", "SELECT 2"), bind("s"), execute(0), syncMsg()},
	}},
	{"closing a statement that does not exist is no error", []round{
		{closeStmt("nope"), syncMsg()},
	}},
	{"a statement closed and prepared again within one pipeline", []round{
		{parse("s", "SELECT 1"), bind("s"), execute(0), closeStmt("s"), parse("s", "SELECT 2"), bind("s"), execute(0), syncMsg()},
		{bind("s"), execute(0), syncMsg()},
	}},
	{"an error mid-pipeline skips the rest up to Sync and the session goes on", []round{
		{
			parse("a", "SELECT 1"), bind("a"), execute(0),
			parse("b", "SELECT 1/$1::int"), bind("b", "0"), execute(0),
			parse("c", "SELECT 3"), bind("c"), execute(0),
			syncMsg(),
		},
		{bind("c"), execute(0), syncMsg()},
		{bind("a"), execute(0), syncMsg()},
		{bind("b", "2"), execute(0), syncMsg()},
	}},
	{"a named Parse with a syntax error leaves no statement", []round{
		{parse("bad", "SELEC 1"), syncMsg()},
		{bind("bad"), execute(0), syncMsg()},
		{parse("bad", "SELECT 1"), bind("bad"), execute(0), syncMsg()},
	}},
	{"unnamed statements pipelined", []round{
		{
			parse("", "SELECT $1::int + 1"), bind("", "1"), execute(0),
			parse("", "SELECT 'x' || $1::text"), bind("", "y"), execute(0),
			syncMsg(),
		},
	}},
	{"an unnamed statement parsed and bound in different Syncs", []round{
		{parse("", "SELECT 42"), syncMsg()},
		{bind(""), execute(0), syncMsg()},
		{bind(""), execute(0), syncMsg()},
	}},
	{"an unnamed statement over 64 KiB parsed and bound in different Syncs", []round{
		{parse("", "SELECT 42 /* "+strings.Repeat("x", 70_000)+" */"), syncMsg()},
		{bind(""), execute(0), syncMsg()},
	}},
	{"named statements used across Syncs inside a transaction", []round{
		{query("BEGIN")},
		{parse("s", "SELECT $1::int"), bind("s", "5"), execute(0), syncMsg()},
		{bind("s", "6"), execute(0), syncMsg()},
		{query("COMMIT")},
		{bind("s", "7"), execute(0), syncMsg()},
	}},
	{"Describe of a statement, then of the same one later", []round{
		{parse("s", "SELECT $1::int AS x, $2::text AS y"), describeStmt("s"), syncMsg()},
		{describeStmt("s"), syncMsg()},
		{bind("s", "1", "one"), describePortal(), execute(0), syncMsg()},
	}},
	{"Execute with a row limit suspends the portal", []round{
		{parse("", "SELECT g FROM generate_series(1, 5) g"), bind(""), execute(2), execute(2), execute(0), syncMsg()},
	}},
	{"DEALLOCATE ALL drops the named statements", []round{
		{parse("s", "SELECT 1"), syncMsg()},
		{query("DEALLOCATE ALL")},
		{bind("s"), execute(0), syncMsg()},
		{parse("s", "SELECT 2"), bind("s"), execute(0), syncMsg()},
	}},
	{"DISCARD ALL drops the named statements", []round{
		{parse("s", "SELECT 1"), syncMsg()},
		{query("DISCARD ALL")},
		{bind("s"), execute(0), syncMsg()},
		{parse("s", "SELECT 2"), bind("s"), execute(0), syncMsg()},
	}},
	{"more statements than a server connection keeps", []round{
		{
			parse("s1", "SELECT 1"), parse("s2", "SELECT 2"), parse("s3", "SELECT 3"),
			parse("s4", "SELECT 4"), parse("s5", "SELECT 5"), syncMsg(),
		},
		{bind("s1"), execute(0), bind("s2"), execute(0), bind("s3"), execute(0), bind("s4"), execute(0), bind("s5"), execute(0), syncMsg()},
		{bind("s5"), execute(0), bind("s4"), execute(0), bind("s3"), execute(0), bind("s2"), execute(0), bind("s1"), execute(0), syncMsg()},
		{bind("s3"), execute(0), syncMsg()},
		{bind("s1"), execute(0), syncMsg()},
	}},
	{"a Parse inside a failed transaction fails", []round{
		{parse("warm", "SELECT 'warm'"), bind("warm"), execute(0), syncMsg()},
		{query("BEGIN")},
		{query("SELECT 1/0")},
		{parse("s", "SELECT 'warm'"), syncMsg()},
		{query("ROLLBACK")},
		{parse("s", "SELECT 'warm'"), bind("s"), execute(0), syncMsg()},
	}},
	{"a Close skipped after an error keeps the statement", []round{
		{parse("s", "SELECT 1"), syncMsg()},
		{bind("nope"), execute(0), closeStmt("s"), syncMsg()},
		{bind("s"), execute(0), syncMsg()},
	}},
	{"a Close skipped after a server error keeps the statement", []round{
		{parse("s", "SELECT 1"), syncMsg()},
		{parse("", "SELECT 1/$1::int"), bind("", "0"), execute(0), closeStmt("s"), syncMsg()},
		{bind("s"), execute(0), syncMsg()},
	}},
	{"a Parse skipped after a server error leaves no statement", []round{
		{parse("", "SELECT 1/$1::int"), bind("", "0"), execute(0), parse("s", "SELECT 1"), syncMsg()},
		{bind("s"), execute(0), syncMsg()},
		{parse("s", "SELECT 1"), bind("s"), execute(0), syncMsg()},
	}},
	{"a portal does not outlive its implicit transaction", []round{
		{parse("", "SELECT 1"), bind(""), syncMsg()},
		{execute(0), syncMsg()},
	}},
	{"a Bind of the unnamed statement without a Parse is 26000", []round{
		{query("SELECT 1")},
		{bind(""), execute(0), syncMsg()},
	}},
	{"a simple query replaces the unnamed statement", []round{
		{parse("", "SELECT 42"), syncMsg()},
		{query("SELECT 1")},
		{bind(""), execute(0), syncMsg()},
	}},
	{"a simple query between rounds keeps named statements", []round{
		{parse("s", "SELECT $1::int * 2"), syncMsg()},
		{query("SELECT 1")},
		{bind("s", "21"), execute(0), syncMsg()},
	}},
	{"a SET through the extended protocol lasts for the session", []round{
		{parse("", "SET statement_timeout = 1234"), bind(""), execute(0), syncMsg()},
		{parse("", "SHOW statement_timeout"), bind(""), execute(0), syncMsg()},
		{query("SHOW statement_timeout")},
	}},
	{"a named SET takes effect when executed, in a later transaction", []round{
		{parse("st", "SET statement_timeout = 2345"), syncMsg()},
		{query("SHOW statement_timeout")},
		{bind("st"), execute(0), syncMsg()},
		{query("SHOW statement_timeout")},
	}},
	{"a SET rolled back by a later error in its batch is gone", []round{
		{parse("", "SET statement_timeout = 3456"), bind(""), execute(0),
			parse("", "SELECT 1/$1::int"), bind("", "0"), execute(0), syncMsg()},
		{query("SHOW statement_timeout")},
	}},
	{"several SETs and a RESET in one batch apply in order", []round{
		{query("SET lock_timeout = 1111")},
		{parse("", "SET statement_timeout = 4567"), bind(""), execute(0),
			parse("r", "RESET lock_timeout"), bind("r"), execute(0),
			parse("", "SET work_mem = '2222kB'"), &pgproto3.Bind{DestinationPortal: "p"}, &pgproto3.Execute{Portal: "p"}, syncMsg()},
		{query("SELECT current_setting('statement_timeout') || ' ' || current_setting('lock_timeout') || ' ' || current_setting('work_mem')")},
	}},
	{"a SET inside a transaction block ends with it", []round{
		{query("BEGIN")},
		{parse("", "SET statement_timeout = 5678"), bind(""), execute(0), syncMsg()},
		{query("ROLLBACK")},
		{query("SHOW statement_timeout")},
	}},
}

// protocolSetup is a motorpool whose clients and server connections use trust, so raw
// clients can talk to it and to PostgreSQL alike.
func protocolSetup(p *testenv.PG, db string) setup {
	return setup{ClientAuth: "trust", ServerUser: testenv.TrustUser, PoolSize: 1, PG: p, Database: db}
}

// TestExtendedProtocolAnswersMatchPostgreSQL runs each scenario straight against
// PostgreSQL, then through motorpool in several situations, and requires the same
// answers: in session mode; in transaction mode alone on a pool of 1; with at most two
// statements kept per server connection (eviction and re-preparation); with another
// client using the same statement names for other queries on the same server
// connection between rounds; and with the server connection replaced between rounds
// (another client terminates it), so statements are prepared again on a new one.
func TestExtendedProtocolAnswersMatchPostgreSQL(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	pgAddr := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))

	want := make([][][]string, len(protocolScenarios))
	for i, sc := range protocolScenarios {
		c := dialRaw(t, pgAddr, testenv.TrustUser, db, nil)
		for _, r := range sc.rounds {
			want[i] = append(want[i], c.round(t, r...))
		}
	}

	session := protocolSetup(p, db)
	session.Mode = "session"
	evicting := protocolSetup(p, db)
	evicting.Adapter = pg.Config{MaxPreparedStatements: 2}
	variants := []struct {
		name    string
		s       setup
		between func(t *testing.T, e *env)
	}{
		{"session mode", session, nil},
		{"transaction mode", protocolSetup(p, db), nil},
		{"transaction mode keeping two statements per server connection", evicting, nil},
		{"transaction mode with another client between rounds", protocolSetup(p, db), interfere},
		{"transaction mode with the server connection replaced between rounds", protocolSetup(p, db), replaceServerConn},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			e := start(t, v.s)
			for i, sc := range protocolScenarios {
				t.Run(sc.name, func(t *testing.T) {
					c := dialRaw(t, e.Addr, testenv.TrustUser, db, nil)
					for j, r := range sc.rounds {
						got := c.round(t, r...)
						if !slices.Equal(got, want[i][j]) {
							t.Fatalf("round %d: motorpool answered\n\t%s\nPostgreSQL answers\n\t%s",
								j+1, strings.Join(got, "\n\t"), strings.Join(want[i][j], "\n\t"))
						}
						if v.between != nil && lastStatus(got) == 'I' && j < len(sc.rounds)-1 {
							v.between(t, e)
						}
					}
				})
			}
		})
	}
}

// interfere is another client of the same pool that prepares the statement names the
// scenarios use, for other queries, then closes them.
func interfere(t *testing.T, e *env) {
	t.Helper()
	c := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
	defer c.conn.Close()
	var msgs round
	var want []string
	for _, name := range []string{"s", "s1", "a", "c", "d", "warm"} {
		msgs = append(msgs, parse(name, fmt.Sprintf("SELECT 'other %s'", name)), bind(name), execute(0), closeStmt(name))
		want = append(want, "ParseComplete", "BindComplete", "DataRow other "+name, "CommandComplete SELECT 1", "CloseComplete")
	}
	msgs = append(msgs, parse("", "SELECT 'other unnamed'"), bind(""), execute(0), syncMsg())
	want = append(want, "ParseComplete", "BindComplete", "DataRow other unnamed", "CommandComplete SELECT 1", "Ready I")
	if got := c.round(t, msgs...); !slices.Equal(got, want) {
		t.Fatalf("the other client got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// replaceServerConn has another client terminate the server connection it is given,
// so the pool must open a new one.
func replaceServerConn(t *testing.T, e *env) {
	t.Helper()
	c := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
	defer c.conn.Close()
	c.send(query("SELECT pg_terminate_backend(pg_backend_pid())"))
	if err := c.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	fatal, err := c.readError()
	if err != nil {
		t.Fatal(err)
	}
	if fatal == nil || fatal.Code != "57P01" {
		t.Fatalf("terminating its own backend gave %v, want FATAL 57P01", fatal)
	}
	// The connection ends after the FATAL error, as a direct one does: no second error.
	if e2, err := c.readError(); err != nil || e2 != nil {
		t.Fatalf("after FATAL 57P01: %v %v", e2, err)
	}
}

// TestSetsOfAFailedFlushedBatchAreNotKept: a client runs a SET, then a failing
// request, flushes, reads the error, then sends a large Bind and Query, another SET
// and the Sync. The server
// skips the messages after the error (motorpool must expect no answer to them) and
// rolls the first SET back; motorpool must carry neither to the client's later
// transactions, whoever used the server connection in between.
func TestSetsOfAFailedFlushedBatchAreNotKept(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	e := start(t, protocolSetup(p, db))
	c := dialRaw(t, e.Addr, testenv.TrustUser, db, nil)
	c.send(parse("", "SET lock_timeout = 5678"), bind(""), execute(0),
		parse("", "SELECT 1/$1::int"), bind("", "0"), execute(0), &pgproto3.Flush{})
	if err := c.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if werr, err := c.readError(); err != nil || werr == nil || werr.Code != "22012" {
		t.Fatalf("the flushed request: %v, %v; want division by zero", werr, err)
	}
	// A Bind and a Query too large for motorpool's buffer first: they are streamed,
	// and skipped too.
	c.send(bind("", strings.Repeat("7", 40000)), execute(0), query("SELECT '"+strings.Repeat("q", 40000)+"'"),
		parse("", "SET statement_timeout = 6789"), bind(""), execute(0), syncMsg())
	if err := c.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := c.readReady(1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Ready I"}; !slices.Equal(got, want) {
		t.Fatalf("the rest of the failed batch: %q, want %q", got, want)
	}
	interfere(t, e)
	got = c.round(t, query("SELECT current_setting('lock_timeout') || ' ' || current_setting('statement_timeout')"))
	if got[1] != "DataRow 0 0" {
		t.Fatalf("after the failed batch: %q, want lock_timeout and statement_timeout 0", got)
	}
}
