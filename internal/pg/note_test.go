package pg

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInspectQuery(t *testing.T) {
	t.Parallel()
	set := func(name, sql string) *stmtNote { return &stmtNote{kind: noteSet, name: name, sql: sql} }
	reset := func(name string) *stmtNote { return &stmtNote{kind: noteReset, name: name} }
	dirty := &stmtNote{kind: noteDirty}
	tests := []struct {
		q    string
		want *stmtNote
	}{
		{"SELECT 1", nil},
		{"", nil},
		{"   \n\t", nil},
		{"INSERT INTO settings VALUES ('SET x = 1')", nil},
		{"SETTLE", nil},
		{"SET search_path TO app", set("search_path", "SET search_path TO app")},
		{"set Search_Path = app;", set("search_path", "set Search_Path = app")},
		{"SET search_path=app", set("search_path", "SET search_path=app")},
		{`SET "search_path" = app`, set("search_path", `SET "search_path" = app`)},
		{"  SET\nwork_mem\n=\n'64MB'  ;  ", set("work_mem", "SET\nwork_mem\n=\n'64MB'")},
		{"SET SESSION work_mem = '1MB'", set("work_mem", "SET SESSION work_mem = '1MB'")},
		{"SET myapp.tenant = '42'", set("myapp.tenant", "SET myapp.tenant = '42'")},
		{"SET TIME ZONE 'UTC'", set("timezone", "SET TIME ZONE 'UTC'")},
		{"SET SESSION TIME ZONE LOCAL", set("timezone", "SET SESSION TIME ZONE LOCAL")},
		{"SET NAMES 'UTF8'", set("client_encoding", "SET NAMES 'UTF8'")},
		{"SET SCHEMA 'app'", set("search_path", "SET SCHEMA 'app'")},
		{"SET XML OPTION DOCUMENT", set("xmloption", "SET XML OPTION DOCUMENT")},
		{"-- a comment\nSET x = 1", set("x", "SET x = 1")},
		{"/* a comment */ SET x = 1", set("x", "SET x = 1")},
		{"/* a /* nested */ comment */ SET x = 1", set("x", "SET x = 1")},
		{"/* a /* nested */ comment */ DISCARD ALL", &stmtNote{kind: noteDiscardAll}},
		// A DO block's body is read for statements that change session state.
		{"DO $$BEGIN PERFORM set_config('statement_timeout', '1234', false); END$$", dirty},
		{"do $$begin create temp table t(x int); end$$", dirty},
		{"DO 'BEGIN PERFORM pg_advisory_lock(1); END'", dirty},
		{"DO $$BEGIN EXECUTE 'SET search_path = x'; END$$", dirty},
		{"DO $body$BEGIN SET search_path = x; END$body$", dirty},
		{"DO LANGUAGE plpgsql $$BEGIN IF true THEN RESET search_path; END IF; END$$", dirty},
		{"SELECT 1; DO $$BEGIN LISTEN x; END$$", dirty},
		{"DO $$DECLARE n int; BEGIN UPDATE t SET x = 1; n := 2; END$$", nil},
		{"DO $$BEGIN INSERT INTO t VALUES ('SET x = 1'); END$$", nil},
		// Whether a backslash escapes a quote depends on standard_conforming_strings.
		{`SELECT 'x\'' ; SET search_path = y; --'`, dirty},
		{`SELECT 'a\' ; SET search_path = x; --'`, dirty},
		{`SET search_path = 'a\b'`, set("search_path", `SET search_path = 'a\b'`)},
		{`SELECT E'\'' , 'b\'`, nil},
		{"SET LOCAL work_mem = '1MB'", nil},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", nil},
		{"SET CONSTRAINTS ALL DEFERRED", nil},
		{"SET", nil},
		{"SET ROLE admin", dirty},
		{"SET SESSION AUTHORIZATION admin", dirty},
		{"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", dirty},
		{"SET a = 1; SELECT 1", set("a", "SET a = 1")},
		{"SET search_path = ';'", dirty},
		{"RESET ALL", reset("")},
		{"RESET", reset("")},
		{"reset Work_Mem", reset("work_mem")},
		{"RESET TIME ZONE", reset("timezone")},
		{"DISCARD ALL", &stmtNote{kind: noteDiscardAll}},
		{"DISCARD PLANS", nil},
		{"DEALLOCATE ALL", &stmtNote{kind: noteDeallocateAll}},
		{"DEALLOCATE PREPARE ALL", &stmtNote{kind: noteDeallocateAll}},
		{"DEALLOCATE stmt1", nil},
		{"PREPARE p AS SELECT 1", dirty},
		{"LISTEN channel", dirty},
		{"LOAD 'auto_explain'", dirty},
		{"CREATE TEMP TABLE t (x int)", dirty},
		{"CREATE TEMPORARY TABLE t (x int)", dirty},
		{"create local temporary table t (x int)", dirty},
		{"CREATE TABLE t (x int)", nil},
		{"DECLARE c CURSOR WITH HOLD FOR SELECT 1", dirty},
		{"DECLARE c CURSOR FOR SELECT 1", nil},
		{"SELECT pg_advisory_lock(1)", dirty},
		{"SELECT PG_ADVISORY_LOCK(1)", dirty},
		{"SELECT pg_advisory_xact_lock(1)", nil},
		{"SELECT set_config('search_path', 'x', false)", dirty},
		{"/* unterminated", nil},
		// State created past the first word, or in a later statement.
		{"select 1; set role lowpriv", dirty},
		{"begin; set session authorization lowpriv; commit", dirty},
		{"select 1; set work_mem='61MB'", set("work_mem", "set work_mem='61MB'")},
		// The statements of a query run in one implicit transaction: their SETs and
		// RESETs are followed together, in order, unless transaction control may
		// commit some of them and not others.
		{"SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;", reset("")},
		{"RESET ALL; SET a = 1; SET b = 2", &stmtNote{kind: noteReset,
			next: &stmtNote{kind: noteSet, name: "a", sql: "SET a = 1", next: set("b", "SET b = 2")}}},
		{"set a = 1; commit; select 1", dirty},
		{"select 1; savepoint s; set a = 1", dirty},
		{"call p(); reset a", dirty},
		{"set a = 1; discard all", dirty},
		{"begin; set work_mem='62MB'; commit", dirty},
		{"begin; set local work_mem='62MB'; commit", nil},
		{"select 'secret'::text as s into temp leak_a", dirty},
		{"create table pg_temp.x (a int)", dirty},
		{"create /*c*/ temp table t (a int)", dirty},
		{"select 1; create temp table t (a int)", dirty},
		{"begin; create temp table x (a int) on commit drop; commit", nil},
		{"select pg_advisory_lock(77), pg_advisory_xact_lock(78)", dirty},
		{"select PG_TRY_ADVISORY_LOCK_SHARED(1)", dirty},
		{"select SET_CONFIG('work_mem','63MB',false)", dirty},
		{"select 1; listen ch", dirty},
		{"select 1; prepare p as select 1", dirty},
		{"declare c cursor  with  hold for select 1", dirty},
		{"DECLARE c CURSOR\nWITH HOLD FOR SELECT 1", dirty},
		{"select 1; select 2;", nil},
		{"select 1;;  ", nil},
		// Words in literals, quoted names and comments are not statements.
		{"select 'x; set role admin'", nil},
		{`select "temp" from weather`, nil},
		{"select temperature from weather", nil},
		{"select $$; set role admin$$", nil},
		{"select $tag$ into temp t $tag$", nil},
		{"select E'\\'; set role admin'", nil},
		{"select 1 -- ; set role admin", nil},
		{"select /* ; create temp table t() */ 1", nil},
		{"select $1::text; listen ch", dirty},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			got := inspectQuery([]byte(tt.q + "\x00"))
			if got != nil && got.kind == noteDirty {
				assert.NotEmpty(t, got.what, "a dirty note says what the client will be warned about")
				got.what = ""
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestInspectQueryAllocatesNothingForOrdinaryQueries keeps the relay's hot path cheap.
func TestInspectQueryAllocatesNothingForOrdinaryQueries(t *testing.T) {
	q := []byte("SELECT * FROM accounts WHERE id = $1\x00")
	if n := testing.AllocsPerRun(100, func() { inspectQuery(q) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzInspectQuery feeds arbitrary query text to the SQL-state detector: it never
// panics, a SET it reports names a setting (without blanks or '=') and is a single
// statement, and leading blanks or a leading comment do not change the verdict.
func FuzzInspectQuery(f *testing.F) {
	for _, q := range []string{"SELECT 1", "SET search_path TO app", "SET x=1", "RESET ALL", "DISCARD ALL",
		"DEALLOCATE PREPARE ALL", "CREATE TEMP TABLE t()", "SET TIME ZONE 'UTC'", "-- c\nSET a = 1",
		"/* x */ LISTEN c", "SET a = 1; SET b = 2", "SELECT pg_advisory_lock(1)", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
		"select 1; set role x", "select 'a;b' into temp t", "select $$;$$; listen c", "select E'\\'';'"} {
		f.Add([]byte(q + "\x00"))
	}
	f.Fuzz(func(t *testing.T, q []byte) {
		n := inspectQuery(q)
		if n == nil {
			return
		}
		switch n.kind {
		case noteSet:
			if n.name == "" || strings.ContainsAny(n.name, " \t\r\n=") {
				t.Fatalf("SET of setting %q", n.name)
			}
			if strings.ContainsRune(n.sql, ';') {
				t.Fatalf("SET replayed with a ';': %q", n.sql)
			}
		case noteReset, noteDirty, noteDiscardAll, noteDeallocateAll:
		default:
			t.Fatalf("note kind %d", n.kind)
		}
		if q2 := append([]byte(" \t\n"), q...); !sameNote(inspectQuery(q2), n) {
			t.Fatalf("leading blanks change %+v into %+v", n, inspectQuery(q2))
		}
	})
}

func sameNote(a, b *stmtNote) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.kind == b.kind && a.name == b.name
}

func TestTransactionExit(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]bool{
		"COMMIT": true, "end work": true, "ROLLBACK": true, "abort": true, "COMMIT AND CHAIN": true,
		"ROLLBACK TO SAVEPOINT PGJDBC_AUTOSAVE": true, "/* c */ rollback to s1;": true,
		"PREPARE TRANSACTION 'x'": true,
		"COMMIT PREPARED 'x'":     false, "ROLLBACK PREPARED 'x'": false, "PREPARE s AS SELECT 1": false,
		"SELECT 1": false, "ROLLBACK; SELECT 1": false, "SAVEPOINT s": false, "": false,
	} {
		if got := transactionExit([]byte(q)); got != want {
			t.Errorf("transactionExit(%q) = %v, want %v", q, got, want)
		}
	}
}
