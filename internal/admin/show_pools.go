package admin

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
)

// sortedPools returns the proxy's pools sorted by name.
func (a *Admin) sortedPools() []*proxy.Pool {
	ps := a.px.Pools()
	slices.SortFunc(ps, func(x, y *proxy.Pool) int { return strings.Compare(x.Name, y.Name) })
	return ps
}

// report returns a pool's dashboard, or an empty one before its first sample.
func (a *Admin) report(p *proxy.Pool) monitor.Report {
	if r, ok := a.mon.Report(p.Name); ok {
		return r
	}
	return monitor.Report{Pool: poolInfo(p), Status: monitor.Unknown, StatusReason: "no samples yet"}
}

// showPools is PgBouncer's SHOW POOLS, one row per pool. cl_active counts
// logged-in clients not waiting (PgBouncer's definition); sv_tested counts
// connections being validated or reset; sv_login connections being opened.
// maxwait and maxwait_us are, as PgBouncer's, how long the client waiting
// longest has waited so far (0 when none waits), whether or not it will get
// a connection. Columns after pool_mode are motorpool's; service is NULL
// for a database's own pool.
func (a *Admin) showPools() *table {
	t := newTable("database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req",
		"sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login",
		"maxwait", "maxwait_us", "pool_mode", "pool", "service", "pool_size", "status")
	clients := a.px.ClientCounts()
	for _, p := range a.sortedPools() {
		st := p.Core().Stats()
		cl := clients[p.Name]
		wait := st.OldestWait
		t.add(p.Database, p.User, cl[proxy.StateActive]+cl[proxy.StateIdle], cl[proxy.StateWaiting], 0, 0,
			st.Active, 0, 0, st.Idle, 0, st.Validating, st.Creating,
			int(wait/time.Second), int((wait % time.Second).Microseconds()), p.Mode.String(), p.Name, orNull(p.Service), st.Max,
			string(a.report(p).Status))
	}
	return t
}

// showDatabases is PgBouncer's SHOW DATABASES, one row per pool. host and
// port are NULL for a pool without an address, as PgBouncer's host is for
// one without a host.
func (a *Admin) showDatabases() *table {
	t := newTable("name", "host", "port", "database", "force_user", "pool_size", "min_pool_size", "reserve_pool_size",
		"server_lifetime", "pool_mode", "max_connections", "current_connections", "paused", "disabled")
	cfg := a.px.Config()
	for _, p := range a.sortedPools() {
		set := p.Settings()
		host, port := hostPortCells(p.Target)
		budget := 0
		if db := cfg.Database(p.Database); db != nil {
			budget = db.Budget
		}
		st := p.Core().Stats()
		t.add(p.Name, host, port, p.Target.Database, orNull(p.User), set.ConnectionLimit, set.MinConnections, 0,
			int64(set.MaxLifetime/time.Second), p.Mode.String(), budget, st.Total, a.px.IsPaused(p.Database), a.px.IsDisabled(p.Database))
	}
	return t
}

// orNull returns s, or nil (NULL) when it is empty.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// hostPortCells returns t's first address as SHOW DATABASES' host and port
// cells: NULL when there is none.
func hostPortCells(t *proxy.Target) (host, port any) {
	h, p := splitAddr(t)
	host = orNull(h)
	if n, err := strconv.Atoi(p); err == nil {
		port = n
	}
	return host, port
}

func splitAddr(t *proxy.Target) (host, port string) {
	if t == nil || len(t.Addresses) == 0 {
		return "", ""
	}
	h, p, err := net.SplitHostPort(t.Addresses[0])
	if err != nil {
		return t.Addresses[0], ""
	}
	return h, p
}

// showConfig is PgBouncer's SHOW CONFIG: every resolved setting, with
// databases and services prefixed by their section ("database
// shop.connection_limit"). Its four columns are PgBouncer's, as tools
// (pgbouncer_exporter) refuse any other count: default is the value when it
// is the built-in default and NULL otherwise, as motorpool keeps no table
// of defaults apart from origins (PgBouncer's is NULL for a setting without
// a default); changeable is yes or no. Where each value
// came from is motorpool check's to show.
func (a *Admin) showConfig() *table {
	t := newTable("key", "value", "default", "changeable")
	for _, s := range a.px.Config().Sections() {
		for _, e := range s.Entries {
			key := e.Key
			if s.Title != "" {
				key = s.Title + "." + e.Key
			}
			var def any
			if e.Origin.String() == "default" {
				def = e.Value
			}
			changeable := "yes"
			if key == "listen" || key == "admin.listen" {
				changeable = "no"
			}
			t.add(key, e.Value, def, changeable)
		}
	}
	return t
}
