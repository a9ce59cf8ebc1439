package admin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/proxy"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)
)

// scrapeMetrics GETs url's /metrics, as Prometheus would, and returns its
// samples and its # TYPE lines.
func scrapeMetrics(t *testing.T, url string) (samples []sample, types map[string]string) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	types = map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, line)
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		samples = append(samples, s)
	}
	return samples, types
}

// metric returns the values of the samples named name whose labels include
// labels.
func metric(samples []sample, name string, labels map[string]string) []float64 {
	var out []float64
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s.value)
	}
	return out
}

// TestBudgetMetrics: /metrics shows a budget, what the database's pools hold,
// and each pool's share and demand, for the databases with a budget only. Four
// gateway clients and two reports clients want the whole budget of 6: each
// service gets what it wants, the database's own pool nothing.
func TestBudgetMetrics(t *testing.T) {
	a, px := newTestAdminYAML(t, "", budgetYAML(6))
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	hold := func(name string, n int) {
		core := poolNamed(px, name).Core()
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if l, err := core.Acquire(ctx); err == nil {
					<-ctx.Done()
					l.Release()
				}
			}()
		}
	}
	hold("shop/gateway", 4)
	hold("shop/reports", 2)
	gateway, reports := poolNamed(px, "shop/gateway").Core(), poolNamed(px, "shop/reports").Core()
	// Passes a day ahead of the clock, 10 s apart: the demand is what is leased
	// and waited for, whatever the proxy's own passes see in between.
	now := time.Now().Add(24 * time.Hour)
	require.Eventually(t, func() bool {
		now = now.Add(10 * time.Second)
		px.Share(now)
		return gateway.Stats().Active == 4 && reports.Stats().Active == 2
	}, 30*time.Second, time.Millisecond)
	px.Share(now.Add(10 * time.Second)) // a pass with every connection open

	samples, types := scrapeMetrics(t, srv.URL)
	db := func(name, database string) []float64 {
		return metric(samples, name, map[string]string{"database": database})
	}
	pl := func(name, pool string) []float64 { return metric(samples, name, map[string]string{"pool": pool}) }
	require.Equal(t, []float64{6}, db("motorpool_database_budget_server_connections", "shop"))
	require.Equal(t, []float64{6}, db("motorpool_database_budget_in_use_server_connections", "shop"))
	require.Empty(t, db("motorpool_database_budget_server_connections", "other"), "other has no budget")
	require.Empty(t, db("motorpool_database_budget_in_use_server_connections", "other"))
	for _, c := range []struct {
		pool          string
		share, demand float64
		max           float64 // the cap in force
	}{
		{"shop/gateway", 4, 4, 4},
		{"shop/reports", 2, 2, 2},
		{"shop", 0, 0, 0},
	} {
		require.Equal(t, []float64{c.share}, pl("motorpool_pool_budget_share_server_connections", c.pool), c.pool)
		require.Equal(t, []float64{c.demand}, pl("motorpool_pool_budget_demand_server_connections", c.pool), c.pool)
		require.Equal(t, []float64{c.max}, pl("motorpool_pool_max_server_connections", c.pool), c.pool)
	}
	require.Equal(t, []float64{20}, pl("motorpool_pool_own_max_server_connections", "shop/gateway"), "its connection_limit, above the cap")
	require.Equal(t, []float64{1}, pl("motorpool_pool_min_server_connections", "shop/reports"))
	require.Empty(t, pl("motorpool_pool_budget_share_server_connections", "other"))
	require.Empty(t, pl("motorpool_pool_budget_demand_server_connections", "other"))
	require.Equal(t, []float64{3}, pl("motorpool_pool_max_server_connections", "other"))
	for _, name := range []string{"motorpool_database_budget_server_connections", "motorpool_database_budget_in_use_server_connections",
		"motorpool_pool_budget_share_server_connections", "motorpool_pool_budget_demand_server_connections"} {
		require.Equal(t, "gauge", types[name], name)
	}
}

// TestScalingMetrics: /metrics shows each pool's sizes in force and counts its
// scaling decisions by bound and direction; a pool a reload removes goes from
// /metrics with its counts.
func TestScalingMetrics(t *testing.T) {
	const databases = `
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=4&min_connections=1" }
`
	const scaling = `
scaling:
  rules:
    - { trigger: high_utilization, below: 0.3, action: scale_down, step: 1, cooldown: 1h }
    - { trigger: high_utilization, threshold: 0.7, action: scale_up, step: 1, cooldown: 0s }
`
	a, px := newTestAdminYAML(t, "", databases+`
  gone: { url: "postgresql://app:pw@127.0.0.1:1/gone?connection_limit=4" }
`+scaling)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	// Rounds a day ahead of the clock, so that the proxy's own are skipped.
	now := time.Now().Add(24 * time.Hour)
	rounds := func(n int) {
		for range n {
			now = now.Add(time.Second)
			px.Scale(now)
		}
	}
	decisions := func(samples []sample, pool string) map[string]float64 {
		out := map[string]float64{}
		for _, bound := range []string{"max", "min"} {
			for _, dir := range []string{"up", "down"} {
				v := metric(samples, "motorpool_pool_scaling_decisions_total", map[string]string{"pool": pool, "bound": bound, "direction": dir})
				require.Len(t, v, 1, "%s %s %s", pool, bound, dir)
				out[bound+" "+dir] = v[0]
			}
		}
		return out
	}
	sizes := func(samples []sample, pool string) [3]float64 {
		get := func(name string) float64 {
			v := metric(samples, name, map[string]string{"pool": pool})
			require.Len(t, v, 1, "%s %s", name, pool)
			return v[0]
		}
		return [3]float64{get("motorpool_pool_min_server_connections"), get("motorpool_pool_own_max_server_connections"),
			get("motorpool_pool_max_server_connections")}
	}

	samples, types := scrapeMetrics(t, srv.URL)
	require.Equal(t, "counter", types["motorpool_pool_scaling_decisions_total"])
	require.Equal(t, "gauge", types["motorpool_pool_min_server_connections"])
	require.Equal(t, map[string]float64{"max up": 0, "max down": 0, "min up": 0, "min down": 0}, decisions(samples, "shop"))
	require.Equal(t, [3]float64{1, 4, 4}, sizes(samples, "shop"))

	rounds(11) // idle: both pools shrink, then cool down for an hour
	samples, _ = scrapeMetrics(t, srv.URL)
	require.Equal(t, map[string]float64{"max up": 0, "max down": 1, "min up": 0, "min down": 0}, decisions(samples, "shop"))
	require.Equal(t, map[string]float64{"max up": 0, "max down": 1, "min up": 0, "min down": 0}, decisions(samples, "gone"))
	require.Equal(t, [3]float64{1, 3, 3}, sizes(samples, "shop"))
	require.Equal(t, [3]float64{0, 3, 3}, sizes(samples, "gone"))

	// 3 leased of 3 grows shop to 4; at 4, 3 leased is still above 0.7, but 4 is
	// its connection_limit.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		l, err := poolNamed(px, "shop").Core().Acquire(ctx)
		require.NoError(t, err)
		defer l.Release()
	}
	rounds(3 * 11)
	samples, _ = scrapeMetrics(t, srv.URL)
	require.Equal(t, map[string]float64{"max up": 1, "max down": 1, "min up": 0, "min down": 0}, decisions(samples, "shop"),
		"%v", px.ScalingEvents())
	require.Equal(t, [3]float64{1, 4, 4}, sizes(samples, "shop"))

	cfg, err := config.Parse("test.yaml", []byte(databases+scaling), nil)
	require.NoError(t, err)
	require.NoError(t, px.Reload(cfg))
	samples, _ = scrapeMetrics(t, srv.URL)
	require.Empty(t, metric(samples, "motorpool_pool_scaling_decisions_total", map[string]string{"pool": "gone"}), "a removed pool's metrics go")
	require.Empty(t, metric(samples, "motorpool_pool_min_server_connections", map[string]string{"pool": "gone"}))
	require.Equal(t, map[string]float64{"max up": 1, "max down": 1, "min up": 0, "min down": 0}, decisions(samples, "shop"))
	rounds(1)
	require.NotContains(t, px.ScalingCounts(), "gone")
	require.Equal(t, proxy.ScalingCounts{MaxUp: 1, MaxDown: 1}, px.ScalingCounts()["shop"])
}
