package admin

import (
	"github.com/motorpool/motorpool/budget"
	"github.com/motorpool/motorpool/internal/proxy"
)

// dashBudget is one database's budget as the dashboard shows it.
type dashBudget struct {
	Database string
	Budget   int
	InUse    int
	Free     int // Budget - InUse, never negative
	Pools    []dashBudgetPool
}

// dashBudgetPool is one pool's part of a budget as the dashboard shows it.
type dashBudgetPool struct {
	proxy.BudgetPool
	// Fair is the pool's fair share: what budget.Allocate would give it if
	// every pool of the database wanted as much as it may take (its Max).
	// That is its weighted part of the budget, at least its minimum, and
	// never above its maximum.
	Fair int
	// Borrowed is what the pool holds beyond its fair share (Held - Fair,
	// or 0): connections other pools leave unused and lend it. A lender's
	// demand takes them back at the next pass.
	Borrowed int
	// Returning is what the pool holds beyond its limit (Held - Limit, or
	// 0): connections it closes as their leases end.
	Returning int
	// Width is Held as a fraction of the budget, for the budget's bar.
	Width float64
}

// dashBudgets returns the budgets the dashboard shows, by database name.
func dashBudgets(bs []proxy.Budget) []dashBudget {
	out := make([]dashBudget, 0, len(bs))
	for _, b := range bs {
		out = append(out, newDashBudget(b))
	}
	return out
}

func newDashBudget(b proxy.Budget) dashBudget {
	d := dashBudget{Database: b.Database, Budget: b.Budget, InUse: b.InUse, Free: max(b.Budget-b.InUse, 0)}
	fair := fairShares(b)
	for i, p := range b.Pools {
		dp := dashBudgetPool{BudgetPool: p, Fair: fair[i], Borrowed: max(p.Held-fair[i], 0), Returning: max(p.Held-p.Limit, 0)}
		if b.Budget > 0 {
			dp.Width = float64(p.Held) / float64(b.Budget)
		}
		d.Pools = append(d.Pools, dp)
	}
	return d
}

// fairShares returns each pool's fair share of b (see dashBudgetPool.Fair).
func fairShares(b proxy.Budget) []int {
	claims := make([]budget.Claim, len(b.Pools))
	for i, p := range b.Pools {
		claims[i] = budget.Claim{Weight: p.Weight, Min: p.Min, Max: p.Max, Demand: p.Max}
	}
	fair := make([]int, len(b.Pools))
	for i, g := range budget.Allocate(b.Budget, claims) {
		fair[i] = g.Share
	}
	return fair
}

// poolBudget returns the part of the budget of the pool named name, and its
// database's budget; nil if the pool's database has no budget.
func poolBudget(bs []dashBudget, name string) *dashPoolBudget {
	for _, b := range bs {
		for _, p := range b.Pools {
			if p.Pool == name {
				return &dashPoolBudget{Database: b.Database, Budget: b.Budget, InUse: b.InUse, Pool: p}
			}
		}
	}
	return nil
}

// dashPoolBudget is the line of a pool's page about its database's budget.
type dashPoolBudget struct {
	Database string
	Budget   int
	InUse    int
	Pool     dashBudgetPool
}
