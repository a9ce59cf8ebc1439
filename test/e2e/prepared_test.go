package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/motorpool/motorpool/internal/pg"
)

// runAll runs f for clients 0..n-1 at once and fails the test with their errors.
func runAll(t *testing.T, n int, f func(id int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for id := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(id); err != nil {
				errs <- fmt.Errorf("client %d: %w", id, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// execPrepared runs a prepared statement with text arguments and returns the first
// column of its one row.
func execPrepared(ctx context.Context, c *pgconn.PgConn, name string, args ...string) (string, error) {
	var params [][]byte
	for _, a := range args {
		params = append(params, []byte(a))
	}
	res := c.ExecPrepared(ctx, name, params, nil, nil).Read()
	if res.Err != nil {
		return "", res.Err
	}
	if len(res.Rows) != 1 {
		return "", fmt.Errorf("%d rows", len(res.Rows))
	}
	return string(res.Rows[0][0]), nil
}

// TestSameStatementNameOnManyClientsRunsEachClientsOwnQuery: sixteen clients prepare
// "s" — each for a different query — and "shared" for the same one, then run them at
// once over two server connections; every answer is the client's own.
func TestSameStatementNameOnManyClientsRunsEachClientsOwnQuery(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 2})
	ctx := testCtx(t)
	conns := make([]*pgconn.PgConn, 16)
	for i := range conns {
		conns[i] = e.Connect(t, "").PgConn()
	}
	runAll(t, len(conns), func(id int) error {
		c := conns[id]
		if _, err := c.Prepare(ctx, "s", fmt.Sprintf("SELECT $1::int * 1000 + %d", id), nil); err != nil {
			return err
		}
		if _, err := c.Prepare(ctx, "shared", "SELECT $1::int + 1", nil); err != nil {
			return err
		}
		for round := range 40 {
			got, err := execPrepared(ctx, c, "s", strconv.Itoa(round))
			if err != nil {
				return err
			}
			if want := strconv.Itoa(round*1000 + id); got != want {
				return fmt.Errorf("round %d: s answered %s, want %s (another client's statement?)", round, got, want)
			}
			if got, err := execPrepared(ctx, c, "shared", strconv.Itoa(round)); err != nil || got != strconv.Itoa(round+1) {
				return fmt.Errorf("round %d: shared answered %s, %v", round, got, err)
			}
		}
		return nil
	})
}

// TestEvictedStatementsArePreparedAgain: with room for three statements per server
// connection, clients cycling through ten prepared statements (pgx's statement cache)
// always get answers, and no server connection ever holds more than three.
func TestEvictedStatementsArePreparedAgain(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 2, Adapter: pg.Config{MaxPreparedStatements: 3}})
	ctx := testCtx(t)
	var mu sync.Mutex
	most := int64(0)
	runAll(t, 6, func(id int) error {
		conn, err := pgx.Connect(ctx, e.AppDSN("default_query_exec_mode=cache_statement"))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		for round := range 30 {
			q := round % 10
			var got int
			if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT $1::int + %d", q), id).Scan(&got); err != nil {
				return fmt.Errorf("round %d: %w", round, err)
			}
			if got != id+q {
				return fmt.Errorf("round %d: %d, want %d", round, got, id+q)
			}
			var n int64
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'mp\\_%'",
				pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
				return err
			}
			mu.Lock()
			most = max(most, n)
			mu.Unlock()
		}
		return nil
	})
	if most > 3 {
		t.Fatalf("a server connection held %d prepared statements; the limit is 3", most)
	}
	if most == 0 {
		t.Fatal("no prepared statement was ever seen on a server connection")
	}
}

// TestBatchesAndPipelinesOfUnnamedStatements: pgx batches in the modes that use
// the unnamed statement, and raw pgconn pipelines of several unnamed statements per
// Sync, from many clients over two server connections.
func TestBatchesAndPipelinesOfUnnamedStatements(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 2})
	ctx := testCtx(t)
	for _, mode := range []string{"exec", "describe_exec", "cache_describe"} {
		t.Run("pgx batch "+mode, func(t *testing.T) {
			runAll(t, 8, func(id int) error {
				conn, err := pgx.Connect(ctx, e.AppDSN("default_query_exec_mode="+mode))
				if err != nil {
					return err
				}
				defer conn.Close(context.Background())
				for round := range 15 {
					b := &pgx.Batch{}
					for k := range 5 {
						b.Queue("SELECT $1::int * 10 + $2::int", id, k)
					}
					br := conn.SendBatch(ctx, b)
					for k := range 5 {
						var got int
						if err := br.QueryRow().Scan(&got); err != nil || got != id*10+k {
							br.Close()
							return fmt.Errorf("round %d query %d: %d, %v", round, k, got, err)
						}
					}
					if err := br.Close(); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	t.Run("pgconn pipeline", func(t *testing.T) {
		runAll(t, 8, func(id int) error {
			conn, err := pgconn.Connect(ctx, e.AppDSN(""))
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			for round := range 15 {
				p := conn.StartPipeline(ctx)
				for k := range 3 {
					p.SendQueryParams("SELECT $1::text || '-' || $2::text", [][]byte{[]byte(strconv.Itoa(id)), []byte(strconv.Itoa(k))}, nil, nil, nil)
				}
				p.SendPipelineSync()
				p.SendQueryParams("SELECT $1::text", [][]byte{[]byte("after sync")}, nil, nil, nil)
				if err := p.Sync(); err != nil {
					return err
				}
				var got []string
				for {
					res, err := p.GetResults()
					if err != nil {
						return fmt.Errorf("round %d: %w", round, err)
					}
					if res == nil {
						break
					}
					if rr, ok := res.(*pgconn.ResultReader); ok {
						r := rr.Read()
						if r.Err != nil {
							return r.Err
						}
						got = append(got, string(r.Rows[0][0]))
					}
				}
				if err := p.Close(); err != nil {
					return err
				}
				want := fmt.Sprintf("%d-0 %d-1 %d-2 after sync", id, id, id)
				if strings.Join(got, " ") != want {
					return fmt.Errorf("round %d: %q, want %q", round, got, want)
				}
			}
			return nil
		})
	})
}

// TestErrorInsideABatchSkipsTheRestAndTheSessionGoesOn: a batch whose middle
// statement fails is rolled back as a whole (one implicit transaction), as on
// PostgreSQL, and the client's prepared statements keep working afterwards.
func TestErrorInsideABatchSkipsTheRestAndTheSessionGoesOn(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	mustExec(t, e.Direct(t), "CREATE TABLE log (who text, n int)", "GRANT ALL ON log TO PUBLIC")
	ctx := testCtx(t)
	run := func(conn *pgx.Conn, who string) (string, error) {
		b := &pgx.Batch{}
		b.Queue("INSERT INTO log VALUES ($1, 1)", who)
		b.Queue("SELECT 1 / $1::int", 0)
		b.Queue("INSERT INTO log VALUES ($1, 3)", who)
		err := conn.SendBatch(ctx, b).Close()
		var n int64
		if err2 := conn.QueryRow(ctx, "SELECT count(*) FROM log WHERE who = $1", who).Scan(&n); err2 != nil {
			return "", err2
		}
		return fmt.Sprintf("error %s, %d rows kept", sqlstate(err), n), nil
	}
	for _, mode := range []string{"cache_statement", "exec"} {
		t.Run(mode, func(t *testing.T) {
			want, err := run(connect(t, e.PG.DSN("scram_user", "scram-secret", e.DB)+"&default_query_exec_mode="+mode), "direct "+mode)
			if err != nil {
				t.Fatal(err)
			}
			conn := e.Connect(t, "default_query_exec_mode="+mode)
			for i := range 3 {
				got, err := run(conn, fmt.Sprintf("motorpool %s %d", mode, i))
				if err != nil {
					t.Fatalf("after the failed batch: %v", err)
				}
				if got != want {
					t.Fatalf("motorpool: %s; PostgreSQL: %s", got, want)
				}
			}
		})
	}
}

// socketOpen reports whether this process still has a TCP socket on local port
// that is established or waiting for this side to close (CLOSE_WAIT).
func socketOpen(port int) bool {
	for _, file := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "01" && fields[3] != "08" { // ESTABLISHED, CLOSE_WAIT
				continue
			}
			if _, p, ok := strings.Cut(fields[1], ":"); ok {
				if v, err := strconv.ParseInt(p, 16, 32); err == nil && int(v) == port {
					f.Close()
					return true
				}
			}
		}
		f.Close()
	}
	return false
}

// TestStatementsArePreparedAgainOnAReplacementServerConnection: the server
// connection holding a client's prepared statements is terminated from outside
// between two transactions; the client's next Execute runs on a new one, where
// motorpool prepares the statement again without the client noticing.
func TestStatementsArePreparedAgainOnAReplacementServerConnection(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	ctx := testCtx(t)
	c := e.Connect(t, "").PgConn()
	if _, err := c.Prepare(ctx, "kept", "SELECT $1::int * 3, pg_backend_pid()", nil); err != nil {
		t.Fatal(err)
	}
	res := c.ExecPrepared(ctx, "kept", [][]byte{[]byte("5")}, nil, nil).Read()
	if res.Err != nil || string(res.Rows[0][0]) != "15" {
		t.Fatalf("first Execute: %v %v", res.Rows, res.Err)
	}
	oldPID := string(res.Rows[0][1])
	direct := e.Direct(t)
	// motorpool's end of the server connection, to see when motorpool has noticed.
	port := queryInt(t, direct, "SELECT client_port FROM pg_stat_activity WHERE pid = "+oldPID)
	mustExec(t, direct, "SELECT pg_terminate_backend("+oldPID+")")
	eventually(t, time.Minute, "motorpool closed the terminated server connection", func() error {
		if socketOpen(int(port)) {
			return errors.New("still open")
		}
		return nil
	})
	res = c.ExecPrepared(ctx, "kept", [][]byte{[]byte("7")}, nil, nil).Read()
	if res.Err != nil || string(res.Rows[0][0]) != "21" {
		t.Fatalf("Execute on the replacement server connection: %v %v", res.Rows, res.Err)
	}
	if string(res.Rows[0][1]) == oldPID {
		t.Fatal("the terminated server connection was used again")
	}
}

// TestSQLPrepareExecuteDeallocate documents what SQL-level PREPARE does through
// motorpool. Session mode behaves as PostgreSQL. Transaction mode keeps a SQL
// prepared statement for the transaction that created it; a server connection left
// with one is reset (DISCARD ALL) before its next use, so in autocommit EXECUTE finds
// no statement (26000) — use protocol-level prepared statements, which motorpool
// carries between server connections, or a transaction.
func TestSQLPrepareExecuteDeallocate(t *testing.T) {
	t.Parallel()
	p := start(t, setup{Mode: "session", PoolSize: 1})
	tx := start(t, setup{PoolSize: 1, PG: p.PG, Database: p.DB})
	script := func(conn *pgx.Conn) []string {
		var out []string
		for _, q := range []string{
			"PREPARE sq(int) AS SELECT $1 * 2",
			"EXECUTE sq(21)",
			"DEALLOCATE sq",
			"EXECUTE sq(1)",
			"BEGIN",
			"PREPARE sq2 AS SELECT 'in transaction'",
			"EXECUTE sq2",
			"DEALLOCATE sq2",
			"COMMIT",
		} {
			rows, err := conn.Query(testCtx(t), q, pgx.QueryExecModeSimpleProtocol)
			var vals []string
			if err == nil {
				for rows.Next() {
					v, _ := rows.Values()
					vals = append(vals, fmt.Sprint(v...))
				}
				err = rows.Err()
			}
			out = append(out, fmt.Sprintf("%s: %v %s", q, vals, sqlstate(err)))
		}
		return out
	}
	ref := script(connect(t, p.PG.DSN("scram_user", "scram-secret", p.DB)))
	if got := script(p.Connect(t, "")); strings.Join(got, "\n") != strings.Join(ref, "\n") {
		t.Errorf("session mode:\n%s\nPostgreSQL:\n%s", strings.Join(got, "\n"), strings.Join(ref, "\n"))
	}
	wantTx := append([]string(nil), ref...)
	wantTx[1] = "EXECUTE sq(21): [] 26000"
	wantTx[2] = "DEALLOCATE sq: [] 26000"
	if got := script(tx.Connect(t, "")); strings.Join(got, "\n") != strings.Join(wantTx, "\n") {
		t.Errorf("transaction mode:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantTx, "\n"))
	}
}

// TestAStatementWhoseTableChangedIsPreparedAfresh: after ALTER TABLE changes a
// statement's result, PostgreSQL refuses the cached plan of the statement motorpool
// shares between clients (0A000). The client that meets the refusal gets it, as the
// statement's own client would directly; after that, any client preparing or using
// the statement on that server connection gets it prepared afresh, rather than the
// refusal forever.
func TestAStatementWhoseTableChangedIsPreparedAfresh(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	direct := e.Direct(t)
	mustExec(t, direct, "CREATE TABLE altered (a int)", "INSERT INTO altered VALUES (1)", "GRANT ALL ON altered TO PUBLIC")
	ctx := testCtx(t)
	columns := func(conn *pgx.Conn) (int, error) {
		rows, err := conn.Query(ctx, "SELECT * FROM altered")
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return len(rows.FieldDescriptions()), rows.Err()
	}
	a := e.Connect(t, "") // pgx prepares and caches the statement
	if n, err := columns(a); err != nil || n != 1 {
		t.Fatalf("before: %d columns, %v", n, err)
	}
	mustExec(t, direct, "ALTER TABLE altered ADD COLUMN b int DEFAULT 2")
	b := e.Connect(t, "")
	n, err := columns(b)
	if err != nil {
		if !isCode(err, "0A000") {
			t.Fatalf("the first use after ALTER TABLE: %v", err)
		}
		n, err = columns(b) // pgx prepares the statement again
	}
	if err != nil || n != 2 {
		t.Fatalf("after ALTER TABLE: %d columns, %v; want the new 2", n, err)
	}
	for i := range 3 {
		c := e.Connect(t, "")
		if n, err := columns(c); err != nil || n != 2 {
			t.Fatalf("client %d after ALTER TABLE: %d columns, %v", i, n, err)
		}
	}
	if n, err := columns(a); err != nil && !isCode(err, "0A000") || err == nil && n != 2 {
		t.Fatalf("the first client: %d columns, %v", n, err)
	}
}

// TestSQLDeallocateOfAProtocolStatement: SQL DEALLOCATE of a statement the client
// prepared through the protocol (as Rails drops statements) deallocates it, on the
// server connection it was prepared on or another, and the name can be prepared
// again for another query; DEALLOCATE of a name the client does not have is 26000,
// as directly.
func TestSQLDeallocateOfAProtocolStatement(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 2})
	ctx := testCtx(t)
	c := e.Connect(t, "").PgConn()
	begin := func() pgx.Tx {
		tx, err := e.Connect(t, "").Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback(ctx) })
		return tx
	}
	prepare := func(sql, want string) {
		t.Helper()
		if _, err := c.Prepare(ctx, "a1", sql, nil); err != nil {
			t.Fatalf("prepare a1 as %s: %v", sql, err)
		}
		res := c.ExecPrepared(ctx, "a1", nil, nil, nil).Read()
		if res.Err != nil || string(res.Rows[0][0]) != want {
			t.Fatalf("a1: %v %v, want %s", res.Rows, res.Err, want)
		}
	}
	deallocate := func(q string) {
		t.Helper()
		if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// On the server connection it was prepared on.
	prepare("SELECT 1", "1")
	deallocate("DEALLOCATE a1")
	prepare("SELECT 2", "2")
	// On the other one: X is held while a1 is prepared on Y, then Y is held while
	// the DEALLOCATE runs on X.
	x := begin()
	deallocate("deallocate prepare A1")
	prepare("SELECT 3", "3")
	y := begin()
	if err := x.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	deallocate(`DEALLOCATE "a1"`)
	prepare("SELECT 4", "4")
	y.Rollback(ctx)
	if _, err := c.Exec(ctx, "DEALLOCATE nosuch").ReadAll(); !isCode(err, "26000") {
		t.Fatalf("DEALLOCATE of an unknown name: %v, want 26000", err)
	}
}

// TestServerErrorsNameTheClientsStatement: an error PostgreSQL gives about a prepared
// statement names it as the client did, not by motorpool's server-side name, and
// reads as it would directly.
func TestServerErrorsNameTheClientsStatement(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	ctx := testCtx(t)
	errorOf := func(c *pgconn.PgConn) string {
		t.Helper()
		if _, err := c.Prepare(ctx, "s1", "SELECT $1::int", nil); err != nil {
			t.Fatal(err)
		}
		res := c.ExecPrepared(ctx, "s1", [][]byte{[]byte("1"), []byte("2")}, nil, nil).Read()
		var pgErr *pgconn.PgError
		if !errors.As(res.Err, &pgErr) {
			t.Fatalf("binding two parameters to a statement of one: %v", res.Err)
		}
		return pgErr.Code + " " + pgErr.Message
	}
	direct := errorOf(e.PG.Connect(t, e.PG.SuperUser, "", e.DB).PgConn())
	through := errorOf(e.Connect(t, "").PgConn())
	if through != direct {
		t.Fatalf("through motorpool: %q\ndirectly:        %q", through, direct)
	}
}
