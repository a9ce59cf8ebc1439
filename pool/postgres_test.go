package pool_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/motorpool/motorpool/internal/testenv"
	"github.com/motorpool/motorpool/pool"
)

// pgConfig returns a Config pooling pgx connections to dsn, as an application
// would: Validate pings, Reset discards session state, Broken notices a
// connection its server closed.
func pgConfig(dsn string) pool.Config[*pgx.Conn] {
	return pool.Config[*pgx.Conn]{
		Dial: func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) },
		Close: func(c *pgx.Conn) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Close(ctx)
		},
		Validate: func(ctx context.Context, c *pgx.Conn) error { return c.Ping(ctx) },
		Reset: func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "DISCARD ALL")
			return err
		},
		Broken: func(c *pgx.Conn) bool { return c.IsClosed() },
	}
}

// checkStats reports what in s breaks the invariants Stats documents, given
// the previous snapshot.
func checkStats(t *testing.T, prev, s pool.Stats, shrunk bool) {
	t.Helper()
	if sum := s.Creating + s.Idle + s.Active + s.Validating + s.Destroying; sum != s.Total {
		t.Fatalf("states add up to %d, Total is %d: %+v", sum, s.Total, s)
	}
	if s.Total > s.Max && !shrunk {
		t.Fatalf("Total %d above Max %d", s.Total, s.Max)
	}
	if int(s.Acquired-s.Released) != s.Active {
		t.Fatalf("Acquired %d - Released %d != Active %d", s.Acquired, s.Released, s.Active)
	}
	if s.Acquired < prev.Acquired || s.Released < prev.Released || s.Created < prev.Created ||
		s.Destroyed < prev.Destroyed || s.Waits < prev.Waits || s.AcquireTime.Count < prev.AcquireTime.Count ||
		s.ActiveTime < prev.ActiveTime || s.WaitTime < prev.WaitTime {
		t.Fatalf("a counter decreased:\n%+v\nthen\n%+v", prev, s)
	}
	if open := uint64(s.Idle + s.Active + s.Validating); s.Created != s.Destroyed+open { // Destroyed counts those closing
		t.Fatalf("created %d, destroyed %d, open %d", s.Created, s.Destroyed, open)
	}
}

// TestPostgresChurn leases real PostgreSQL connections from many goroutines
// that time out, give up, destroy and discard, while connections idle out,
// reach their lifetime and are validated, and the pool is resized under its
// holders; Stats must stay consistent throughout, and Close must leave no
// server connection and no goroutine behind.
func TestPostgresChurn(t *testing.T) {
	pg := testenv.Postgres(t)
	const app = "pool_churn_test"
	cfg := pgConfig(pg.DSN(pg.SuperUser, "", "") + "&application_name=" + app)
	cfg.MinSize, cfg.MaxSize = 1, 4
	cfg.AcquireTimeout = 200 * time.Millisecond
	cfg.IdleTimeout = 20 * time.Millisecond
	cfg.MaxLifetime, cfg.MaxLifetimeJitter = 100*time.Millisecond, 50*time.Millisecond
	cfg.ValidateIdleAfter = 5 * time.Millisecond
	cfg.HealthCheckPeriod = 10 * time.Millisecond
	var evMu sync.Mutex
	opened := map[uint64]bool{}
	var evErr error
	cfg.OnEvent = func(ev pool.Event) {
		evMu.Lock()
		defer evMu.Unlock()
		switch ev.Kind {
		case pool.EventConnCreated:
			opened[ev.ConnID] = true
		case pool.EventConnClosed:
			if !opened[ev.ConnID] && evErr == nil {
				evErr = errors.New("conn_closed before conn_created, or twice")
			}
			delete(opened, ev.ConnID)
		}
	}
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(50))*time.Millisecond)
				l, err := p.AcquireAs(ctx, "churn")
				if err != nil {
					cancel()
					var ae *pool.AcquireError
					if !errors.As(err, &ae) || ae.Reason == pool.FailUnreachable || ae.Reason == pool.FailClosed {
						t.Errorf("acquire: %v", err)
						return
					}
					continue
				}
				var pid uint32
				qerr := l.Conn().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
				cancel()
				switch {
				case qerr != nil:
					l.Destroy(qerr) // the ctx may have cut the query short
				case i%4 == 0:
					l.Discard(nil)
				default:
					l.Release()
				}
			}
		})
	}
	prev := p.Stats()
	for n := range 3000 {
		shrunk := false
		if n%500 == 250 {
			if err := p.Resize(0, 1+rand.IntN(4)); err != nil {
				t.Fatal(err)
			}
			shrunk = true
		}
		s := p.Stats()
		checkStats(t, prev, s, shrunk || s.Max < prev.Max || s.Total > s.Max && prev.Total > prev.Max)
		prev = s
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s := p.Stats()
	if s.Total != 0 || s.Created != s.Destroyed || s.Acquired != s.Released || s.Acquired == 0 {
		t.Fatalf("after Close: %+v", s)
	}
	evMu.Lock()
	defer evMu.Unlock()
	if evErr != nil || len(opened) != 0 {
		t.Fatalf("events: %v; %d connections created and never closed", evErr, len(opened))
	}
	var left int
	admin, err := pgx.Connect(ctx, pg.DSN(pg.SuperUser, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// A backend goes from pg_stat_activity a moment after its client's
	// Terminate; what must not be there is a connection nobody closed.
	for {
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d server connections left after Close", left)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestPostgresDownThenUp: while the server is down, acquirers fail with
// FailUnreachable and the dial's own error after ConnectTimeout; once it is
// back, the pool dials up to MinSize again without anyone acquiring.
func TestPostgresDownThenUp(t *testing.T) {
	pg := testenv.NewPostgres(t, testenv.PGOptions{})
	cfg := pgConfig(pg.DSN(pg.SuperUser, "", ""))
	cfg.MinSize, cfg.MaxSize = 2, 4
	cfg.ValidateIdleAfter = time.Nanosecond
	cfg.ConnectTimeout = 500 * time.Millisecond
	cfg.DialBackoffMin, cfg.DialBackoffMax = 10*time.Millisecond, 50*time.Millisecond
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitFor := func(what string, cond func(pool.Stats) bool) {
		t.Helper()
		for !cond(p.Stats()) {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %+v", what, p.Stats())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitFor("warm", func(s pool.Stats) bool { return s.Idle == 2 })

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	// pgx does not read while idle, so Broken (IsClosed) does not notice the
	// server has gone; Validate, at acquire, does.
	_, err = p.Acquire(ctx)
	var ae *pool.AcquireError
	var ce *pgconn.ConnectError
	if !errors.As(err, &ae) || ae.Reason != pool.FailUnreachable || !errors.As(err, &ce) {
		t.Fatalf("acquire with the server down: %v; want unreachable with the dial's *pgconn.ConnectError", err)
	}
	if s := p.Stats(); s.ValidationFailures != 2 {
		t.Fatalf("%d validation failures, want the 2 idle connections'", s.ValidationFailures)
	}
	if ae.Waited < cfg.ConnectTimeout {
		t.Fatalf("failed after %v, before ConnectTimeout", ae.Waited)
	}

	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor("back to MinSize", func(s pool.Stats) bool { return s.Idle == 2 && s.LastDialError == nil })
	l, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Conn().Ping(ctx); err != nil {
		t.Fatal(err)
	}
	l.Release()
}
