package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lib/pq"
)

// TestCancelsRacingHandOffsNeverHitAnotherClient: many clients share a pool of 2 in
// transaction mode. Attackers (pgx sending CancelRequest, pgx cancelling its context,
// lib/pq cancelling its context) cancel their own short queries at every moment
// around their end, when the server connection passes to someone else; victims (pgx,
// lib/pq, psql) run short queries and transactions and never cancel anything. No
// victim may ever see 57014, and each attacker sees only success or its own cancel.
func TestCancelsRacingHandOffsNeverHitAnotherClient(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			size := 2
			if mode == "session" {
				size = 12 // a server connection per client
			}
			e := start(t, setup{Mode: mode, PoolSize: size, URLParams: "pool_timeout=120"})
			ctx := testCtx(t)
			var stop atomic.Bool
			var cancelled atomic.Int64 // queries the attackers' cancels did stop
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			run := func(name string, f func() error) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f(); err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
					}
				}()
			}

			for i := range 3 {
				run(fmt.Sprint("pgx attacker ", i), func() error {
					return pgxCancelAttacker(ctx, t, e, &stop, &cancelled, i)
				})
			}
			run("pgx context attacker", func() error { return pgxContextAttacker(ctx, t, e, &stop, &cancelled) })
			run("lib/pq context attacker", func() error { return pqContextAttacker(ctx, t, e, &stop, &cancelled) })

			var victims sync.WaitGroup
			victim := func(name string, f func() error) {
				victims.Add(1)
				run(name, func() error { defer victims.Done(); return f() })
			}
			for i := range 4 {
				c := e.Connect(t, "")
				victim(fmt.Sprint("pgx victim ", i), func() error {
					defer c.Close(context.Background())
					return pgxVictim(ctx, c, i)
				})
			}
			db := openPQ(t, e.pgKV(appUser, appPassword, ""))
			db.SetMaxOpenConns(1)
			victim("lib/pq victim", func() error { defer db.Close(); return pqVictim(ctx, db) })
			victim("psql victim", func() error { return psqlVictim(t, e) })

			victims.Wait()
			stop.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if cancelled.Load() == 0 {
				t.Error("no attacker's cancel stopped a query: the race was not exercised")
			}
			t.Logf("%d queries cancelled by their own client", cancelled.Load())
			assertPoolsSettle(t, e)
		})
	}
}

// spread returns a pause of 0 to 3 ms, so that cancels land before, during and after
// the end of a 1 ms query.
func spread() time.Duration { return time.Duration(rand.IntN(3000)) * time.Microsecond }

// ownCancel checks an attacker's query result: success, or 57014 from its own cancel.
func ownCancel(err error, cancelled *atomic.Int64) error {
	switch {
	case err == nil:
		return nil
	case isCode(err, "57014"), pqCode(err) == "57014":
		cancelled.Add(1)
		return nil
	}
	return err
}

// pqCode returns the SQLSTATE of a lib/pq error, or "".
func pqCode(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	return ""
}

// pgxCancelAttacker runs 1 ms queries and sends a CancelRequest for each at a random
// moment around its end.
func pgxCancelAttacker(ctx context.Context, t *testing.T, e *env, stop *atomic.Bool, cancelled *atomic.Int64, i int) error {
	c := e.Connect(t, "")
	defer c.Close(context.Background())
	for n := 0; !stop.Load(); n++ {
		q := "SELECT pg_sleep(0.001)"
		if n%3 == 0 {
			q = fmt.Sprintf("SELECT pg_sleep(0.001) FROM (SELECT %d) attacker", i) // a text of its own
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Exec(ctx, q)
			done <- err
		}()
		time.Sleep(spread())
		if err := c.PgConn().CancelRequest(ctx); err != nil {
			return fmt.Errorf("cancel request: %w", err)
		}
		if err := ownCancel(<-done, cancelled); err != nil {
			return err
		}
	}
	return nil
}

// pgxContextAttacker cancels the context of its queries, as applications do: pgx sends
// a CancelRequest, and closes the connection if the answer is late.
func pgxContextAttacker(ctx context.Context, t *testing.T, e *env, stop *atomic.Bool, cancelled *atomic.Int64) error {
	c := e.Connect(t, "")
	defer func() { c.Close(context.Background()) }()
	for !stop.Load() {
		qctx, cancel := context.WithTimeout(ctx, spread())
		_, err := c.Exec(qctx, "SELECT pg_sleep(0.001)")
		cancel()
		if err := ownCancel(err, cancelled); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if c.IsClosed() {
			c = e.Connect(t, "")
		}
	}
	return nil
}

// pqContextAttacker does the same with lib/pq through database/sql.
func pqContextAttacker(ctx context.Context, t *testing.T, e *env, stop *atomic.Bool, cancelled *atomic.Int64) error {
	db := openPQ(t, e.pgKV(appUser, appPassword, ""))
	defer db.Close()
	db.SetMaxOpenConns(1)
	for !stop.Load() {
		qctx, cancel := context.WithTimeout(ctx, spread())
		_, err := db.ExecContext(qctx, "SELECT pg_sleep(0.001)")
		cancel()
		if err := ownCancel(err, cancelled); err != nil && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// pgxVictim runs short queries, alone and in transactions, and cancels nothing.
func pgxVictim(ctx context.Context, c *pgx.Conn, i int) error {
	for n := range 150 {
		var got int
		if n%2 == 0 {
			if err := c.QueryRow(ctx, "SELECT $1::int FROM pg_sleep(0.001)", n).Scan(&got); err != nil || got != n {
				return fmt.Errorf("query %d: %d, %w", n, got, err)
			}
			continue
		}
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_sleep(0.001)"); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "SELECT $1::int + $2::int", n, i).Scan(&got)
		})
		if err != nil || got != n+i {
			return fmt.Errorf("transaction %d: %d, %w", n, got, err)
		}
	}
	return nil
}

// pqVictim runs short queries with lib/pq.
func pqVictim(ctx context.Context, db *sql.DB) error {
	for n := range 150 {
		var got int
		if err := db.QueryRowContext(ctx, "SELECT $1::int FROM pg_sleep(0.001)", n).Scan(&got); err != nil || got != n {
			return fmt.Errorf("query %d: %d, %w", n, got, err)
		}
	}
	return nil
}

// psqlVictim runs a script of short statements with psql, stopping at the first error.
func psqlVictim(t *testing.T, e *env) error {
	script := strings.Repeat("SELECT pg_sleep(0.001);\nBEGIN;\nSELECT pg_sleep(0.001);\nCOMMIT;\n", 75)
	out, err := toolErr(t, "psql", []string{"PGPASSWORD=" + appPassword}, strings.NewReader(script),
		"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", e.pgKV(appUser, "", ""))
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// assertPoolsSettle waits until, every client having left, no server connection of
// e's pools is leased and no client is left.
func assertPoolsSettle(t *testing.T, e *env) {
	t.Helper()
	eventually(t, time.Minute, "pools idle", func() error {
		for _, p := range e.Proxy.Pools() {
			if st := p.Core().Stats(); st.Active != 0 || st.Waiting != 0 {
				return fmt.Errorf("pool %s: %d active, %d waiting", p.Name, st.Active, st.Waiting)
			}
		}
		if n := len(e.Proxy.Clients()); n != 0 {
			return fmt.Errorf("%d clients left", n)
		}
		return nil
	})
}
