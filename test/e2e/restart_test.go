package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/motorpool/motorpool/internal/testenv"
)

// cleanFailure reports whether err is how a client should learn that the database
// went away: a connection-class or shutdown SQLSTATE, or the connection ending.
func cleanFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == "53300"
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false // a hang, not an answer
	}
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) || pgconn.SafeToRetry(err) || isEOF(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "broken pipe") ||
		strings.Contains(err.Error(), "unexpected EOF")
}

// TestPostgreSQLRestartUnderLoad restarts the database while clients work through
// motorpool: clients get clean errors (connection and shutdown SQLSTATEs, or their
// connection ends), never a wrong answer, a protocol error or a hang; then every
// client is served again without anyone touching motorpool.
func TestPostgreSQLRestartUnderLoad(t *testing.T) {
	t.Parallel()
	p := testenv.NewPostgres(t, testenv.PGOptions{MaxConnections: 40})
	db := p.CreateDatabase(t, "restart")
	mustExec(t, p.Connect(t, p.SuperUser, "", db), "CREATE TABLE ticks (worker int, n int)", "GRANT ALL ON ticks TO PUBLIC")
	e := start(t, setup{PG: p, Database: db, PoolSize: 4, URLParams: "pool_timeout=5&connect_timeout=2"})
	for _, how := range []struct {
		name    string
		restart func(t *testing.T)
	}{
		{"fast shutdown and start", func(t *testing.T) { p.Restart(t) }},
		{"crash and start", func(t *testing.T) {
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(how.name, func(t *testing.T) { restartUnderLoad(t, e, how.restart) })
	}
}

func restartUnderLoad(t *testing.T, e *env, restart func(t *testing.T)) {
	p, db := e.PG, e.DB
	ctx := ctxFor(t, 4*time.Minute)

	const workers = 12
	var restarted atomic.Int64 // unix nanos when the server was up again; 0 before
	type stats struct {
		ok       int
		okAfter  atomic.Int64
		failures map[string]int
		unclean  []string
	}
	all := make([]stats, workers)
	stop := make(chan struct{})
	warm := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &all[w]
			st.failures = map[string]int{}
			var conn *pgx.Conn
			defer func() {
				if conn != nil {
					conn.Close(context.Background())
				}
			}()
			fail := func(err error) {
				code := sqlstate(err)
				if code == "" {
					code = "disconnect"
				}
				st.failures[code]++
				if !cleanFailure(err) {
					st.unclean = append(st.unclean, err.Error())
				}
				if conn != nil {
					conn.Close(context.Background())
					conn = nil
				}
				time.Sleep(20 * time.Millisecond)
			}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if ctx.Err() != nil {
					return
				}
				if conn == nil {
					c, err := pgx.Connect(ctx, e.AppDSN(""))
					if err != nil {
						fail(err)
						continue
					}
					conn = c
				}
				var got int
				err := conn.QueryRow(ctx, "SELECT $1::int", n).Scan(&got)
				if err == nil && got != n {
					st.unclean = append(st.unclean, fmt.Sprintf("asked %d, got %d", n, got))
				}
				if err == nil && n%3 == 0 {
					// A transaction in flight when the server goes: all of it or nothing.
					err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
						if _, err := tx.Exec(ctx, "INSERT INTO ticks VALUES ($1, $2)", w, n); err != nil {
							return err
						}
						if _, err := tx.Exec(ctx, "SELECT pg_sleep(0.05)"); err != nil {
							return err
						}
						_, err := tx.Exec(ctx, "INSERT INTO ticks VALUES ($1, $2)", w, -n)
						return err
					})
				}
				if err != nil {
					fail(err)
					continue
				}
				st.ok++
				if st.ok == 5 {
					warm <- struct{}{}
				}
				if r := restarted.Load(); r != 0 && time.Now().UnixNano() > r {
					st.okAfter.Add(1)
				}
			}
		}()
	}
	for range workers {
		select {
		case <-warm:
		case <-ctx.Done():
			t.Fatal("the workers did not get going")
		}
	}
	restart(t)
	restarted.Store(time.Now().UnixNano())
	eventually(t, 2*time.Minute, "every client served again after the restart", func() error {
		for w := range all {
			if all[w].okAfter.Load() == 0 {
				return fmt.Errorf("worker %d not yet", w)
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()
	half := queryInt(t, p.Connect(t, p.SuperUser, "", db), `SELECT count(*) FROM ticks a
		WHERE NOT EXISTS (SELECT FROM ticks b WHERE b.worker = a.worker AND b.n = -a.n)`)
	if half != 0 {
		t.Errorf("%d rows of transactions cut by the restart were committed without their other half", half)
	}
	for w := range all {
		st := &all[w]
		t.Logf("worker %d: %d ok (%d after the restart), failures %v", w, st.ok, st.okAfter.Load(), st.failures)
		for _, u := range st.unclean {
			t.Errorf("worker %d got an unclean failure: %s", w, u)
		}
	}
}
