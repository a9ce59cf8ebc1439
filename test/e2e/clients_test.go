package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/motorpool/motorpool/internal/testenv"
)

// openPQ opens a database/sql pool of lib/pq connections; t.Cleanup closes it.
func openPQ(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestLibPQQueriesTransactionsAndPreparedStatements runs lib/pq through
// database/sql on a transaction-mode pool of 2 with up to 8 client connections:
// parameterized queries, transactions, statements from db.Prepare used from many
// goroutines and inside a transaction, closed and prepared again, and COPY.
func TestLibPQQueriesTransactionsAndPreparedStatements(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 2})
	mustExec(t, e.Direct(t), "CREATE TABLE pq_items (id int, label text)", "GRANT ALL ON pq_items TO PUBLIC")
	db := openPQ(t, e.pgKV(appUser, appPassword, ""))
	db.SetMaxOpenConns(8)
	ctx := testCtx(t)

	stmt, err := db.PrepareContext(ctx, "SELECT $1::int * $2::int, $3::text")
	if err != nil {
		t.Fatal(err)
	}
	runAll(t, 8, func(id int) error {
		for round := range 25 {
			var prod int
			var label string
			if err := stmt.QueryRowContext(ctx, id, round, fmt.Sprint("c", id)).Scan(&prod, &label); err != nil {
				return fmt.Errorf("prepared: %w", err)
			}
			if prod != id*round || label != fmt.Sprint("c", id) {
				return fmt.Errorf("prepared answered %d %q", prod, label)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT $1::int + 1", round).Scan(&n); err != nil || n != round+1 {
				return fmt.Errorf("query with a parameter: %d, %v", n, err)
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, 1, 2, "in tx"); err != nil {
				tx.Rollback()
				return fmt.Errorf("statement in a transaction: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO pq_items VALUES ($1, $2)", id, "x"); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
	if err := stmt.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := db.PrepareContext(ctx, "SELECT $1::int * $2::int, $3::text")
	if err != nil {
		t.Fatalf("preparing the closed statement again: %v", err)
	}
	var prod int
	var label string
	if err := again.QueryRowContext(ctx, 6, 7, "again").Scan(&prod, &label); err != nil || prod != 42 {
		t.Fatalf("prepared again: %d %v", prod, err)
	}
	var count int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pq_items").Scan(&count); err != nil || count != 8*25 {
		t.Fatalf("%d rows committed, want %d (%v)", count, 8*25, err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tx.PrepareContext(ctx, pq.CopyIn("pq_items", "id", "label"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if _, err := cp.ExecContext(ctx, 10000+i, strings.Repeat("y", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cp.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	cp.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pq_items WHERE id >= 10000").Scan(&count); err != nil || count != 1000 {
		t.Fatalf("COPY through lib/pq: %d rows (%v)", count, err)
	}
	_, err = db.ExecContext(ctx, "SELECT 1/0")
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "22012" {
		t.Fatalf("division by zero through lib/pq: %v", err)
	}
}

// clientKinds are the real clients of the authentication matrix. Each connects as
// user/password and returns the server's current_user.
var clientKinds = []struct {
	name    string
	connect func(t *testing.T, e *env, user, password string) (string, error)
}{
	{"pgx", func(t *testing.T, e *env, user, password string) (string, error) {
		return currentUserPgx(t, e.DSN(user, password, ""))
	}},
	{"lib/pq", func(t *testing.T, e *env, user, password string) (string, error) {
		db := openPQ(t, e.pgKV(user, password, ""))
		var u string
		err := db.QueryRowContext(testCtx(t), "SELECT current_user").Scan(&u)
		return u, err
	}},
	{"psql", func(t *testing.T, e *env, user, password string) (string, error) {
		out, err := toolErr(t, "psql", []string{"PGPASSWORD=" + password}, nil,
			e.pgKV(user, "", ""), "-XAtq", "-c", "SELECT current_user")
		if err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		return strings.TrimSpace(out), nil
	}},
}

func currentUserPgx(t *testing.T, dsn string) (string, error) {
	conn, err := connectOrErr(t, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var u string
	err = conn.QueryRow(testCtx(t), "SELECT current_user").Scan(&u)
	return u, err
}

// TestClientAuthenticationWithEveryMethodAndClient: SCRAM (the default), md5 and
// trust client authentication work with pgx, lib/pq and psql (pgx and libpq send an
// empty SCRAM user name, which must not matter), and a wrong password is refused
// with 28P01 by all three.
func TestClientAuthenticationWithEveryMethodAndClient(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "psql")
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	for _, method := range []string{"scram-sha-256", "md5", "trust"} {
		t.Run(method, func(t *testing.T) {
			e := start(t, setup{PG: p, Database: db, ClientAuth: method})
			for _, client := range clientKinds {
				t.Run(client.name, func(t *testing.T) {
					u, err := client.connect(t, e, appUser, appPassword)
					if err != nil || u != testenv.ScramUser {
						t.Fatalf("current_user = %q, %v; want %s", u, err, testenv.ScramUser)
					}
					if method == "trust" {
						return
					}
					_, err = client.connect(t, e, appUser, "wrong")
					if err == nil || !strings.Contains(err.Error(), "28P01") && !strings.Contains(err.Error(), `password authentication failed for user "app"`) {
						t.Fatalf("a wrong password gave %v, want 28P01", err)
					}
				})
			}
		})
	}
}

// TestServerAuthenticationMethods: motorpool logs in to PostgreSQL with SCRAM, md5
// or trust, as the database URL's user.
func TestServerAuthenticationMethods(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	for _, u := range []struct{ user, password string }{
		{testenv.ScramUser, testenv.ScramPassword},
		{testenv.MD5User, testenv.MD5Password},
		{testenv.TrustUser, ""},
	} {
		t.Run(u.user, func(t *testing.T) {
			e := start(t, setup{PG: p, Database: db, ServerUser: u.user, ServerPassword: u.password})
			got, err := currentUserPgx(t, e.AppDSN(""))
			if err != nil || got != u.user {
				t.Fatalf("current_user = %q, %v; want %s", got, err, u.user)
			}
		})
	}
}
