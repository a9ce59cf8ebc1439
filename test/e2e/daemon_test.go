package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/testenv"
)

// dsnSSL is dsn with the given sslmode and extra parameters.
func dsnSSL(addr, db, sslmode, extra string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(appUser, appPassword), Host: addr, Path: "/" + db,
		RawQuery: "sslmode=" + sslmode}
	if extra != "" {
		u.RawQuery += "&" + extra
	}
	return u.String()
}

// TestTLSToClientsFromTheConfigurationFile runs motorpool with a self-signed
// certificate from its configuration file. With tls.mode require, pgx (verifying
// the certificate), lib/pq and psql connect over TLS and plaintext is refused with
// 28000; with allow, both work.
func TestTLSToClientsFromTheConfigurationFile(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "psql")
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	for _, mode := range []string{"require", "allow"} {
		t.Run(mode, func(t *testing.T) {
			cfg := filepath.Join(dir, mode+".yaml")
			writeConfig(t, cfg, setup{TopYAML: fmt.Sprintf("tls: { mode: %s, cert: %q, key: %q }\n", mode, cert, key)}, p, db)
			d := startDaemon(t, cfg)

			conn := connect(t, dsnSSL(d.Addr, db, "verify-full", "sslrootcert="+url.QueryEscape(cert)))
			if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
				t.Fatalf("pgx with sslmode=verify-full is not on TLS (%T)", conn.PgConn().Conn())
			}
			if n := queryInt(t, conn, "SELECT 5"); n != 5 {
				t.Fatal("query over TLS")
			}

			h, port, _ := net.SplitHostPort(d.Addr)
			pq := openPQ(t, fmt.Sprintf("host=%s port=%s dbname=%s user=%s password=%s sslmode=require", h, port, db, appUser, appPassword))
			var n int
			if err := pq.QueryRowContext(testCtx(t), "SELECT 6").Scan(&n); err != nil || n != 6 {
				t.Fatalf("lib/pq with sslmode=require: %d %v", n, err)
			}

			kv := fmt.Sprintf("host=%s port=%s dbname=%s user=%s", h, port, db, appUser)
			out, err := toolErr(t, "psql", []string{"PGPASSWORD=" + appPassword, "PGSSLMODE=require"}, nil, kv, "-X", "-c", `\conninfo`)
			if err != nil || !strings.Contains(out, "SSL connection") {
				t.Fatalf("psql with sslmode=require: %v\n%s", err, out)
			}

			plain, err := connectOrErr(t, dsnSSL(d.Addr, db, "disable", ""))
			if mode == "allow" {
				if err != nil {
					t.Fatalf("plaintext with tls.mode allow: %v", err)
				}
				plain.Close(context.Background())
				return
			}
			if err == nil {
				plain.Close(context.Background())
				t.Fatal("tls.mode require let a plaintext client in")
			}
			if !isCode(err, "28000") || !strings.Contains(err.Error(), "SSL") {
				t.Fatalf("plaintext with tls.mode require: %v, want 28000 saying SSL is required", err)
			}
			out, err = toolErr(t, "psql", []string{"PGPASSWORD=" + appPassword, "PGSSLMODE=disable"}, nil, kv, "-X", "-c", "SELECT 1")
			if err == nil || !strings.Contains(out, "SSL is required") {
				t.Fatalf("psql without TLS: %v\n%s", err, out)
			}
		})
	}
}

// exhaustedAt reports the pool size a refused client is told about: "N/N".
func exhaustedAt(ctx context.Context, addr, db string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn(addr, appUser, appPassword, db, ""))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "SELECT 1")
	if err == nil {
		return "", nil
	}
	if !isCode(err, "53300") {
		return "", err
	}
	i := strings.Index(err.Error(), "exhausted: ")
	if i < 0 {
		return "", err
	}
	return strings.Fields(err.Error()[i+len("exhausted: "):])[0], nil
}

// holdTransactions opens n clients that each hold a transaction; t.Cleanup ends them.
func holdTransactions(t *testing.T, addr, db string, n int) []pgx.Tx {
	t.Helper()
	var txs []pgx.Tx
	for range n {
		conn := connect(t, dsn(addr, appUser, appPassword, db, ""))
		tx, err := conn.Begin(testCtx(t))
		if err == nil {
			_, err = tx.Exec(testCtx(t), "SELECT 1")
		}
		if err != nil {
			t.Fatalf("holding transaction %d of %d: %v", len(txs)+1, n, err)
		}
		txs = append(txs, tx)
	}
	return txs
}

// TestReloadChangesPoolSettingsWithoutDroppingClients: motorpool picks up an edited
// configuration file — here a larger pool — while a client is in the middle of a
// transaction, which goes on unharmed; an invalid file is rejected and the running
// configuration keeps serving; SIGHUP reloads a file the watcher cannot see change.
func TestReloadChangesPoolSettingsWithoutDroppingClients(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	mustExec(t, p.Connect(t, p.SuperUser, "", db), "CREATE TABLE kept (x int)", "GRANT ALL ON kept TO PUBLIC")
	ctx := testCtx(t)
	size := func(n int) setup { return setup{PoolSize: n, URLParams: "pool_timeout=1"} }

	t.Run("file change", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "motorpool.yaml")
		writeConfig(t, cfg, size(1), p, db)
		d := startDaemon(t, cfg)
		holder := holdTransactions(t, d.Addr, db, 1)[0]
		if _, err := holder.Exec(ctx, "INSERT INTO kept VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if got, err := exhaustedAt(ctx, d.Addr, db); got != "1/1" {
			t.Fatalf("before the reload a second client got %q, %v; want exhausted at 1/1", got, err)
		}
		idle := connect(t, dsn(d.Addr, appUser, appPassword, db, ""))

		writeConfig(t, cfg, size(2), p, db)
		eventually(t, time.Minute, "the larger pool in force", func() error {
			got, err := exhaustedAt(ctx, d.Addr, db)
			if got != "" || err != nil {
				return fmt.Errorf("%q %v", got, err)
			}
			return nil
		})
		if _, err := holder.Exec(ctx, "INSERT INTO kept VALUES (2)"); err != nil {
			t.Fatalf("the transaction across the reload: %v", err)
		}
		if err := holder.Commit(ctx); err != nil {
			t.Fatalf("commit across the reload: %v", err)
		}
		if n := queryInt(t, idle, "SELECT count(*) FROM kept"); n != 2 {
			t.Fatalf("%d rows committed, want 2", n)
		}

		// An invalid file is refused; the pool of 2 keeps serving.
		invalid := size(3)
		invalid.URLParams += "&pool_size_typo=3" // an unknown URL parameter
		writeConfig(t, cfg, invalid, p, db)
		eventually(t, time.Minute, "the invalid file rejected", func() error {
			if !d.outputHas("configuration rejected") {
				return errors.New("not yet")
			}
			return nil
		})
		if n := queryInt(t, idle, "SELECT 9"); n != 9 {
			t.Fatal("the idle client was dropped")
		}
		holdTransactions(t, d.Addr, db, 2)
		if got, err := exhaustedAt(ctx, d.Addr, db); got != "2/2" {
			t.Fatalf("after the invalid file a third client got %q, %v; want exhausted at 2/2", got, err)
		}
	})

	t.Run("SIGHUP", func(t *testing.T) {
		// The daemon's file is a symlink to another directory: the watcher of the
		// link's directory sees no change, so only SIGHUP can apply one.
		real := filepath.Join(t.TempDir(), "real.yaml")
		link := filepath.Join(t.TempDir(), "motorpool.yaml")
		writeConfig(t, real, size(1), p, db)
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		d := startDaemon(t, link)
		holdTransactions(t, d.Addr, db, 1)
		writeConfig(t, real, size(2), p, db)
		d.signal(t, syscall.SIGHUP)
		eventually(t, time.Minute, "reloaded by SIGHUP", func() error {
			if !d.outputHas("why=SIGHUP") {
				return errors.New("no reload logged")
			}
			return nil
		})
		holdTransactions(t, d.Addr, db, 1)
		if got, err := exhaustedAt(ctx, d.Addr, db); got != "2/2" {
			t.Fatalf("after SIGHUP a third client got %q, %v; want exhausted at 2/2", got, err)
		}
	})
}

// TestSIGTERMDrainsAndSIGINTExitsAtOnce: on SIGTERM motorpool stops accepting, ends
// idle clients, lets a running transaction finish and commit, then exits 0; on SIGINT
// it exits without waiting, and the unfinished transaction is rolled back.
func TestSIGTERMDrainsAndSIGINTExitsAtOnce(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	direct := p.Connect(t, p.SuperUser, "", db)
	mustExec(t, direct, "CREATE TABLE drained (x int)", "GRANT ALL ON drained TO PUBLIC")
	ctx := testCtx(t)
	cfg := filepath.Join(t.TempDir(), "motorpool.yaml")
	writeConfig(t, cfg, setup{PoolSize: 2}, p, db)

	t.Run("SIGTERM", func(t *testing.T) {
		d := startDaemon(t, cfg, "--drain-timeout", "10m")
		busy := holdTransactions(t, d.Addr, db, 1)[0]
		if _, err := busy.Exec(ctx, "INSERT INTO drained VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		idle := connect(t, dsn(d.Addr, appUser, appPassword, db, ""))
		queryInt(t, idle, "SELECT 1")

		d.signal(t, syscall.SIGTERM)
		eventually(t, time.Minute, "no new connections", func() error {
			c, err := net.DialTimeout("tcp", d.Addr, time.Second)
			if err == nil {
				c.Close()
				return errors.New("still accepting")
			}
			return nil
		})
		eventually(t, time.Minute, "the idle client ended", func() error {
			if _, err := idle.Exec(ctx, "SELECT 1"); err == nil {
				return errors.New("still served")
			}
			return nil
		})
		if _, err := busy.Exec(ctx, "INSERT INTO drained VALUES (2)"); err != nil {
			t.Fatalf("the running transaction was cut while draining: %v", err)
		}
		if err := busy.Commit(ctx); err != nil {
			t.Fatalf("commit while draining: %v", err)
		}
		if err := d.wait(t, time.Minute); err != nil {
			t.Fatalf("motorpool exited with %v after draining", err)
		}
		if n := queryInt(t, direct, "SELECT count(*) FROM drained WHERE x IN (1, 2)"); n != 2 {
			t.Fatalf("%d rows of the drained transaction committed, want 2", n)
		}
	})

	t.Run("SIGTERM in session mode", func(t *testing.T) {
		// A session-mode client holds its server connection between transactions:
		// draining ends it there, and lets one inside a transaction finish first.
		sessionCfg := filepath.Join(t.TempDir(), "session.yaml")
		writeConfig(t, sessionCfg, setup{PoolSize: 2, Mode: "session"}, p, db)
		d := startDaemon(t, sessionCfg, "--drain-timeout", "10m")
		busy := holdTransactions(t, d.Addr, db, 1)[0]
		if _, err := busy.Exec(ctx, "INSERT INTO drained VALUES (4)"); err != nil {
			t.Fatal(err)
		}
		idle := connect(t, dsn(d.Addr, appUser, appPassword, db, ""))
		queryInt(t, idle, "SELECT 1")

		d.signal(t, syscall.SIGTERM)
		eventually(t, time.Minute, "the client between transactions ended", func() error {
			if _, err := idle.Exec(ctx, "SELECT 1"); err == nil {
				return errors.New("still served")
			}
			return nil
		})
		if _, err := busy.Exec(ctx, "INSERT INTO drained VALUES (5)"); err != nil {
			t.Fatalf("the running transaction was cut while draining: %v", err)
		}
		if err := busy.Commit(ctx); err != nil {
			t.Fatalf("commit while draining: %v", err)
		}
		// With a ten-minute drain timeout, only ending the client after its commit
		// lets motorpool exit within the minute.
		if err := d.wait(t, time.Minute); err != nil {
			t.Fatalf("motorpool exited with %v after draining", err)
		}
		if n := queryInt(t, direct, "SELECT count(*) FROM drained WHERE x IN (4, 5)"); n != 2 {
			t.Fatalf("%d rows of the drained transaction committed, want 2", n)
		}
	})

	t.Run("SIGINT", func(t *testing.T) {
		d := startDaemon(t, cfg, "--drain-timeout", "10m")
		busy := holdTransactions(t, d.Addr, db, 1)[0]
		if _, err := busy.Exec(ctx, "INSERT INTO drained VALUES (3)"); err != nil {
			t.Fatal(err)
		}
		d.signal(t, syscall.SIGINT)
		// With a ten-minute drain timeout, only not draining ends it within the minute.
		d.wait(t, time.Minute)
		if _, err := busy.Exec(ctx, "SELECT 1"); err == nil {
			t.Fatal("the client's transaction survived SIGINT")
		}
		eventually(t, time.Minute, "the cut transaction rolled back", func() error {
			if n := queryInt(t, direct, "SELECT count(*) FROM drained WHERE x = 3"); n != 0 {
				return errors.New("row 3 committed")
			}
			if n := queryInt(t, direct, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"); n != 0 {
				return fmt.Errorf("%d server connections still open", n)
			}
			return nil
		})
	})
}
