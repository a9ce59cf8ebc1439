package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/motorpool/motorpool/internal/testenv"
)

// connectErr tries a pgx connection and returns the error, closing a connection that
// unexpectedly succeeds.
func connectErr(t *testing.T, dsn string) error {
	t.Helper()
	conn, err := pgx.Connect(ctxFor(t, time.Minute), dsn)
	if err == nil {
		conn.Close(context.Background())
	}
	return err
}

// silentServer returns the address of a server that accepts connections and never
// says a word.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestLoginRefusalsCarryPostgreSQLsSQLSTATE: every way a login can fail ends with the
// error PostgreSQL itself would send (or, for motorpool's own limits, the SQLSTATE
// PostgreSQL uses for the same condition), never a bare disconnect or a generic 08P01.
func TestLoginRefusalsCarryPostgreSQLsSQLSTATE(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	scram := start(t, setup{PG: p})
	md5 := start(t, setup{PG: p, ClientAuth: "md5", Database: scram.DB})
	// Server connections log in as the client: PostgreSQL itself judges the role.
	asClient := start(t, setup{PG: p, ClientAuth: "trust", ServerUser: "-", Database: scram.DB})
	full := start(t, setup{PG: p, Database: scram.DB, MaxClients: 2})
	const trustedGhost = "e2e_trusted_ghost"
	trustRole(t, p, trustedGhost)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	down := start(t, setup{PG: p, Database: scram.DB, ServerAddr: deadAddr, URLParams: "pool_timeout=2&connect_timeout=1"})
	silent := start(t, setup{PG: p, Database: scram.DB, ServerAddr: silentServer(t), URLParams: "pool_timeout=2&connect_timeout=1"})

	// Fill the two client slots of the full proxy.
	full.Connect(t, "")
	leaving := full.Connect(t, "")

	tests := []struct {
		name     string
		dsn      string
		code     string
		contains string
	}{
		{"wrong password with SCRAM", scram.DSN(appUser, "wrong", ""), "28P01", `password authentication failed for user "app"`},
		{"wrong password with md5", md5.DSN(appUser, "wrong", ""), "28P01", `password authentication failed for user "app"`},
		{"unknown role with SCRAM", scram.DSN("ghost", "whatever", ""), "28P01", `password authentication failed for user "ghost"`},
		{"unknown role with md5", md5.DSN("ghost", "whatever", ""), "28P01", `password authentication failed for user "ghost"`},
		{"unknown database", dsn(scram.Addr, appUser, appPassword, "no_such_db", ""), "3D000", `database "no_such_db" does not exist`},
		{"unknown role with trust, judged by the server", asClient.DSN(trustedGhost, "", ""), "28000", `role "` + trustedGhost + `" does not exist`},
		{"unknown role with trust, server asks a password", asClient.DSN("ghost", "", ""), "28P01", `password authentication failed for user "ghost"`},
		{"too many clients", full.AppDSN(""), "53300", "too many clients"},
		{"database down", down.AppDSN(""), "08001", "connection refused"},
		{"database silent", silent.AppDSN(""), "08001", "did not complete the login within connect_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := connectErr(t, tt.dsn)
			var pgErr *pgconn.PgError
			if !isCode(err, tt.code) {
				t.Fatalf("login error %v; want SQLSTATE %s", err, tt.code)
			}
			errors.As(err, &pgErr)
			if !strings.Contains(pgErr.Message, tt.contains) {
				t.Fatalf("message %q; want it to say %q", pgErr.Message, tt.contains)
			}
		})
	}

	// A slot is free again once a client leaves.
	leaving.Close(context.Background())
	eventually(t, time.Minute, "a client slot freed", func() error {
		conn, err := connectOrErr(t, full.AppDSN(""))
		if err != nil {
			return err
		}
		return conn.Close(context.Background())
	})

	// PostgreSQL says the same for the same mistakes.
	for _, tt := range []struct{ name, dsn, code string }{
		{"wrong password", p.DSN(testenv.ScramUser, "wrong", ""), "28P01"},
		{"unknown role", p.DSN("ghost", "whatever", ""), "28P01"},
		{"unknown database", p.DSN(testenv.ScramUser, testenv.ScramPassword, "no_such_db"), "3D000"},
		{"unknown role, password asked", p.DSN("ghost", "", ""), "28P01"},
		{"unknown role, trusted", p.DSN("e2e_trusted_ghost", "", ""), "28000"},
	} {
		t.Run("PostgreSQL: "+tt.name, func(t *testing.T) {
			if err := connectErr(t, tt.dsn); !isCode(err, tt.code) {
				t.Fatalf("PostgreSQL itself answered %v; the reference expects %s", err, tt.code)
			}
		})
	}
}

// trustRole makes the shared server trust the (nonexistent) role name over TCP, so
// that PostgreSQL, not a password exchange, decides about it.
func trustRole(t *testing.T, p *testenv.PG, role string) {
	t.Helper()
	hba := filepath.Join(p.DataDir, "pg_hba.conf")
	b, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	line := "host all " + role + " 127.0.0.1/32 trust\n"
	if !strings.Contains(string(b), line) {
		if err := os.WriteFile(hba, append([]byte(line), b...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Exec(testCtx(t), "postgres", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "pg_hba.conf reloaded", func() error {
		err := connectErr(t, p.DSN(role, "", ""))
		if !isCode(err, "28000") {
			return fmt.Errorf("PostgreSQL answers %v", err)
		}
		return nil
	})
}

// TestPoolWaitTimeoutSaysThePoolIsExhausted: a client that waits pool_timeout for a
// server connection gets 53300 with the pool's size and its waiters, and is served
// once a connection is free again.
func TestPoolWaitTimeoutSaysThePoolIsExhausted(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1, URLParams: "pool_timeout=1"})
	holder, waiter := e.Connect(t, ""), e.Connect(t, "")
	ctx := testCtx(t)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = waiter.Exec(ctx, "SELECT 1")
	if !isCode(err, "53300") {
		t.Fatalf("waiting past pool_timeout gave %v, want SQLSTATE 53300", err)
	}
	var pgErr *pgconn.PgError
	errors.As(err, &pgErr)
	for _, want := range []string{"exhausted", "1/1 server connection in use", "0 clients waiting", "pool_timeout"} {
		if !strings.Contains(pgErr.Message, want) {
			t.Errorf("message %q does not say %q", pgErr.Message, want)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, waiter, "SELECT 4"); n != 4 {
		t.Fatal("the waiter is not served once the connection is free")
	}
}

// TestPoolWaitTimeoutAtLoginIsFatal: a login that waits pool_timeout for its server
// connection (session mode binds one at login) fails with FATAL 53300: during startup
// PostgreSQL sends only FATAL errors, and a client has no session to go on with.
func TestPoolWaitTimeoutAtLoginIsFatal(t *testing.T) {
	t.Parallel()
	e := start(t, setup{Mode: "session", PoolSize: 1, URLParams: "pool_timeout=1"})
	e.Connect(t, "") // holds the only server connection
	_, err := connectOrErr(t, e.AppDSN(""))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "53300" || pgErr.Severity != "FATAL" {
		t.Fatalf("a login past pool_timeout gave %v, want FATAL 53300", err)
	}
}

// TestStatementModeRefusesTransactionBlocks: statement mode serves autocommit
// statements and ends a client that opens a transaction block, leaving nothing open.
func TestStatementModeRefusesTransactionBlocks(t *testing.T) {
	t.Parallel()
	e := start(t, setup{Mode: "statement", PoolSize: 1})
	c := e.Connect(t, "")
	if n := queryInt(t, c, "SELECT 11"); n != 11 {
		t.Fatal("statement mode does not serve a plain statement")
	}
	// A whole transaction in one simple query ends outside a block: allowed.
	if _, err := c.Exec(testCtx(t), "BEGIN; SELECT 1; COMMIT", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("a transaction within one query: %v", err)
	}
	// BEGIN itself runs (motorpool learns of the block from the server's answer), then
	// the client is told and ended before it can use the block.
	raw := start(t, setup{Mode: "statement", PoolSize: 1, ClientAuth: "trust", ServerUser: testenv.TrustUser, PG: e.PG, Database: e.DB})
	rc := dialRaw(t, raw.Addr, testenv.TrustUser, e.DB, nil)
	rc.round(t, query("BEGIN"))
	fatal, err := rc.readError()
	if err != nil || fatal == nil || fatal.Code != "0A000" || fatal.Severity != "FATAL" ||
		!strings.Contains(fatal.Message, "transaction blocks are not allowed") {
		t.Fatalf("after BEGIN in statement mode the client got %v (%v), want FATAL 0A000 saying transaction blocks are not allowed", fatal, err)
	}
	if e2, err := rc.readError(); e2 != nil || err != nil {
		t.Fatalf("the client was not ended: %v %v", e2, err)
	}
	next := raw.Connect(t, "")
	var xid *int64
	if err := next.QueryRow(testCtx(t), "SELECT txid_current_if_assigned()").Scan(&xid); err != nil || xid != nil {
		t.Fatalf("the next client found a transaction open: %v %v", xid, err)
	}
}

// TestProtocol32StartupIsNegotiatedDownTo30: a client asking for protocol 3.2 (as
// PostgreSQL 18 clients may) gets NegotiateProtocolVersion and is served in 3.0, and
// so is one asking for protocol options motorpool does not know.
func TestProtocol32StartupIsNegotiatedDownTo30(t *testing.T) {
	t.Parallel()
	e := start(t, setup{ClientAuth: "trust", ServerUser: testenv.TrustUser})
	c, err := tryDialRawProtocol(e.Addr, testenv.TrustUser, e.DB, nil, 3<<16|2)
	if err != nil {
		t.Fatalf("protocol 3.2 startup: %v", err)
	}
	defer c.conn.Close()
	if c.Negotiated == nil || c.Negotiated.NewestMinorProtocol&0xffff != 0 {
		t.Fatalf("NegotiateProtocolVersion = %+v, want newest minor 0", c.Negotiated)
	}
	if got := c.round(t, query("SELECT 32")); got[len(got)-2] != "CommandComplete SELECT 1" {
		t.Fatalf("query after 3.2 startup: %v", got)
	}

	c2, err := tryDialRaw(e.Addr, testenv.TrustUser, e.DB, map[string]string{"_pq_.future_option": "on"})
	if err != nil {
		t.Fatalf("startup with a protocol option: %v", err)
	}
	defer c2.conn.Close()
	if c2.Negotiated == nil || len(c2.Negotiated.UnrecognizedOptions) != 1 || c2.Negotiated.UnrecognizedOptions[0] != "_pq_.future_option" {
		t.Fatalf("NegotiateProtocolVersion = %+v, want _pq_.future_option unrecognized", c2.Negotiated)
	}

	scram := start(t, setup{PG: e.PG, Database: e.DB})
	conn := connect(t, scram.AppDSN("max_protocol_version=3.2"))
	if n := queryInt(t, conn, "SELECT 33"); n != 33 {
		t.Fatal("pgx with max_protocol_version=3.2 is not served")
	}
}
