package proxy

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scaleClock drives a proxy's scaling rounds with times of its own, a day ahead
// of the clock, so that the proxy's own rounds (at the clock's time) are skipped.
// The metrics are measured with the pools' clock all the same: a round sees the
// leases held while it runs.
type scaleClock struct {
	p   *Proxy
	now time.Time
}

func newScaleClock(p *Proxy) *scaleClock { return &scaleClock{p, time.Now().Add(24 * time.Hour)} }

// tick runs n rounds, step apart.
func (c *scaleClock) tick(n int, step time.Duration) {
	for range n {
		c.now = c.now.Add(step)
		c.p.Scale(c.now)
	}
}

// seconds runs n rounds a second apart, as the proxy does.
func (c *scaleClock) seconds(n int) { c.tick(n, time.Second) }

// sizes returns a pool's minimum and maximum in force.
func sizes(pl *Pool) (int, int) {
	st := pl.core.Stats()
	return st.MinSize, st.MaxSize
}

// holdLeases opens n sessions on database db and acquires a server connection on
// each; the returned function releases them and ends the sessions.
func holdLeases(t *testing.T, p *Proxy, db string, n int) func() {
	t.Helper()
	var done []func()
	for range n {
		s := openSession(t, p, RouteRequest{Database: db, User: "app"})
		l, err := s.Acquire(context.Background())
		require.NoError(t, err)
		done = append(done, func() { s.Release(l); s.Close() })
	}
	return func() {
		for _, f := range done {
			f()
		}
	}
}

const scalingYAML = `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=4" }
scaling:
	rules:
		- { trigger: high_utilization, below: 0.3, action: scale_down, step: 1, cooldown: 60s }
		- { trigger: high_utilization, threshold: 0.7, action: scale_up, step: 1, cooldown: 30s }
`

// TestScalingDownWhenIdleAndUpUnderLoad: an idle pool shrinks a step per cooldown
// down to its floor, and grows back under load up to connection_limit; every
// change is recorded with its reason.
func TestScalingDownWhenIdleAndUpUnderLoad(t *testing.T) {
	p := newStubProxy(t, scalingYAML, nil)
	shop := poolNamed(p, "shop")
	c := newScaleClock(p)

	c.seconds(scaleWindow) // the window is not full yet
	assert.Empty(t, p.ScalingEvents())
	c.seconds(1)
	_, max := sizes(shop)
	assert.Equal(t, 3, max)
	ev := p.ScalingEvents()
	require.Len(t, ev, 1)
	assert.Equal(t, ScalingEvent{Time: c.now, Pool: "shop", Bound: "max", From: 4, To: 3,
		Reason: "utilization 0.00 < 0.30 (scaling.rules[0]): 4 → 3"}, ev[0])

	c.seconds(59) // cooling down
	_, max = sizes(shop)
	assert.Equal(t, 3, max)
	c.seconds(1)
	_, max = sizes(shop)
	assert.Equal(t, 2, max)
	c.seconds(60)
	_, max = sizes(shop)
	assert.Equal(t, 1, max)
	c.seconds(300) // the floor is max(min_connections, 1)
	_, max = sizes(shop)
	assert.Equal(t, 1, max)
	require.Len(t, p.ScalingEvents(), 3)

	// One lease of a maximum of 1: utilization 1.
	release := holdLeases(t, p, "shop", 1)
	c.seconds(2 * scaleWindow)
	_, max = sizes(shop)
	assert.Equal(t, 2, max, "1 of 1 leased grows the pool, 1 of 2 does not")
	ev = p.ScalingEvents()
	require.Len(t, ev, 4)
	assert.Regexp(t, regexp.MustCompile(`^utilization [01]\.\d+ > 0\.70+ \(scaling\.rules\[1\]\): 1 → 2$`), ev[3].Reason)

	release2 := holdLeases(t, p, "shop", 1)
	c.seconds(30 + scaleWindow) // past the cooldown, with a whole window of 2 of 2
	_, max = sizes(shop)
	assert.Equal(t, 3, max)
	release3 := holdLeases(t, p, "shop", 1)
	c.seconds(30 + scaleWindow)
	_, max = sizes(shop)
	assert.Equal(t, 4, max, "grown to connection_limit")
	release4 := holdLeases(t, p, "shop", 1)
	c.seconds(600)
	_, max = sizes(shop)
	assert.Equal(t, 4, max, "never above connection_limit")
	assert.Equal(t, 4, shop.core.Stats().Active)
	release()
	release2()
	release3()
	release4()

	n := len(p.ScalingEvents())
	// The window that spans the release may shrink the pool or not, depending on
	// how long the leases were still held in it (real time); the next one, without
	// them, does, and the rule's cooldown (60 s) allows one shrink in these 21 s.
	c.seconds(2*scaleWindow + 1)
	_, max = sizes(shop)
	assert.Equal(t, 3, max, "idle again: shrinks")
	ev = p.ScalingEvents()
	require.Len(t, ev, n+1)
	assert.Regexp(t, regexp.MustCompile(`^utilization 0\.\d+ < 0\.30+ \(scaling\.rules\[0\]\): 4 → 3$`), ev[n].Reason)
	for _, e := range ev {
		assert.Equal(t, "shop", e.Pool)
		assert.Equal(t, "max", e.Bound)
	}
}

// TestNoScalingKeepsConfiguredSizes: with no rule and predictive scaling off,
// pools keep their configured sizes whatever their load, and nothing is recorded.
func TestNoScalingKeepsConfiguredSizes(t *testing.T) {
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=2&min_connections=1" }
`, nil)
	shop := poolNamed(p, "shop")
	c := newScaleClock(p)
	c.seconds(120) // idle
	release := holdLeases(t, p, "shop", 2)
	c.seconds(120) // full
	release()
	c.tick(24*7, time.Hour)
	min, max := sizes(shop)
	assert.Equal(t, [2]int{1, 2}, [2]int{min, max})
	assert.Empty(t, p.ScalingEvents())
	assert.Empty(t, p.scaling.pools, "no state is kept")
}

// TestScalingQueueBuildup: clients waiting for a server connection grow the pool,
// and the growth serves them.
func TestScalingQueueBuildup(t *testing.T) {
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=5&pool_timeout=3600" }
scaling:
	rules:
		- { trigger: high_utilization, below: 0.5, action: scale_down, step: 4, cooldown: 1h }
		- { trigger: queue_buildup, threshold: 1, action: scale_to_target, target: 4 }
`, nil)
	shop := poolNamed(p, "shop")
	c := newScaleClock(p)
	c.seconds(scaleWindow + 1)
	_, max := sizes(shop)
	require.Equal(t, 1, max)

	release := holdLeases(t, p, "shop", 1)
	defer release()
	served := make(chan func(), 3)
	for range 3 {
		s := openSession(t, p, RouteRequest{Database: "shop", User: "app"})
		go func() {
			l, err := s.Acquire(context.Background())
			if err != nil {
				served <- nil
				return
			}
			served <- func() { s.Release(l); s.Close() }
		}()
	}
	for shop.core.Stats().Waiting < 3 {
		time.Sleep(time.Millisecond)
	}
	// The first window began before the clients queued, and how much of its real
	// time they waited depends on the machine; the second has them queued
	// throughout.
	c.seconds(2 * scaleWindow)
	_, max = sizes(shop)
	assert.Equal(t, 4, max)
	ev := p.ScalingEvents()
	require.Len(t, ev, 2)
	assert.Regexp(t, regexp.MustCompile(`^waiting clients [123]\.\d > 1\.0 \(scaling\.rules\[1\]\): 1 → 4$`), ev[1].Reason)
	for range 3 {
		done := <-served
		require.NotNil(t, done, "a waiting client got no server connection")
		defer done()
	}
}

// TestScalingFollowsReload: a reload's new connection_limit bounds a scaled pool at
// once, the new rules apply with no cooldown left over, a pool the reload removed
// is forgotten, and turning scaling off gives the pools their configured sizes back.
func TestScalingFollowsReload(t *testing.T) {
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=10" }
	gone: { url: "postgresql://app:pw@127.0.0.1:1/gone?connection_limit=10" }
scaling:
	rules:
		- { trigger: high_utilization, below: 0.3, action: scale_down, step: 2, cooldown: 1h }
`, nil)
	c := newScaleClock(p)
	c.seconds(scaleWindow + 1)
	_, max := sizes(poolNamed(p, "shop"))
	require.Equal(t, 8, max)
	require.Contains(t, p.scaling.pools, "gone")
	require.Equal(t, ScalingCounts{MaxDown: 1}, p.ScalingCounts()["gone"])

	// connection_limit 6 and min_connections 2: the pool is reconfigured in place,
	// to its configured sizes, then the next round puts its scaled maximum back,
	// within the new bounds; a new rule fires at once.
	require.NoError(t, p.Reload(parseConfig(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=6&min_connections=2" }
scaling:
	rules:
		- { trigger: high_utilization, below: 0.3, action: scale_down, step: 1, cooldown: 1h }
`)))
	shop := poolNamed(p, "shop")
	min, max := sizes(shop)
	require.Equal(t, [2]int{2, 6}, [2]int{min, max}, "the reload sets the configured sizes")
	c.seconds(1)
	assert.NotContains(t, p.scaling.pools, "gone", "a removed pool is forgotten")
	assert.NotContains(t, p.ScalingCounts(), "gone", "with its counts")
	assert.Equal(t, ScalingCounts{MaxDown: 1}, p.ScalingCounts()["shop"], "a pool reconfigured by a reload keeps its counts")
	min, max = sizes(shop)
	assert.Equal(t, [2]int{2, 6}, [2]int{min, max}, "8 is above the new connection_limit")
	c.seconds(scaleWindow)
	min, max = sizes(shop)
	assert.Equal(t, [2]int{2, 5}, [2]int{min, max}, "the new rule, without the old one's cooldown")
	c.seconds(3 * 3600)
	min, max = sizes(shop)
	assert.Equal(t, [2]int{2, 2}, [2]int{min, max}, "down to min_connections")

	require.NoError(t, p.Reload(parseConfig(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=6&min_connections=2" }
`)))
	c.seconds(1)
	min, max = sizes(shop)
	assert.Equal(t, [2]int{2, 6}, [2]int{min, max}, "scaling off: the configured sizes")
	assert.Empty(t, p.scaling.pools)
	assert.Equal(t, ScalingCounts{MaxDown: 5}, p.ScalingCounts()["shop"], "scaling off: the counts stay")
}

// TestScalingPerUserPools: the pools built for client users scale too.
func TestScalingPerUserPools(t *testing.T) {
	p := newStubProxy(t, `
auth: { type: trust }
databases:
	shop: { url: "postgresql://127.0.0.1:1/shop?connection_limit=3" }
scaling:
	rules:
		- { trigger: high_utilization, below: 0.3, action: scale_to_target, target: 1 }
`, nil)
	alice := routedPool(t, p, RouteRequest{Database: "shop", User: "alice"})
	require.Equal(t, "shop.alice", alice.Name)
	c := newScaleClock(p)
	c.seconds(scaleWindow + 1)
	_, max := sizes(alice)
	assert.Equal(t, 1, max)
	ev := p.ScalingEvents()
	require.Len(t, ev, 1)
	assert.Equal(t, "shop.alice", ev[0].Pool)
	assert.Equal(t, "utilization 0.00 < 0.30 (scaling.rules[0]): 3 → 1", ev[0].Reason)
}

// TestScalingEventsAreBounded: the proxy keeps the latest decisions only.
func TestScalingEventsAreBounded(t *testing.T) {
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
`, nil)
	p.scaling.mu.Lock()
	for i := range maxScalingEvents + 50 {
		p.record(time.Time{}, "shop", "max", i, i+1, fmt.Sprint(i))
	}
	p.scaling.mu.Unlock()
	ev := p.ScalingEvents()
	require.Len(t, ev, maxScalingEvents)
	assert.Equal(t, "50", ev[0].Reason)
	assert.Equal(t, fmt.Sprint(maxScalingEvents+49), ev[maxScalingEvents-1].Reason)
	assert.Equal(t, map[string]ScalingCounts{"shop": {MaxUp: maxScalingEvents + 50}}, p.ScalingCounts(),
		"the counts keep the decisions the events dropped")
}

// jump moves the clock to the wall time of at, keeping its monotonic reading.
func (c *scaleClock) jump(at time.Time) {
	c.now = c.now.Add(at.Sub(c.now))
	c.p.Scale(c.now)
}

// TestPredictiveScaling: a pool busy on Monday at 9, and shrunk by its rule once
// idle, has the connections of that peak open from 8:15 the next Monday: its
// maximum and its minimum are raised to the forecast, and no rule shrinks it below
// meanwhile. Once the peak hour has passed, they go.
func TestPredictiveScaling(t *testing.T) {
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=10&min_connections=1" }
scaling:
	rules:
		- { trigger: high_utilization, below: 0.2, action: scale_down, step: 5, cooldown: 0s }
	predictive: { enabled: true }
`, nil)
	shop := poolNamed(p, "shop")
	c := newScaleClock(p)
	day := time.Date(c.now.Year(), c.now.Month(), c.now.Day(), 0, 0, 0, 0, c.now.Location())
	days := (8 - int(day.Weekday())) % 7
	if days < 2 {
		days += 7
	}
	monday := day.AddDate(0, 0, days) // the first Monday after tomorrow
	require.Equal(t, time.Monday, monday.Weekday())

	release := holdLeases(t, p, "shop", 3)
	c.jump(monday.Add(9 * time.Hour))
	c.tick(59, time.Minute) // 3 leased of 10, 0.3: the rule does not fire
	require.Empty(t, p.ScalingEvents())
	release()
	c.seconds(3 * scaleWindow) // idle at 9:59
	min, max := sizes(shop)
	require.Equal(t, [2]int{1, 1}, [2]int{min, max}, "shrunk by the rule: %v", p.ScalingEvents())
	ev := p.ScalingEvents()
	require.Len(t, ev, 2)
	assert.Equal(t, "utilization 0.00 < 0.20 (scaling.rules[0]): 5 → 1", ev[1].Reason)
	c.jump(monday.Add(10*time.Hour + 30*time.Minute)) // a quiet 10 o'clock
	require.Len(t, p.ScalingEvents(), 2, "nothing to predict from in the first week")

	next := monday.AddDate(0, 0, 7)
	c.jump(next.Add(8*time.Hour + 15*time.Minute))
	min, max = sizes(shop)
	assert.Equal(t, [2]int{3, 3}, [2]int{min, max}, "the peak's connections are opened ahead of it")
	why := "predicted peak demand 3.0 in the hour from Mon 08:15"
	assert.Equal(t, []ScalingEvent{
		{Time: c.now, Pool: "shop", Bound: "max", From: 1, To: 3, Reason: why},
		{Time: c.now, Pool: "shop", Bound: "min", From: 1, To: 3, Reason: why},
	}, p.ScalingEvents()[2:])

	c.seconds(3 * scaleWindow) // idle, but the rule stops at the forecast
	min, max = sizes(shop)
	assert.Equal(t, [2]int{3, 3}, [2]int{min, max})
	require.Len(t, p.ScalingEvents(), 4)

	c.jump(next.Add(10*time.Hour + 5*time.Minute)) // the peak hour has passed
	min, max = sizes(shop)
	assert.Equal(t, [2]int{1, 1}, [2]int{min, max})
	assert.Equal(t, []ScalingEvent{
		{Time: c.now, Pool: "shop", Bound: "max", From: 3, To: 1, Reason: "utilization 0.00 < 0.20 (scaling.rules[0]): 3 → 1"},
		{Time: c.now, Pool: "shop", Bound: "min", From: 3, To: 1, Reason: "no peak above min_connections predicted for the coming hour"},
	}, p.ScalingEvents()[4:])
	assert.Equal(t, map[string]ScalingCounts{"shop": {MaxUp: 1, MaxDown: 3, MinUp: 1, MinDown: 1}}, p.ScalingCounts())
}

// TestScalingLeavesPausedPools: a paused database's pools, held at a limit of 0,
// are not scaled, and are again once resumed.
func TestScalingLeavesPausedPools(t *testing.T) {
	p := newStubProxy(t, scalingYAML, nil)
	shop := poolNamed(p, "shop")
	c := newScaleClock(p)
	require.NoError(t, p.Pause(context.Background(), "shop"))
	c.seconds(5 * scaleWindow)
	_, max := sizes(shop)
	assert.Equal(t, 4, max)
	assert.Empty(t, p.ScalingEvents())
	require.NoError(t, p.Resume("shop"))
	c.seconds(scaleWindow + 1)
	_, max = sizes(shop)
	assert.Equal(t, 3, max)
	assert.Len(t, p.ScalingEvents(), 1)
}

// TestScalingUnderALimit: rules do not grow a pool's maximum past the limit a
// budget sets (pool.SetLimit), where growing would change nothing.
func TestScalingUnderALimit(t *testing.T) {
	p := newStubProxy(t, `
auth: { users: { app: { password: x } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=10" }
scaling:
	rules:
		- { trigger: high_utilization, below: 0.3, action: scale_to_target, target: 2, cooldown: 1h }
		- { trigger: high_utilization, threshold: 0.9, action: scale_up, step: 4, cooldown: 0s }
`, nil)
	shop := poolNamed(p, "shop")
	c := newScaleClock(p)
	c.seconds(scaleWindow + 1)
	_, max := sizes(shop)
	require.Equal(t, 2, max)

	shop.core.SetLimit(4)
	release := holdLeases(t, p, "shop", 2)
	defer release()
	c.seconds(scaleWindow + 1)
	_, max = sizes(shop)
	assert.Equal(t, 4, max, "grown up to the limit, not past it")
	require.Len(t, p.ScalingEvents(), 2)
	assert.Regexp(t, regexp.MustCompile(`^utilization 1\.00 > 0\.90 \(scaling\.rules\[1\]\): 2 → 4$`), p.ScalingEvents()[1].Reason)

	release2 := holdLeases(t, p, "shop", 2) // 4 of 4
	defer release2()
	c.seconds(3 * scaleWindow)
	_, max = sizes(shop)
	assert.Equal(t, 4, max, "at the limit")
	require.Len(t, p.ScalingEvents(), 2)

	shop.core.SetLimit(-1) // the budget lifts its cap
	c.seconds(scaleWindow + 1)
	_, max = sizes(shop)
	assert.Equal(t, 8, max)
	require.Len(t, p.ScalingEvents(), 3)
}
