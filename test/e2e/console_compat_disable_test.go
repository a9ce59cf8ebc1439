package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DISABLE db refuses new clients of the database, as PgBouncer's does, while
// those connected, one mid-transaction included, go on; ENABLE lets them in
// again. SHOW DATABASES' disabled says which state it is in.
func TestConsoleCompatDisableRefusesNewClients(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	e, _ := startCompat(t, "")
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
	if _, err := con.Exec(ctx, "DISABLE"); err == nil {
		t.Error("DISABLE without a database succeeded")
	}
	if _, err := con.Exec(ctx, "DISABLE nosuch"); err == nil {
		t.Error("DISABLE of an unknown database succeeded")
	}
	if _, err := con.Exec(ctx, `DISABLE "`+e.DB+`"`); err != nil {
		t.Fatalf("DISABLE: %v", err)
	}
	cols, rows := consoleTable(t, ctx, con, "SHOW DATABASES")
	if len(rows) != 1 || column(cols, rows[0], "disabled") != "1" {
		t.Fatalf("SHOW DATABASES after DISABLE: %v %v, want disabled 1", cols, rows)
	}

	_, err = pgx.Connect(ctx, e.dsn(monAppUser, monAppPassword, e.DB))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "55000" || pe.Severity != "FATAL" {
		t.Fatalf("new client of a disabled database: %v, want FATAL 55000", err)
	}
	if _, err := tx.Exec(ctx, "SELECT 2"); err != nil {
		t.Fatalf("the transaction begun before DISABLE: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, app, "SELECT 3"); got != 3 {
		t.Fatalf("client connected before DISABLE: %d", got)
	}

	if _, err := con.Exec(ctx, `ENABLE "`+e.DB+`"`); err != nil {
		t.Fatalf("ENABLE: %v", err)
	}
	if got := queryInt(t, e.connect(t, ctx), "SELECT 4"); got != 4 {
		t.Fatalf("new client after ENABLE: %d", got)
	}
	cols, rows = consoleTable(t, ctx, con, "SHOW DATABASES")
	if len(rows) != 1 || column(cols, rows[0], "disabled") != "0" {
		t.Fatalf("SHOW DATABASES after ENABLE: %v %v, want disabled 0", cols, rows)
	}
}
