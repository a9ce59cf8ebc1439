package e2e

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/testenv"
)

// TestAThousandUserPoolsComeAndGo: a database URL without a user gives each of
// 1,000 client users a pool of its own; once their clients have gone for the
// pools' idle_timeout, every pool is removed, with its monitor history and its
// metric series, and its goroutines end. Users come 100 at a time: a pool keeps
// its server connection for its idle_timeout, and the server has 300 slots.
func TestAThousandUserPoolsComeAndGo(t *testing.T) {
	const users = 1000
	p := testenv.Postgres(t)
	e := start(t, setup{ClientAuth: "trust", ServerUser: "-", PoolSize: 1, URLParams: "idle_timeout=1", PG: p})
	mon := monitor.New(monitor.Options{})
	a := admin.New(admin.Options{Proxy: e.Proxy, Monitor: mon})
	a.Sample(time.Now(), nil)
	baseGoroutines := runtime.NumGoroutine()

	prefix := fmt.Sprintf("scale_u%d_", time.Now().UnixNano()%1e6)
	su := e.Direct(t)
	mustExec(t, su, fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP
		EXECUTE format('CREATE ROLE %%I LOGIN IN ROLE testenv_trust', '%s' || i); END LOOP; END $$`, users, prefix))
	t.Cleanup(func() {
		mustExec(t, e.Direct(t), fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP
			EXECUTE format('DROP ROLE IF EXISTS %%I', '%s' || i); END LOOP; END $$`, users, prefix))
	})

	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, users)
	sem := make(chan struct{}, 20) // the server's max_connections is 300
	most := 0
	for i := 1; i <= users; i++ {
		if i%100 == 1 && i > 1 {
			wg.Wait()
			a.Sample(time.Now(), nil)
			most = max(most, len(e.Proxy.Pools()))
			eventually(t, time.Minute, "the last hundred users' server connections closed", func() error {
				n := 0
				for _, pl := range e.Proxy.Pools() {
					n += pl.Core().Stats().Total
				}
				if n > 0 {
					return fmt.Errorf("%d server connections open", n)
				}
				return nil
			})
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user := fmt.Sprintf("%s%d", prefix, i)
			conn, err := connectOrErr(t, e.DSN(user, "", ""))
			if err != nil {
				errs <- fmt.Errorf("%s: %w", user, err)
				return
			}
			var got string
			err = conn.QueryRow(ctx, "SELECT current_user").Scan(&got)
			conn.Close(ctx)
			if err != nil || got != user {
				errs <- fmt.Errorf("%s: current_user %q, %v", user, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	a.Sample(time.Now(), nil)
	t.Logf("%d users: at most %d pools at once; now %d pools, %d goroutines (from %d), %d monitored",
		users, most, len(e.Proxy.Pools()), runtime.NumGoroutine(), baseGoroutines, len(mon.Names()))

	eventually(t, time.Minute, "every user's pool removed", func() error {
		if n := len(e.Proxy.Pools()); n != 0 {
			return fmt.Errorf("%d pools left", n)
		}
		return nil
	})
	a.Sample(time.Now(), nil)
	if n := len(mon.Names()); n != 0 {
		t.Errorf("the monitor still keeps %d pools", n)
	}
	for i := 1; i <= users; i++ {
		if s := seriesWith(t, a, "user", fmt.Sprintf("%s%d", prefix, i)); len(s) > 0 {
			t.Fatalf("metric series left of a removed pool: %v", s)
		}
	}
	// Each pool had a maintainer, a clock and an event dispatcher; closed
	// pools leave none of them.
	eventually(t, time.Minute, "the pools' goroutines ended", func() error {
		if n := runtime.NumGoroutine(); n > baseGoroutines+20 {
			return fmt.Errorf("%d goroutines, %d before the users came", n, baseGoroutines)
		}
		return nil
	})
}
