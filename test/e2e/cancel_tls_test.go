package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/testenv"
)

// TestCancelOverTLSReachesOnlyItsClientsQuery: with tls.mode require, a cancel sent
// over TLS (pgx encrypts it when its connection is) and one sent in plaintext (psql's
// Ctrl-C: libpq before 17 never encrypts cancels, and PostgreSQL takes them so) each
// stop their own client's query, and nothing of a client of another pool whose query
// runs meanwhile.
func TestCancelOverTLSReachesOnlyItsClientsQuery(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "psql")
	cert, key := selfSignedCert(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.Postgres(t)
	other := newDatabase(t, p)
	otherURL := url.URL{Scheme: "postgresql", User: url.UserPassword(testenv.ScramUser, testenv.ScramPassword),
		Host: net.JoinHostPort(p.Host, fmt.Sprint(p.Port)), Path: "/" + other, RawQuery: "sslmode=disable&connection_limit=2"}
	e := start(t, setup{PG: p, PoolSize: 2,
		DBYAML:  fmt.Sprintf("  %s:\n    url: %q\n", other, otherURL.String()),
		Adapter: pg.Config{TLS: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, RequireTLS: true}})
	direct := e.Direct(t)
	ctx := testCtx(t)

	// y, of the other pool, runs a query through each cancel and must finish it.
	y := connect(t, dsnSSL(e.Addr, other, "require", ""))
	yDone := make(chan error, 1)
	go func() {
		var s string
		err := y.QueryRow(ctx, "SELECT 'survived' FROM pg_sleep(3) -- other pool").Scan(&s)
		if err == nil && s != "survived" {
			err = fmt.Errorf("answered %q", s)
		}
		yDone <- err
	}()
	waitActive(t, direct, "other pool")

	x := connect(t, dsnSSL(e.Addr, e.DB, "require", ""))
	if _, ok := x.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("pgx is not on TLS (%T)", x.PgConn().Conn())
	}
	xDone := make(chan error, 1)
	go func() {
		_, err := x.Exec(ctx, "SELECT pg_sleep(60) -- tls cancel")
		xDone <- err
	}()
	waitActive(t, direct, "tls cancel")
	if err := x.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-xDone; !isCode(err, "57014") {
		t.Fatalf("query cancelled over TLS: %v, want 57014", err)
	}

	h, port, _ := net.SplitHostPort(e.Addr)
	cmd := exec.CommandContext(ctx, testenv.Bin(t, "psql"), "-X", "-c", "SELECT pg_sleep(60) -- psql ctrl-c",
		fmt.Sprintf("host=%s port=%s dbname=%s user=%s sslmode=require", h, port, e.DB, appUser))
	cmd.Env = append(cmd.Environ(), "PGPASSWORD="+appPassword)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, direct, "psql ctrl-c")
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err == nil || !strings.Contains(out.String(), "canceling statement due to user request") {
		t.Fatalf("psql after Ctrl-C: %v\n%s", err, out.String())
	}
	if err := <-yDone; err != nil {
		t.Fatalf("the other pool's client: %v", err)
	}
	if n := queryInt(t, x, "SELECT 4"); n != 4 {
		t.Fatal("the client after its cancel")
	}
}
