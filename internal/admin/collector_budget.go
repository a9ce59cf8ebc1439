package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/motorpool/motorpool/internal/proxy"
)

// The metrics of database budgets (proxy.Budgets), as last shared: only for
// databases with a budget, and their pools.
var (
	descBudget = prometheus.NewDesc("motorpool_database_budget_server_connections",
		"The database's budget: server connections its pools may hold in total.", []string{"database"}, nil)
	descBudgetInUse = prometheus.NewDesc("motorpool_database_budget_in_use_server_connections",
		"Server connections the pools of a database with a budget hold, in every state.", []string{"database"}, nil)
	descBudgetShare  = poolDesc("budget_share_server_connections", "The pool's share of its database's budget: what it is entitled to now.")
	descBudgetDemand = poolDesc("budget_demand_server_connections", "The pool's smoothed demand the budget is shared by: connections leased plus clients waiting.")
)

// collectBudgets sends each budget's metrics and returns its pools' parts by
// pool name. A database whose budget a reload removed is left out, though
// the last share (at most a second old) still has it.
func (c *poolCollector) collectBudgets(ch chan<- prometheus.Metric) map[string]proxy.BudgetPool {
	cfg := c.a.px.Config()
	parts := make(map[string]proxy.BudgetPool)
	for _, b := range c.a.px.Budgets() {
		if db := cfg.Database(b.Database); db == nil || db.Budget <= 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, float64(b.Budget), b.Database)
		ch <- prometheus.MustNewConstMetric(descBudgetInUse, prometheus.GaugeValue, float64(b.InUse), b.Database)
		for _, bp := range b.Pools {
			parts[bp.Pool] = bp
		}
	}
	return parts
}
