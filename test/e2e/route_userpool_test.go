package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
)

// userPool returns the proxy's pool whose server connections log in as user, or nil.
func userPool(px *proxy.Proxy, user string) *proxy.Pool {
	for _, pl := range px.Pools() {
		if pl.User == user {
			return pl
		}
	}
	return nil
}

// observe returns an admin over px that the test samples itself (Admin.Sample)
// before reading its metrics.
func observe(px *proxy.Proxy) *admin.Admin {
	return admin.New(admin.Options{Proxy: px, Monitor: monitor.New(monitor.Options{Window: time.Minute})})
}

// seriesWith lists the metric series whose label name has value, as "metric{name=value}".
func seriesWith(t *testing.T, a *admin.Admin, name, value string) []string {
	t.Helper()
	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == name && l.GetValue() == value {
					out = append(out, fmt.Sprintf("%s{%s=%q}", mf.GetName(), name, value))
				}
			}
		}
	}
	return out
}

// TestUserPoolOfARefusedUserIsRemoved: with a database URL that names no user and
// auth.type trust, a client whose user PostgreSQL refuses gets PostgreSQL's error;
// the pool built for that user (min_connections=1, so it would retry its login
// forever) is removed once the client has gone, with its metrics, and other users
// keep working.
func TestUserPoolOfARefusedUserIsRemoved(t *testing.T) {
	t.Parallel()
	e := start(t, setup{ClientAuth: "trust", ServerUser: "-", URLParams: "min_connections=1"})
	a := observe(e.Proxy)
	const nobody = "no_such_role"
	conn, err := connectOrErr(t, e.DSN(nobody, "", ""))
	if err == nil {
		conn.Close(context.Background())
		t.Fatalf("%s logged in; PostgreSQL has no such role", nobody)
	}
	if !strings.Contains(err.Error(), nobody) {
		t.Errorf("the login failed with %v; want PostgreSQL's error naming the role", err)
	}
	eventually(t, time.Minute, "the refused user's pool removed", func() error {
		if pl := userPool(e.Proxy, nobody); pl != nil {
			return fmt.Errorf("pool %s still listed: %+v", pl.Name, pl.Core().Stats().LastDialError)
		}
		return nil
	})
	a.Sample(time.Now(), nil)
	if s := seriesWith(t, a, "user", nobody); len(s) > 0 {
		t.Errorf("the removed pool's metrics remain: %v", s)
	}
	ok := connect(t, e.DSN(testenv.TrustUser, "", ""))
	if n := queryInt(t, ok, "SELECT 7"); n != 7 {
		t.Fatal("a user PostgreSQL accepts")
	}
}

// TestUserPoolIsRemovedWhenIdle: a per-user pool that has had no client for its
// idle_timeout is removed, with its metrics, and closes its server connections;
// clients of the user that log in meanwhile, some of them as it is removed, all
// get a working pool.
func TestUserPoolIsRemovedWhenIdle(t *testing.T) {
	t.Parallel()
	e := start(t, setup{ClientAuth: "trust", ServerUser: "-", URLParams: "idle_timeout=1"})
	a := observe(e.Proxy)
	user := testenv.TrustUser

	// Watch the user's pool come and go while clients come and go.
	var removals atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var last *proxy.Pool
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			pl := userPool(e.Proxy, user)
			if last != nil && pl != last {
				removals.Add(1)
			}
			last = pl
		}
	}()
	ctx := testCtx(t)
	errs := make(chan error, 4)
	// One client comes back after the pool has gone (idle_timeout 1s, and the
	// removal runs every second); the other at any moment, some as it goes.
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; removals.Load() < 3 && ctx.Err() == nil; n++ {
				pause := 2500 * time.Millisecond
				if i > 0 {
					pause = time.Duration(500+rand.IntN(2000)) * time.Millisecond
				}
				conn, err := connectOrErr(t, e.DSN(user, "", ""))
				if err != nil {
					errs <- fmt.Errorf("client %d, login %d: %w", i, n, err)
					return
				}
				var got int
				err = conn.QueryRow(ctx, "SELECT $1::int", n).Scan(&got)
				conn.Close(context.Background())
				if err != nil || got != n {
					errs <- fmt.Errorf("client %d, login %d: %d, %v", i, n, got, err)
					return
				}
				time.Sleep(pause)
			}
		}()
	}
	eventually(t, 2*time.Minute, "the pool removed between clients three times", func() error {
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		if n := removals.Load(); n < 3 {
			return fmt.Errorf("removed %d times", n)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	direct := e.Direct(t)
	eventually(t, time.Minute, "the pool removed once its clients left", func() error {
		if pl := userPool(e.Proxy, user); pl != nil {
			return fmt.Errorf("pool %s still listed", pl.Name)
		}
		if n := queryInt(t, direct, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2`, e.DB, user); n != 0 {
			return fmt.Errorf("%d server connections of %s still open", n, user)
		}
		return nil
	})
	a.Sample(time.Now(), nil)
	if s := seriesWith(t, a, "user", user); len(s) > 0 {
		t.Errorf("the removed pool's metrics remain: %v", s)
	}
}
