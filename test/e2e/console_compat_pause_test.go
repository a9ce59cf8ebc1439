package e2e

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/testenv"
)

// startCompat starts motorpool (connection_limit 2, the given URL parameters)
// for a database of its own on the shared PostgreSQL, and returns it with a
// direct connection to that server, for pg_stat_activity.
func startCompat(t *testing.T, urlParams string) (*monEnv, *pgx.Conn) {
	t.Helper()
	srv := testenv.Postgres(t)
	db := srv.CreateDatabase(t, fmt.Sprintf("e2e_compat_%d", time.Now().UnixNano()%1e9))
	e := startMonitoredAt(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)), db, urlParams, time.Minute)
	direct := srv.Connect(t, srv.SuperUser, "", "postgres")
	return e, direct
}

// backends counts the server processes connected to database db, other than
// direct's own.
func backends(t *testing.T, ctx context.Context, direct *pgx.Conn, db string) int64 {
	t.Helper()
	var n int64
	err := direct.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A runbook pauses a database to restart, rename or drop it: PgBouncer's
// PAUSE waits for the running transaction, then closes the database's server
// connections, and opens none until RESUME, min_pool_size included.
func TestConsoleCompatPauseClosesServerConnections(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	e, direct := startCompat(t, "min_connections=1")
	app := e.connect(t, ctx)
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	paused := make(chan error, 1)
	go func() {
		_, err := con.Exec(ctx, `PAUSE "`+e.DB+`"`)
		paused <- err
	}()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-paused; err != nil {
		t.Fatalf("PAUSE: %v", err)
	}
	// PAUSE returns once the connections are closed: SHOW SERVERS lists none.
	watch, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := consoleTable(t, ctx, watch, "SHOW SERVERS"); len(rows) != 0 {
		t.Fatalf("SHOW SERVERS after PAUSE: %v, want none", rows)
	}
	eventually(t, time.Minute, "no backend connected to the paused database", func() error {
		if n := backends(t, ctx, direct, e.DB); n != 0 {
			return fmt.Errorf("%d backends", n)
		}
		return nil
	})

	if _, err := watch.Exec(ctx, `RESUME "`+e.DB+`"`); err != nil {
		t.Fatalf("RESUME: %v", err)
	}
	if got := queryInt(t, app, "SELECT 7"); got != 7 {
		t.Fatalf("after RESUME: %d", got)
	}
	if _, rows := consoleTable(t, ctx, watch, "SHOW SERVERS"); len(rows) == 0 {
		t.Fatal("no server connection after RESUME")
	}
}

// KILL drops the database's clients, a client mid-transaction included, and
// its server connections, the one that client held too; none is opened until
// RESUME.
func TestConsoleCompatKillClosesServerConnections(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	e, direct := startCompat(t, "min_connections=1")
	app := e.connect(t, ctx)
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := con.Exec(ctx, `KILL "`+e.DB+`"`); err != nil {
		t.Fatalf("KILL: %v", err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the killed client's transaction went on")
	}
	eventually(t, time.Minute, "no server connection of the killed database", func() error {
		if _, rows := consoleTable(t, ctx, con, "SHOW SERVERS"); len(rows) != 0 {
			return fmt.Errorf("SHOW SERVERS: %v", rows)
		}
		if n := backends(t, ctx, direct, e.DB); n != 0 {
			return fmt.Errorf("%d backends", n)
		}
		return nil
	})
	if _, err := con.Exec(ctx, `RESUME "`+e.DB+`"`); err != nil {
		t.Fatalf("RESUME: %v", err)
	}
	if got := queryInt(t, e.connect(t, ctx), "SELECT 7"); got != 7 {
		t.Fatalf("after RESUME: %d", got)
	}
}
