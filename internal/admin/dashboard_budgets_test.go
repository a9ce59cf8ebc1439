package admin

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/proxy"
)

// TestDashBudget: a pool's fair share is its weighted part of the budget,
// raised to its minimum and capped at its maximum; it borrows what it holds
// beyond it, and gives back what it holds beyond its limit.
func TestDashBudget(t *testing.T) {
	pool := func(name string, prio config.Priority, weight, min, max, share, limit, held int) proxy.BudgetPool {
		return proxy.BudgetPool{Pool: name, Priority: prio, Weight: weight, Min: min, Max: max, Share: share, Limit: limit, Held: held}
	}
	type want struct{ fair, borrowed, returning int }
	for _, tc := range []struct {
		name   string
		budget int
		pools  []proxy.BudgetPool
		want   []want
	}{{
		name: "the README's: the idle medium pool lends to the high and low ones", budget: 10,
		pools: []proxy.BudgetPool{
			pool("shop", config.PriorityMedium, 2, 0, 10, 0, 0, 0),
			pool("shop/gateway", config.PriorityHigh, 4, 0, 20, 8, 8, 8),
			pool("shop/reports", config.PriorityLow, 1, 1, 20, 2, 2, 2),
		},
		want: []want{{3, 0, 0}, {6, 2, 0}, {1, 1, 0}},
	}, {
		name: "a lender's demand rose: the borrower holds more than its limit", budget: 10,
		pools: []proxy.BudgetPool{
			pool("shop", config.PriorityMedium, 2, 0, 10, 3, 1, 1),
			pool("shop/gateway", config.PriorityHigh, 4, 0, 20, 6, 6, 8),
			pool("shop/reports", config.PriorityLow, 1, 1, 20, 1, 1, 1),
		},
		want: []want{{3, 0, 0}, {6, 2, 2}, {1, 0, 0}},
	}, {
		name: "a minimum above the weighted part is the pool's own", budget: 10,
		pools: []proxy.BudgetPool{
			pool("a", config.PriorityHigh, 4, 0, 20, 5, 5, 5),
			pool("b", config.PriorityLow, 1, 5, 20, 5, 5, 5),
		},
		want: []want{{5, 0, 0}, {5, 0, 0}},
	}, {
		name: "a maximum below the weighted part leaves the rest to the others", budget: 10,
		pools: []proxy.BudgetPool{
			pool("a", config.PriorityHigh, 4, 0, 2, 2, 2, 2),
			pool("b", config.PriorityLow, 1, 0, 20, 8, 8, 8),
		},
		want: []want{{2, 0, 0}, {8, 0, 0}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDashBudget(proxy.Budget{Database: "shop", Budget: tc.budget, Pools: tc.pools})
			for i, p := range d.Pools {
				got := want{p.Fair, p.Borrowed, p.Returning}
				if got != tc.want[i] {
					t.Errorf("%s: fair, borrowed, returning %v, want %v", p.Pool, got, tc.want[i])
				}
			}
		})
	}
}

// TestDashboardBudgets renders the overview and a pool's page while a busy
// high-priority service borrows the share of its idle database's own pool:
// the overview has a panel for the budgeted database only, and the pool's
// page a line with its part.
func TestDashboardBudgets(t *testing.T) {
	a, px := newTestAdminYAML(t, "", budgetYAML(10))
	busyServices(t, px, 15)

	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	cell := regexp.MustCompile(`\s+`)
	row := func(body, pool string) string {
		t.Helper()
		i := strings.Index(body, `<tr data-pool="`+pool+`">`)
		require.GreaterOrEqual(t, i, 0, "a row for %s in\n%s", pool, body)
		return cell.ReplaceAllString(body[i:i+strings.Index(body[i:], "</tr>")], " ")
	}
	for _, path := range []string{"/", "/partials/overview"} {
		body := getBody(t, srv.URL+path)
		require.Contains(t, body, "Budget shop: 10 of 10 in use", path)
		require.Equal(t, 1, strings.Count(body, `class="panel budget"`), "%s: one panel, shop's, not other's", path)
		require.NotContains(t, body, `data-database="other"`, path)
		// pool, priority, demand, fair share, share, limit, held, borrowing
		require.Regexp(t, `<td>high</td><td>\d+\.\d</td><td>6</td><td>8</td><td>8</td><td>8</td><td class="borrow">borrows 2</td>`,
			strings.ReplaceAll(row(body, "shop/gateway"), `<span class="dot prio-high"></span>`, ""), path)
		require.Regexp(t, `<td>low</td><td>\d+\.\d</td><td>1</td><td>2</td><td>2</td><td>2</td><td class="borrow">borrows 1</td>`,
			strings.ReplaceAll(row(body, "shop/reports"), `<span class="dot prio-low"></span>`, ""), path)
		require.Regexp(t, `<td>medium</td><td>0\.0</td><td>3</td><td>0</td><td>0</td><td>0</td><td class="borrow"></td>`,
			strings.ReplaceAll(row(body, "shop"), `<span class="dot prio-medium"></span>`, ""), path)
		require.Contains(t, body, `style="width: 80%" title="shop/gateway: holds 8"`, path)
		require.Contains(t, body, `style="width: 20%" title="shop/reports: holds 2"`, path)
	}
	for _, path := range []string{"/pools/shop%2Fgateway", "/partials/pool/shop%2Fgateway"} {
		body := getBody(t, srv.URL+path)
		require.Contains(t, body, "Budget shop: 10 of 10 in use · this pool: share 8 · limit 8 · held 8 · fair share 6 · borrowing 2", path)
	}
	for _, path := range []string{"/pools/other", "/partials/pool/other"} {
		require.NotContains(t, getBody(t, srv.URL+path), `id="budget"`, "%s: other has no budget", path)
	}
}

// TestDashboardBudgetEscapes: names in the budget panel are text, never
// markup.
func TestDashboardBudgetEscapes(t *testing.T) {
	const odd = `<img src=x onerror=alert(1)>"'`
	d := newDashBudget(proxy.Budget{Database: odd, Budget: 2, InUse: 1, Pools: []proxy.BudgetPool{
		{Pool: odd + "/" + odd, Priority: config.Priority(odd), Weight: 2, Max: 2, Share: 2, Limit: 2, Held: 1},
	}})
	var b strings.Builder
	require.NoError(t, pages.ExecuteTemplate(&b, "budget", d))
	require.NotContains(t, b.String(), "<img")
	require.Contains(t, b.String(), "Budget &lt;img src=x onerror=alert(1)&gt;&#34;&#39;: 1 of 2 in use")
}
