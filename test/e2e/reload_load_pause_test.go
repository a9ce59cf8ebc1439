package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// serverConnsOf counts the server connections of e's pools, those being opened
// included, as the pools count them.
func serverConnsOf(e *env) int {
	n := 0
	for _, pl := range e.Proxy.Pools() {
		n += pl.Core().Stats().Total
	}
	return n
}

// TestReloadLoadPausedDatabaseOpensNothing: PAUSE opens no server connection
// until RESUME, min_connections included, so that the database can be
// restarted or dropped meanwhile. A reload during the pause that builds a new
// pool (the runbook's "PAUSE, point the URL elsewhere, reload, RESUME") must not
// open the new pool's min_connections before RESUME either; a pool's first dials
// start as it is built, so it is counted right after Reload returns. After
// RESUME, the waiting client is served and the pool reaches its minimum.
func TestReloadLoadPausedDatabaseOpensNothing(t *testing.T) {
	t.Parallel()
	s := setup{PoolSize: 4}
	e := start(t, s)
	ctx := testCtx(t)
	waiting := e.Connect(t, "")
	queryInt(t, waiting, "SELECT 1")
	if err := e.Proxy.Pause(ctx, e.DB); err != nil {
		t.Fatal(err)
	}

	s.URLParams = "min_connections=2&statement_timeout=60000" // statement_timeout: a new pool
	if err := reloadSetup(t, e, s); err != nil {
		t.Fatal(err)
	}
	if n := serverConnsOf(e); n != 0 {
		t.Fatalf("%d server connections opened by the reload while the database is paused; want none until RESUME", n)
	}
	served := make(chan error, 1)
	go func() {
		var n int
		served <- waiting.QueryRow(ctx, "SELECT 7").Scan(&n)
	}()
	if n := serverConnsOf(e); n != 0 {
		t.Fatalf("%d server connections while paused, with a client waiting; want none", n)
	}

	if err := e.Proxy.Resume(e.DB); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("query of the client that waited for RESUME: %v", err)
	}
	eventually(t, time.Minute, "min_connections=2 after RESUME", func() error {
		for _, pl := range e.Proxy.Pools() {
			if !pl.Retired() {
				if st := pl.Core().Stats(); st.Idle+st.Active < 2 {
					return fmt.Errorf("pool %s: %d idle, %d active", pl.Name, st.Idle, st.Active)
				}
			}
		}
		return nil
	})
}

// TestReloadLoadPausedDatabaseUserPoolOpensNothing: with a database URL that
// names no user, a client's login builds a pool for its user. One built while
// the database is paused opens none of its min_connections before RESUME; the
// client is served after RESUME, and the pool then reaches its minimum.
func TestReloadLoadPausedDatabaseUserPoolOpensNothing(t *testing.T) {
	t.Parallel()
	e := start(t, setup{ClientAuth: "trust", ServerUser: "-", URLParams: "min_connections=1"})
	ctx := testCtx(t)
	if err := e.Proxy.Pause(ctx, e.DB); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		conn, err := connectOrErr(t, e.DSN(testenv.TrustUser, "", ""))
		if err == nil {
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "SELECT 1")
		}
		served <- err
	}()
	eventually(t, time.Minute, "the client's pool built", func() error {
		if userPool(e.Proxy, testenv.TrustUser) == nil {
			return fmt.Errorf("no pool for %s yet", testenv.TrustUser)
		}
		return nil
	})
	if n := serverConnsOf(e); n != 0 {
		t.Fatalf("%d server connections opened for a pool built while the database is paused; want none until RESUME", n)
	}
	if err := e.Proxy.Resume(e.DB); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("the client that logged in during the pause: %v", err)
	}
	eventually(t, time.Minute, "min_connections=1 after RESUME", func() error {
		if st := userPool(e.Proxy, testenv.TrustUser).Core().Stats(); st.Idle+st.Active < 1 {
			return fmt.Errorf("%d idle, %d active", st.Idle, st.Active)
		}
		return nil
	})
}
