package testenv

import (
	"sync"
	"testing"
)

var sharedPG struct {
	once sync.Once
	pg   *PG
	err  error
}

// Postgres returns the PostgreSQL 15 instance shared by the whole test binary,
// starting it on first use (see StartPostgres for what it contains). Main stops
// it after the last test. When the server cannot be started, the test fails,
// or skips outside CI if PostgreSQL is not installed (see Unavailable).
//
// Tests share it, so they must not Stop or Restart it while others may run
// (use NewPostgres), and should create their own databases and roles.
func Postgres(t testing.TB) *PG {
	t.Helper()
	sharedPG.once.Do(func() { sharedPG.pg, sharedPG.err = StartPostgres(PGOptions{}) })
	if sharedPG.err != nil {
		Unavailable(t, sharedPG.err)
	}
	return sharedPG.pg
}

// NewPostgres starts a PostgreSQL instance for this test alone, with opts;
// t.Cleanup closes it. Tests that stop, restart or kill the server use one.
func NewPostgres(t testing.TB, opts PGOptions) *PG {
	t.Helper()
	pg, err := StartPostgres(opts)
	if err != nil {
		Unavailable(t, err)
	}
	t.Cleanup(func() { pg.Close() })
	return pg
}

// Restart stops the server in fast mode and starts it again on the same port,
// failing the test on error.
func (pg *PG) Restart(t testing.TB) {
	t.Helper()
	if err := pg.Stop(); err != nil {
		t.Fatalf("testenv: stop postgres: %v", err)
	}
	if err := pg.Start(); err != nil {
		t.Fatalf("testenv: start postgres: %v", err)
	}
}
