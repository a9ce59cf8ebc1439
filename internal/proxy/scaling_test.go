package proxy

import (
	"context"
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
	assert.Regexp(t, regexp.MustCompile(`^utilization [01]\.\d\d > 0\.70 \(scaling\.rules\[1\]\): 1 → 2$`), ev[3].Reason)

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
	c.seconds(scaleWindow) // a window with the leases, then one without
	_, max = sizes(shop)
	assert.Equal(t, 3, max, "idle again: shrinks")
	ev = p.ScalingEvents()
	require.Len(t, ev, n+1)
	assert.Regexp(t, regexp.MustCompile(`^utilization 0\.\d\d < 0\.30 \(scaling\.rules\[0\]\): 4 → 3$`), ev[n].Reason)
	for _, e := range ev {
		assert.Equal(t, "shop", e.Pool)
		assert.Equal(t, "max", e.Bound)
	}
}
