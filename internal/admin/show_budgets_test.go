package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/pool"
)

// TestBudgets checks that SHOW BUDGETS, /api/v1/budgets, SHOW POOLS' pool_size
// and the max_server_connections metric show how a budget is shared: a busy
// high-priority service gets four times a low one's share, and each pool's cap.
func TestBudgets(t *testing.T) {
	a, px := newTestAdminYAML(t, "", budgetYAML(10))
	busyServices(t, px, 20)

	res, err := a.Exec(context.Background(), "app", "SHOW BUDGETS")
	require.NoError(t, err)
	require.Equal(t, []string{"database", "budget", "in_use", "pool", "service", "priority", "weight", "min", "max",
		"demand", "share", "limit", "held", "paused"}, res.Columns)
	col := func(row []string, name string) string { return row[slices.Index(res.Columns, name)] }
	rows := map[string][]string{}
	for _, r := range res.Rows {
		rows[col(r, "pool")] = r
	}
	require.Len(t, rows, 3, "the database's own pool and its two services; not other")
	gw, rp := rows["shop/gateway"], rows["shop/reports"]
	require.Equal(t, "10", col(gw, "budget"))
	require.Equal(t, "10", col(gw, "in_use"))
	require.Equal(t, "high", col(gw, "priority"))
	require.Equal(t, "4", col(gw, "weight"))
	require.GreaterOrEqual(t, atoi(t, col(gw, "demand")), 10, "demand above its share")
	require.Equal(t, "8", col(gw, "share"))
	require.Equal(t, "8", col(gw, "limit"))
	require.Equal(t, "8", col(gw, "held"))
	require.Equal(t, "1", col(rp, "weight"))
	require.Equal(t, "1", col(rp, "min"))
	require.Equal(t, "2", col(rp, "limit"))
	require.Equal(t, "0", col(rp, "paused"))
	require.Equal(t, "gateway", col(gw, "service"))
	require.Equal(t, "0", col(rows["shop"], "limit"))

	pools, err := a.Exec(context.Background(), "app", "SHOW POOLS")
	require.NoError(t, err)
	for _, r := range pools.Rows {
		if r[slices.Index(pools.Columns, "pool")] == "shop/gateway" {
			require.Equal(t, "8", r[slices.Index(pools.Columns, "pool_size")], "SHOW POOLS' pool_size is the cap")
		}
	}
	a.Sample(time.Now(), nil)
	mfs, err := a.Registry().Gather()
	require.NoError(t, err)
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "motorpool_pool_max_server_connections" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pool" && l.GetValue() == "shop/reports" {
					require.Equal(t, 2.0, m.GetGauge().GetValue(), "the metric is the cap")
					found = true
				}
			}
		}
	}
	require.True(t, found, "max_server_connections of shop/reports")

	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/budgets")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got []BudgetReport
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Len(t, got, 1)
	require.Equal(t, "shop", got[0].Database)
	require.Equal(t, 10, got[0].Budget)
	require.Len(t, got[0].Pools, 3)
	for _, p := range got[0].Pools {
		if p.Pool == "shop/reports" {
			require.Equal(t, "low", p.Priority)
			require.Equal(t, 2, p.Share)
			require.Greater(t, p.Demand, 2.0, "demand above its share")
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// budgetYAML is a configuration whose database shop has the budget given,
// shared by its own pool and two services: gateway, high priority, and
// reports, low priority with min_connections 1. Database other has no budget.
func budgetYAML(budget int) string {
	return fmt.Sprintf(`
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=10", budget: %d }
  other: { url: "postgresql://app:pw@127.0.0.1:1/other?connection_limit=3" }
services:
  gateway: { database: shop, match: { application_name: "gateway*" }, priority: high, connection_limit: 20 }
  reports: { database: shop, match: { user: analyst }, priority: low, connection_limit: 20, min_connections: 1 }
`, budget)
}

// busyServices starts n clients of each of shop's services (budgetYAML(10))
// running transactions back to back until the test ends, and shares the
// budget until gateway holds 8 connections and reports 2; the last pass, which
// SHOW BUDGETS and the dashboard show, is one with the connections open.
func busyServices(t *testing.T, px *proxy.Proxy, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	gateway, reports := poolNamed(px, "shop/gateway").Core(), poolNamed(px, "shop/reports").Core()
	for _, core := range []*pool.Pool[proxy.Backend]{gateway, reports} {
		for range n {
			wg.Go(func() {
				for {
					l, err := core.Acquire(ctx)
					if err != nil {
						return
					}
					time.Sleep(time.Millisecond)
					l.Release()
				}
			})
		}
	}
	now := time.Now()
	require.Eventually(t, func() bool {
		now = now.Add(time.Second)
		px.Share(now)
		return gateway.Stats().Total == 8 && reports.Stats().Total == 2
	}, 30*time.Second, time.Millisecond)
	px.Share(now.Add(time.Second))
}
