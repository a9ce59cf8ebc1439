package demo

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The logins of the configuration WriteConfig writes. They guard a proxy that
// listens on loopback only, for a demo.
const (
	// Database is the name clients use and the backend database's name.
	Database = "motorpool_demo"
	// User and Password are the simulated services' login.
	User     = "demo"
	Password = "demo"
	// AdminUser and AdminPassword log in to the admin console (database
	// "motorpool").
	AdminUser     = "admin"
	AdminPassword = "admin"
)

// ConfigParams are the parts of the demo configuration that depend on the
// machine.
type ConfigParams struct {
	// Backend is the URL of the PostgreSQL database the demo runs against,
	// whose user may create tables in it.
	Backend string
	// Listen is the proxy's host:port. Empty means 127.0.0.1:6432.
	Listen string
	// AdminListen is the admin HTTP API's host:port. Empty means
	// 127.0.0.1:8080.
	AdminListen string
}

// WriteConfig writes a motorpool configuration for the demo: the database
// Database at p.Backend, clients logging in as User, and one service with its
// own pool for each of Services(), matched by application_name.
func WriteConfig(w io.Writer, p ConfigParams) error {
	if p.Listen == "" {
		p.Listen = "127.0.0.1:6432"
	}
	if p.AdminListen == "" {
		p.AdminListen = "127.0.0.1:8080"
	}
	limits := 0
	for _, s := range Services() {
		limits += s.ConnectionLimit
	}
	limits += 2          // the database's own pool (below)
	budget := limits - 4 // less than the pools could take together
	var b strings.Builder
	fmt.Fprintf(&b, `# motorpool demo configuration, written by "motorpool demo config".
# Run it with "motorpool demo -c FILE", or serve it with "motorpool serve -c FILE".
listen: %s
admin:
  listen: %s
  users: [%s]
auth:
  type: scram-sha-256
  users:
    %s: { password: %s }
    %s: { password: %s }
log: { level: warn }
databases:
  %s:
    url: %s
    # The backend takes at most %d server connections from motorpool: the
    # pools (%d connections in all) share them by priority when they
    # are all busy (SHOW BUDGETS).
    budget: %d
    connection_limit: 2    # the pool of clients no service matches: your own psql
# One pool per simulated service, matched by the application_name its clients
# send. The service type sets timeouts, priority and connection pattern; the
# pools are kept small so that the bursty web-api has to queue.
services:
`, p.Listen, p.AdminListen, AdminUser, User, Password, AdminUser, AdminPassword,
		Database, quote(p.Backend), budget, limits, budget)
	for _, s := range Services() {
		fmt.Fprintf(&b, "  %-10s { %-39s %-27s connection_limit: %d }  # %s: %s\n",
			s.Name+":", "match: { application_name: "+s.Name+" },", "type: "+s.Type+",", s.ConnectionLimit, clients(s.Clients), s.About)
	}
	b.WriteString(`# A pool that stays under-used gives connections up, and gets them back when
# it is busy again or its clients wait (SHOW SCALING).
scaling:
  rules:
    - { trigger: high_utilization, threshold: 0.8, action: scale_up, step: 2, cooldown: 10s }
    - { trigger: queue_buildup, threshold: 1, action: scale_up, step: 2, cooldown: 10s }
    - { trigger: long_wait_times, threshold: 10ms, action: scale_up, step: 2, cooldown: 10s }
    - { trigger: high_utilization, below: 0.2, action: scale_down, step: 1, cooldown: 15s }
`)
	_, err := io.WriteString(w, b.String())
	return err
}

func clients(n int) string {
	if n == 1 {
		return "1 client"
	}
	return strconv.Itoa(n) + " clients"
}

// quote makes s a YAML double-quoted scalar that the configuration loader
// reads back as s: "$" is doubled so that it is not taken for ${VAR}.
func quote(s string) string {
	return strconv.Quote(strings.ReplaceAll(s, "$", "$$"))
}
