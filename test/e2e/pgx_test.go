package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// execModes are pgx's ways of running a query, by their connection-string name.
var execModes = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"cache_statement", pgx.QueryExecModeCacheStatement},
	{"cache_describe", pgx.QueryExecModeCacheDescribe},
	{"describe_exec", pgx.QueryExecModeDescribeExec},
	{"exec", pgx.QueryExecModeExec},
	{"simple_protocol", pgx.QueryExecModeSimpleProtocol},
}

// exercise runs a client's typical work on conn and checks every answer: typed
// parameters and results, a transaction, a rolled-back transaction, a batch, an error
// followed by more work. id keeps concurrent exercisers apart.
func exercise(ctx context.Context, conn *pgx.Conn, id, round int) error {
	var sum int64
	var text string
	var arr []int32
	var null *string
	if err := conn.QueryRow(ctx, "SELECT $1::int8 + $2::int8, $3::text || '!', $4::int4[], $5::text",
		int64(id), int64(round), fmt.Sprintf("c%d", id), []int32{int32(id), int32(round)}, nil).Scan(&sum, &text, &arr, &null); err != nil {
		return fmt.Errorf("typed query: %w", err)
	}
	if sum != int64(id+round) || text != fmt.Sprintf("c%d!", id) || len(arr) != 2 || arr[0] != int32(id) || null != nil {
		return fmt.Errorf("typed query answered %d %q %v %v for client %d round %d", sum, text, arr, null, id, round)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO items (client, round) VALUES ($1, $2)", id, round); err != nil {
		tx.Rollback(ctx)
		return fmt.Errorf("insert: %w", err)
	}
	var n int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM items WHERE client = $1 AND round = $2", id, round).Scan(&n); err != nil || n != 1 {
		tx.Rollback(ctx)
		return fmt.Errorf("count in transaction: %d, %v", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	tx, err = conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO items (client, round) VALUES ($1, -1)", id); err != nil {
		tx.Rollback(ctx)
		return fmt.Errorf("insert: %w", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	b := &pgx.Batch{}
	b.Queue("SELECT $1::int * 2", id)
	b.Queue("SELECT count(*) FROM items WHERE client = $1 AND round = -1", id)
	br := conn.SendBatch(ctx, b)
	var twice, rolledBack int64
	err1 := br.QueryRow().Scan(&twice)
	err2 := br.QueryRow().Scan(&rolledBack)
	if err := errors.Join(err1, err2, br.Close()); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if twice != int64(2*id) || rolledBack != 0 {
		return fmt.Errorf("batch answered %d %d for client %d", twice, rolledBack, id)
	}
	_, err = conn.Exec(ctx, "SELECT 1/0")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		return fmt.Errorf("division by zero gave %v, want SQLSTATE 22012", err)
	}
	return nil
}

const itemsTable = "CREATE TABLE items (client int, round int)"

func TestPgxWorksInEveryQueryExecModeInSessionMode(t *testing.T) {
	t.Parallel()
	e := start(t, setup{Mode: "session", PoolSize: 5})
	mustExec(t, e.Direct(t), itemsTable, "GRANT ALL ON items TO PUBLIC")
	for i, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			conn := e.Connect(t, "default_query_exec_mode="+m.name)
			ctx := testCtx(t)
			var pid uint32
			if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				t.Fatal(err)
			}
			for round := range 20 {
				if err := exercise(ctx, conn, i, round); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			var again uint32
			if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&again); err != nil {
				t.Fatal(err)
			}
			if again != pid || conn.PgConn().PID() != pid {
				t.Fatalf("session mode moved the client: backend %d, then %d; BackendKeyData %d", pid, again, conn.PgConn().PID())
			}
		})
	}
}

// TestPgxInEveryQueryExecModeSharesAPoolOfTwoInTransactionMode runs many goroutines,
// each with its own connection, through two server connections: prepared and
// described statements must follow each client from server connection to server
// connection, and answers must never cross.
func TestPgxInEveryQueryExecModeSharesAPoolOfTwoInTransactionMode(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 2})
	mustExec(t, e.Direct(t), itemsTable, "GRANT ALL ON items TO PUBLIC")
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			const clients, rounds = 12, 15
			ctx := testCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for id := range clients {
				conn := e.Connect(t, "default_query_exec_mode="+m.name)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for round := range rounds {
						if err := exercise(ctx, conn, 100+id, round); err != nil {
							errs <- fmt.Errorf("client %d round %d: %w", id, round, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			mustExec(t, e.Direct(t), "TRUNCATE items")
		})
	}
}

// TestLargeParametersAndResultsInEveryQueryExecMode sends parameters and receives
// values far larger than motorpool's relay buffers, in every pgx mode, so Binds,
// Parses and rows stream through (with statement names mapped on the way).
func TestLargeParametersAndResultsInEveryQueryExecMode(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			conn := e.Connect(t, "default_query_exec_mode="+m.name)
			ctx := testCtx(t)
			for round := range 3 {
				var echoed string
				var n int
				if err := conn.QueryRow(ctx, "SELECT $1::text, length($1::text) + $2::int", big, round).Scan(&echoed, &n); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if echoed != big || n != len(big)+round {
					t.Fatalf("round %d: a 1 MiB parameter came back as %d bytes (length %d)", round, len(echoed), n)
				}
				var s string
				if err := conn.QueryRow(ctx, "SELECT repeat('x', 5 << 20) || $1::text", "end").Scan(&s); err != nil || len(s) != 5<<20+3 {
					t.Fatalf("round %d: a 5 MiB value: %d bytes, %v", round, len(s), err)
				}
			}
		})
	}
	t.Run("a large Bind of a statement the server connection must prepare first", func(t *testing.T) {
		c := e.Connect(t, "").PgConn()
		ctx := testCtx(t)
		if _, err := c.Prepare(ctx, "big", "SELECT length($1::text)", nil); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			// Another client replaces the only server connection: "big" is not on the new one.
			other := e.Connect(t, "")
			other.Exec(ctx, "SELECT pg_terminate_backend(pg_backend_pid())")
			got, err := execPrepared(ctx, c, "big", big)
			if err != nil || got != strconv.Itoa(len(big)) {
				t.Fatalf("large Bind after re-preparation: %q, %v", got, err)
			}
		}
	})
}
