package e2e

import (
	"fmt"
	"testing"
	"time"
)

// After a failover a runbook runs RECONNECT db then WAIT_CLOSE db, as with
// PgBouncer: the idle server connection closes at once, the one a client
// holds mid-transaction once released, and WAIT_CLOSE returns when both are
// gone; clients go on, on new server connections.
func TestConsoleCompatReconnectAndWaitClose(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	e, direct := startCompat(t, "")
	app, other := e.connect(t, ctx), e.connect(t, ctx)
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := queryInt(t, other, "SELECT pg_backend_pid()") // left idle
	var held int64
	if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&held); err != nil {
		t.Fatal(err)
	}
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := con.Exec(ctx, `RECONNECT "`+e.DB+`"`); err != nil {
		t.Fatalf("RECONNECT: %v", err)
	}
	alive := func(pid int64) bool {
		return queryInt(t, direct, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) > 0
	}
	eventually(t, time.Minute, "the idle server connection closed", func() error {
		if alive(before) {
			return fmt.Errorf("backend %d still there", before)
		}
		return nil
	})
	if !alive(held) {
		t.Fatal("RECONNECT closed the connection of a transaction in progress")
	}
	waited := make(chan error, 1)
	go func() {
		_, err := con.Exec(ctx, `WAIT_CLOSE "`+e.DB+`"`)
		waited <- err
	}()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("WAIT_CLOSE: %v", err)
	}
	watch, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := consoleTable(t, ctx, watch, "SHOW SERVERS"); len(rows) != 0 {
		t.Fatalf("SHOW SERVERS after WAIT_CLOSE: %v, want none", rows)
	}
	if pid := queryInt(t, app, "SELECT pg_backend_pid()"); pid == held || pid == before {
		t.Fatalf("after RECONNECT the client still runs on backend %d", pid)
	}
}
