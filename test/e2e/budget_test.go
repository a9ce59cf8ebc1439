package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
)

// TestBudgetSharedByPriority runs two services of one database under load, a
// high-priority one and a low-priority one, with a budget of 6 server
// connections: PostgreSQL never sees more than 6 (pg_stat_activity, sampled
// throughout), the high service gets its larger share (5 to 1), the low one
// borrows the whole budget while the high one is idle, and gives it back when
// the high one returns.
func TestBudgetSharedByPriority(t *testing.T) {
	const budget = 6
	pg := testenv.Postgres(t)
	db := newDatabase(t, pg)
	e := start(t, setup{
		PG: pg, Database: db, PoolSize: 2,
		DBYAML: fmt.Sprintf("    budget: %d\n", budget),
		TopYAML: fmt.Sprintf(`services:
  hi: { database: %s, match: { application_name: "hi-*" }, priority: high, connection_limit: 10 }
  lo: { database: %s, match: { application_name: "lo-*" }, priority: low, connection_limit: 10 }
`, db, db),
	})
	ctx := testCtx(t)

	// Count the server connections PostgreSQL has for the database, all along.
	observer := e.Direct(t)
	var peak, samples atomic.Int64
	sampling, stopSampling := context.WithCancel(ctx)
	sampled := make(chan error, 1)
	go func() {
		for sampling.Err() == nil {
			var n int64
			err := observer.QueryRow(sampling, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`, db).Scan(&n)
			if err != nil {
				if sampling.Err() == nil {
					sampled <- err
				}
				break
			}
			samples.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond) // leave the shared machine some CPU
		}
		close(sampled)
	}()
	defer func() {
		stopSampling()
		if err := <-sampled; err != nil {
			t.Errorf("sampling pg_stat_activity: %v", err)
		}
	}()

	hi, lo := poolNamed(t, e.Proxy, db+"/hi"), poolNamed(t, e.Proxy, db+"/lo")
	clock := time.Now()
	// share calls Share with a clock moving by step per call until cond holds.
	share := func(what string, step time.Duration, cond func() bool) {
		t.Helper()
		eventually(t, 2*time.Minute, what, func() error {
			clock = clock.Add(step)
			e.Proxy.Share(clock)
			if cond() {
				return nil
			}
			return fmt.Errorf("hi holds %d (limit %d), lo %d (limit %d); pg_stat_activity peak %d",
				hi.Core().Stats().Total, hi.Core().Stats().Limit, lo.Core().Stats().Total, lo.Core().Stats().Limit, peak.Load())
		})
	}
	holds := func(pl *proxy.Pool, n int) func() bool {
		return func() bool { return pl.Core().Stats().Total == n }
	}

	// The low service's transactions are long: when the high one returns, what
	// the low one borrowed stays leased for a while, which the high one must
	// not get before it is released.
	his := startWorkers(t, e, "hi", 8, 20*time.Millisecond)
	los := startWorkers(t, e, "lo", 8, 300*time.Millisecond)
	share("the high service gets 5 of 6", time.Second, func() bool { return holds(hi, 5)() && holds(lo, 1)() })

	his.stop()
	share("the low service borrows the idle share", time.Minute, holds(lo, budget))

	his = startWorkers(t, e, "hi", 8, 20*time.Millisecond)
	share("the low service gives it back", time.Second, func() bool { return holds(hi, 5)() && holds(lo, 1)() })
	his.stop()
	los.stop()

	stopSampling()
	if err := <-sampled; err != nil {
		t.Fatalf("sampling pg_stat_activity: %v", err)
	}
	sampled = make(chan error)
	close(sampled)
	t.Logf("pg_stat_activity: peak %d server connections over %d samples", peak.Load(), samples.Load())
	if samples.Load() == 0 {
		t.Fatal("pg_stat_activity was never sampled")
	}
	if p := peak.Load(); p > budget {
		t.Fatalf("PostgreSQL saw %d server connections of the database, above the budget of %d", p, budget)
	}
	if p := peak.Load(); p < budget {
		t.Fatalf("PostgreSQL saw at most %d server connections: the budget of %d was never used up, so the test proves nothing", p, budget)
	}
}

// workers are clients that run short transactions in a loop until stopped.
type workers struct {
	t       *testing.T
	stopped atomic.Bool
	wg      sync.WaitGroup
}

// startWorkers connects n clients named prefix-1..n (application_name) and runs
// transactions holding a server connection for hold each until stop.
func startWorkers(t *testing.T, e *env, prefix string, n int, hold time.Duration) *workers {
	t.Helper()
	w := &workers{t: t}
	for i := range n {
		conn := e.Connect(t, fmt.Sprintf("application_name=%s-%d", prefix, i+1))
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for !w.stopped.Load() {
				if _, err := conn.Exec(testCtx(t), "SELECT pg_sleep($1)", hold.Seconds()); err != nil {
					t.Errorf("%s-%d: %v", prefix, i+1, err)
					return
				}
			}
		}()
	}
	t.Cleanup(w.stop)
	return w
}

// stop ends the workers' loops after their transaction under way and waits for
// them; their clients stay connected, idle.
func (w *workers) stop() {
	w.stopped.Store(true)
	w.wg.Wait()
}

// poolNamed returns the proxy's pool with the given name, failing the test if none.
func poolNamed(t *testing.T, px *proxy.Proxy, name string) *proxy.Pool {
	t.Helper()
	for _, pl := range px.Pools() {
		if pl.Name == name {
			return pl
		}
	}
	t.Fatalf("no pool %s", name)
	return nil
}
