package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/testenv"
)

// TestDiagnoseDatabaseDownThenBack stops a private PostgreSQL under a pool in
// use: motorpool doctor blames the unreachable database with the dial error.
// Once PostgreSQL is back and a client's query goes through, the diagnosis no
// longer says the database cannot be reached (the failures stay in the
// window, and in the high_error_rate alert until it resolves).
func TestDiagnoseDatabaseDownThenBack(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	srv := testenv.NewPostgres(t, testenv.PGOptions{})
	db := srv.CreateDatabase(t, "diagnose_outage")
	e := startMonitoredAt(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)), db, "pool_timeout=2&connect_timeout=1", 20*time.Second)
	query := func() error {
		c, err := pgx.Connect(ctx, e.dsn(monAppUser, monAppPassword, e.DB))
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "SELECT 1")
		return err
	}
	if err := query(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	var r monitor.Report
	waitFor(t, ctx, "a diagnosis of the unreachable database", func() bool {
		if query() == nil {
			t.Fatal("a query went through while PostgreSQL was stopped")
		}
		r = e.report(t)
		return finding(r, monitor.DatabaseUnreachable) != nil
	})
	out, code := e.doctor(t, ctx)
	t.Logf("motorpool doctor (exit %d) while PostgreSQL is down:\n%s", code, out)
	if !strings.Contains(out, "cannot be reached") || !strings.Contains(out, "refused") {
		t.Errorf("doctor does not blame the unreachable database with its dial error")
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a query through motorpool once PostgreSQL is back", func() bool { return query() == nil })
	r = e.sampledAfter(t, ctx, e.report(t))
	out, code = e.doctor(t, ctx)
	t.Logf("motorpool doctor (exit %d) once PostgreSQL is back:\n%s", code, out)
	if f := finding(r, monitor.DatabaseUnreachable); f != nil {
		t.Errorf("PostgreSQL answers again, but the diagnosis says: %s (%s)", f.Summary, f.Evidence)
	}
	if strings.Contains(out, "cannot be reached") {
		t.Errorf("doctor still says the database cannot be reached")
	}
}
