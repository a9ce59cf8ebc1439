package proxy

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/pool"
)

// budgetYAML is a database shop with a budget of 6 and two services sharing it,
// gateway (high priority) and reports (low), each allowed 10 connections alone.
const budgetYAML = `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=10", budget: %d }
services:
	gateway: { database: shop, match: { application_name: "gateway*" }, priority: high, connection_limit: 10 }
	reports: { database: shop, match: { application_name: "reports*" }, priority: low, connection_limit: 10 }
`

// load is n acquirers of a pool that hold what they get until stopped.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	leases []pool.Lease[Backend]
}

// startLoad starts n acquirers on pl, each holding its connection until stop.
func startLoad(pl *Pool, n int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			lease, err := pl.core.AcquireAs(ctx, "load")
			if err != nil {
				return
			}
			l.mu.Lock()
			l.leases = append(l.leases, lease)
			l.mu.Unlock()
		}()
	}
	return l
}

// release ends k of the leases held (all when k < 0) and returns how many it ended.
func (l *load) release(k int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k < 0 || k > len(l.leases) {
		k = len(l.leases)
	}
	for _, lease := range l.leases[:k] {
		lease.Release()
	}
	l.leases = l.leases[k:]
	return k
}

// cycleLoad starts n acquirers on pl that each take a connection, hold it a
// moment and release it, again and again until stop: a busy service, whose pool
// can give back connections above its share.
func cycleLoad(pl *Pool, n int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				lease, err := pl.core.AcquireAs(ctx, "load")
				if err != nil {
					return
				}
				time.Sleep(time.Millisecond)
				lease.Release()
			}
		}()
	}
	return l
}

// total returns the server connections pl holds, in every state.
func total(pl *Pool) int { return pl.core.Stats().Total }

// stop gives up waiting and releases every lease.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
	l.release(-1)
}

func (l *load) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.leases)
}

// serverTotal is the server connections the proxy's pools of db hold, in every state.
func serverTotal(p *Proxy, db string) int { return p.serverConns(db) }

// shareUntil calls Share with a clock that moves a minute per call (so that a
// fallen demand decays at once) until cond holds, checking after every call that
// the database never holds more than its budget. The limit bounds a broken run.
func shareUntil(t *testing.T, p *Proxy, clock *time.Time, budget int, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		*clock = clock.Add(time.Minute)
		p.Share(*clock)
		require.LessOrEqual(t, serverTotal(p, "shop"), budget, "server connections above the budget")
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true; budgets %+v", what, p.Budgets())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBudgetSharedByPriority(t *testing.T) {
	p := newStubProxy(t, fmt.Sprintf(budgetYAML, 6), nil)
	gw := routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "gateway-1"})
	rp := routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "reports-1"})
	clock := time.Now()

	high, low := cycleLoad(gw, 8), cycleLoad(rp, 8)
	defer func() { high.stop() }() // the one started last
	defer func() { low.stop() }()
	shareUntil(t, p, &clock, 6, "high gets 5 of 6, low 1", func() bool {
		return total(gw) == 5 && total(rp) == 1
	})
	require.Equal(t, 5, gw.core.Stats().Limit)
	require.Equal(t, 1, rp.core.Stats().Limit)

	// The gateway goes idle: the reports service borrows its share.
	high.stop()
	shareUntil(t, p, &clock, 6, "low borrows the idle share", func() bool { return total(rp) == 6 })

	// The reports hold what they borrowed; the gateway comes back: the reports'
	// limit drops to its share at once, and the gateway's grows as the reports
	// release what they borrowed.
	low.stop()
	low = startLoad(rp, 6)
	require.Eventually(t, func() bool { return low.held() == 6 }, 30*time.Second, time.Millisecond)
	high = startLoad(gw, 8)
	require.Eventually(t, func() bool { return gw.core.Stats().Waiting == 8 }, 30*time.Second, time.Millisecond)
	clock = clock.Add(time.Second)
	p.Share(clock)
	require.Equal(t, 1, rp.core.Stats().Limit, "the borrower's limit drops at once")
	require.Equal(t, 6, low.held(), "leased connections are not taken back")
	require.Equal(t, 0, high.held(), "nothing free while the borrower holds the budget")
	for low.held() > 1 {
		low.release(1)
		shareUntil(t, p, &clock, 6, "the gateway takes what was released", func() bool {
			return high.held()+low.held() == 6 || high.held() == 5
		})
	}
	shareUntil(t, p, &clock, 6, "back to 5 and 1", func() bool { return high.held() == 5 && low.held() == 1 })
}

func TestBudgetCapsNewPoolsAtWhatIsFree(t *testing.T) {
	// Per-user pools (the URL names no user), each with 3 minimum connections:
	// three of them want 9 of a budget of 4.
	p := newStubProxy(t, `
auth: { users: { a: { password: x }, b: { password: x }, c: { password: x } } }
databases:
	shop: { url: "postgresql://127.0.0.1:1/shop?connection_limit=5&min_connections=3", budget: 4 }
`, nil)
	clock := time.Now()
	var pls []*Pool
	for _, user := range []string{"a", "b", "c"} {
		pls = append(pls, routedPool(t, p, RouteRequest{Database: "shop", User: user}))
		require.LessOrEqual(t, serverTotal(p, "shop"), 4)
	}
	shareUntil(t, p, &clock, 4, "the minimums squeezed into the budget", func() bool {
		n := 0
		for _, pl := range pls {
			n += pl.core.Stats().Idle
		}
		return n == 4
	})
	for _, pl := range pls {
		require.GreaterOrEqual(t, pl.core.Stats().Total, 1, "%s keeps part of its minimum", pl.Name)
	}
}

func TestBudgetReload(t *testing.T) {
	p := newStubProxy(t, fmt.Sprintf(budgetYAML, 6), nil)
	gw := routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "gateway-1"})
	rp := routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "reports-1"})
	clock := time.Now()
	high, low := cycleLoad(gw, 8), cycleLoad(rp, 8)
	defer high.stop()
	defer low.stop()
	shareUntil(t, p, &clock, 6, "shared", func() bool { return total(gw) == 5 && total(rp) == 1 })

	require.NoError(t, p.Reload(parseConfig(t, fmt.Sprintf(budgetYAML, 11))))
	require.Same(t, gw, poolNamed(p, "shop/gateway"), "the pools carry over")
	shareUntil(t, p, &clock, 11, "a larger budget shared", func() bool {
		return total(gw) == 8 && total(rp) == 3 // the gateway wants 8; the rest is the reports'

	})

	require.NoError(t, p.Reload(parseConfig(t, fmt.Sprintf(budgetYAML, 0))))
	for _, pl := range []*Pool{gw, rp} {
		require.Equal(t, -1, pl.core.Stats().Limit, "%s: no budget, no cap", pl.Name)
	}
	require.Empty(t, p.Budgets())
	require.Eventually(t, func() bool { return total(gw) == 8 && total(rp) == 8 }, 30*time.Second, 5*time.Millisecond)
}

func TestBudgetPauseResume(t *testing.T) {
	p := newStubProxy(t, fmt.Sprintf(budgetYAML, 6), nil)
	gw := routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "gateway-1"})
	rp := routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "reports-1"})
	clock := time.Now()
	high := startLoad(gw, 3)
	shareUntil(t, p, &clock, 6, "the gateway has its 3", func() bool { return high.held() == 3 })
	high.stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, p.Pause(ctx, "shop"))
	p.Share(clock.Add(time.Minute))
	require.Equal(t, 0, gw.core.Stats().Limit, "a pause holds the pool whatever its share")
	require.Equal(t, 0, rp.core.Stats().Limit)

	require.NoError(t, p.Resume("shop"))
	// Both idle: the budget's leftover is spread by weight, 6 by 4:1 and the
	// database's own pool (medium): 4, 1 and 1 by largest remainder.
	for _, pl := range []*Pool{gw, rp} {
		st := pl.core.Stats()
		require.GreaterOrEqual(t, st.Limit, 1, "%s gets its share back at RESUME", pl.Name)
	}
	sum := 0
	for _, b := range p.Budgets()[0].Pools {
		sum += b.Limit
	}
	require.Equal(t, 6, sum, "the limits after RESUME add up to the budget")
}

func TestBudgetsReport(t *testing.T) {
	p := newStubProxy(t, fmt.Sprintf(budgetYAML, 6), nil)
	gw := routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "gateway-1"})
	routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "reports-1"})
	clock := time.Now()
	high := startLoad(gw, 2)
	defer high.stop()
	shareUntil(t, p, &clock, 6, "the gateway has its 2", func() bool { return high.held() == 2 })
	p.Share(clock)

	bs := p.Budgets()
	require.Len(t, bs, 1)
	b := bs[0]
	require.Equal(t, "shop", b.Database)
	require.Equal(t, 6, b.Budget)
	require.Equal(t, 2, b.InUse)
	require.Len(t, b.Pools, 3)
	byName := map[string]BudgetPool{}
	for _, bp := range b.Pools {
		byName[bp.Pool] = bp
	}
	g := byName["shop/gateway"]
	require.Equal(t, "gateway", g.Service)
	require.EqualValues(t, "high", g.Priority)
	require.Equal(t, 4, g.Weight)
	require.Equal(t, 2.0, g.Demand)
	require.Equal(t, 2, g.Held)
	require.Equal(t, 10, g.Max)
	r := byName["shop/reports"]
	require.Equal(t, 1, r.Weight)
	require.Zero(t, r.Demand)
	require.Equal(t, 2, byName["shop"].Weight, "the database's own pool is medium")
	require.Equal(t, 6, g.Share+r.Share+byName["shop"].Share, "leftover shared out")
}

// TestBudgetCountsRetiredPools: a pool a reload replaced keeps its server
// connections until its sessions end, and its successor gets only what they
// leave free.
func TestBudgetCountsRetiredPools(t *testing.T) {
	const yaml = `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=10", budget: 4, pool_mode: %s }
`
	p := newStubProxy(t, fmt.Sprintf(yaml, "transaction"), nil)
	clock := time.Now()
	s := openSession(t, p, RouteRequest{Database: "shop", User: "app"})
	old := s.Pool()
	before := startLoad(old, 4)
	defer before.stop()
	require.Eventually(t, func() bool { return before.held() == 4 }, 30*time.Second, time.Millisecond)

	require.NoError(t, p.Reload(parseConfig(t, fmt.Sprintf(yaml, "session"))))
	require.True(t, old.Retired())
	successor := routedPool(t, p, RouteRequest{Database: "shop", User: "app"})
	require.NotSame(t, old, successor)
	after := startLoad(successor, 2)
	defer after.stop()
	require.Eventually(t, func() bool { return successor.core.Stats().Waiting == 2 }, 30*time.Second, time.Millisecond)
	clock = clock.Add(time.Second)
	p.Share(clock)
	require.LessOrEqual(t, serverTotal(p, "shop"), 4)
	require.Zero(t, successor.core.Stats().Limit, "nothing free while the retired pool holds the budget")
	require.Equal(t, 2, old.core.Stats().Limit, "the retired pool's share: its demand, half of the budget")

	before.stop() // its leases end, above its share: they close
	s.Close()     // and its last session: it closes
	shareUntil(t, p, &clock, 4, "the successor gets what the retired pool left", func() bool { return after.held() == 2 })
}
