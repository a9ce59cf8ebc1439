package admin

import (
	"net/http"
	"time"
)

// BudgetReport is one database's budget as /api/v1/budgets shows it.
type BudgetReport struct {
	Database string             `json:"database"`
	Budget   int                `json:"budget"`
	InUse    int                `json:"in_use"` // server connections its pools hold
	At       time.Time          `json:"at"`     // when it was last shared
	Pools    []BudgetPoolReport `json:"pools"`
}

// BudgetPoolReport is one pool's part of a budget; see proxy.BudgetPool.
type BudgetPoolReport struct {
	Pool     string  `json:"pool"`
	Service  string  `json:"service"`
	Priority string  `json:"priority"`
	Weight   int     `json:"weight"`
	Min      int     `json:"min"`
	Max      int     `json:"max"`
	Demand   float64 `json:"demand"`
	Share    int     `json:"share"`
	Limit    int     `json:"limit"`
	Held     int     `json:"held"`
	Paused   bool    `json:"paused"`
}

// Budgets returns how each database's budget is shared between its pools, as
// the proxy last shared it (every second).
func (a *Admin) Budgets() []BudgetReport {
	out := []BudgetReport{}
	for _, b := range a.px.Budgets() {
		bj := BudgetReport{Database: b.Database, Budget: b.Budget, InUse: b.InUse, At: b.At.UTC(), Pools: []BudgetPoolReport{}}
		for _, p := range b.Pools {
			bj.Pools = append(bj.Pools, BudgetPoolReport{
				Pool: p.Pool, Service: p.Service, Priority: string(p.Priority), Weight: p.Weight,
				Min: p.Min, Max: p.Max, Demand: p.Demand, Share: p.Share, Limit: p.Limit, Held: p.Held, Paused: p.Paused,
			})
		}
		out = append(out, bj)
	}
	return out
}

func (a *Admin) apiBudgets(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Budgets())
}

// showBudgets is SHOW BUDGETS, motorpool's own: one row per pool of a
// database with a budget, saying how the budget is shared. budget and in_use
// are the database's (in_use: the server connections its pools hold);
// weight comes from priority (low 1, medium 2, high 4); min is
// min_connections, max the pool's own maximum; demand is the smoothed number
// of connections leased and waited for; share what the pool is entitled to
// now; limit the cap in force (below share while other pools give back what
// they borrowed); held its server connections. service is NULL for a
// database's own pool and per-user pools; paused is 1 while PAUSE or KILL
// holds the pool at 0.
func (a *Admin) showBudgets() *table {
	t := newTable("database", "budget", "in_use", "pool", "service", "priority", "weight", "min", "max",
		"demand", "share", "limit", "held", "paused")
	for _, b := range a.px.Budgets() {
		for _, p := range b.Pools {
			t.add(b.Database, b.Budget, b.InUse, p.Pool, orNull(p.Service), string(p.Priority), p.Weight, p.Min, p.Max,
				p.Demand, p.Share, p.Limit, p.Held, p.Paused)
		}
	}
	return t
}
