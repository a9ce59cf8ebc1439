package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
)

// TestClientHangingUpWhileWaitingLosesItsPlace: a client that hangs up while its
// statement waits for a server connection (all busy) leaves the line: it is no longer
// counted as waiting or connected, and its statement is never sent, as PgBouncer
// drops such a client. The clients waiting with it, quiet or sending more, are served.
func TestClientHangingUpWhileWaitingLosesItsPlace(t *testing.T) {
	t.Parallel()
	p, db, _ := cleanlinessFixture(t)
	s := poolOfOne("transaction", p, db)
	s.URLParams = "pool_timeout=120"
	e := start(t, s)
	ctx := testCtx(t)
	holder, err := connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, "")).Begin(ctx) // the only server connection
	if err != nil {
		t.Fatal(err)
	}
	leaver := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
	leaver.send(query("INSERT INTO dirty VALUES (42)"))
	if err := leaver.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	// stayer waits behind it, and sends more while it waits.
	stayer := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
	stayer.send(query("SELECT 1"))
	if err := stayer.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	// quiet (pgx) waits too, sending nothing more.
	quiet := connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, ""))
	quietDone := make(chan error, 1)
	go func() {
		var n int
		err := quiet.QueryRow(ctx, "SELECT 4").Scan(&n)
		if err == nil && n != 4 {
			err = fmt.Errorf("SELECT 4 answered %d", n)
		}
		quietDone <- err
	}()
	eventually(t, time.Minute, "the clients waiting", func() error {
		if n := waiting(e); n != 3 {
			return fmt.Errorf("%d clients waiting", n)
		}
		return nil
	})
	stayer.send(query("SELECT 2"))
	if err := stayer.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	leaver.conn.Close()
	eventually(t, time.Minute, "the client gone", func() error {
		if n := len(e.Proxy.Clients()); n != 3 {
			return fmt.Errorf("%d clients, %d waiting", n, waiting(e))
		}
		return nil
	})
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := stayer.readReady(2); err != nil || len(got) != 8 || got[1] != "DataRow 1" || got[5] != "DataRow 2" {
		t.Fatalf("the client still waiting got %q, %v", got, err)
	}
	stayer.round(t, query("SELECT 3"))
	if err := <-quietDone; err != nil {
		t.Fatalf("the quiet client still waiting: %v", err)
	}
	if n := queryInt(t, quiet, "SELECT 5"); n != 5 {
		t.Fatal("the quiet client after its wait")
	}
	next := connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, ""))
	if n := queryInt(t, next, "SELECT count(*) FROM dirty WHERE x = 42"); n != 0 { // served after anyone queued before it
		t.Fatal("the statement of the client that hung up ran")
	}
}

// waiting counts the clients of e waiting for a server connection.
func waiting(e *env) int {
	n := 0
	for _, c := range e.Proxy.Clients() {
		if c.State == proxy.StateWaiting {
			n++
		}
	}
	return n
}
