package testenv_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/testenv"
)

func TestPgBouncer(t *testing.T) {
	pg := testenv.Postgres(t)
	b := testenv.NewPgBouncer(t, pg, testenv.PgBouncerOptions{
		Users: map[string]string{testenv.ScramUser: testenv.ScramPassword},
	})
	cfg, err := pgx.ParseConfig(b.DSN(testenv.ScramUser, testenv.ScramPassword, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol // transaction mode
	conn, err := pgx.ConnectConfig(ctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx(t))
	var user string
	if err := conn.QueryRow(ctx(t), "SELECT current_user").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if user != testenv.ScramUser {
		t.Fatalf("current_user = %q through PgBouncer %s", user, b.Version)
	}

	// PgBouncer 1.18 answers a wrong SCRAM password with 08P01, not PostgreSQL's
	// 28P01 (one of the differences DESIGN.md lists); only the refusal is checked.
	if c, err := pgx.Connect(ctx(t), b.DSN(testenv.ScramUser, "wrong", "postgres")); err == nil {
		c.Close(ctx(t))
		t.Fatal("PgBouncer accepted a wrong password")
	}
}
