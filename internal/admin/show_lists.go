package admin

import "github.com/motorpool/motorpool/internal/proxy"

// showLists is PgBouncer's SHOW LISTS: how many of each object there are.
// motorpool keeps no free lists and has no DNS cache, so free_* and dns_*
// are 0; used_servers counts server connections in every state.
func (a *Admin) showLists() *table {
	t := newTable("list", "items")
	pools := a.px.Pools()
	servers := 0
	for _, p := range pools {
		servers += p.Core().Stats().Total
	}
	clients := a.px.Clients()
	login := 0
	for _, c := range clients {
		if c.State == proxy.StateLogin {
			login++
		}
	}
	t.add("databases", len(a.px.Config().Databases))
	t.add("users", len(a.users()))
	t.add("pools", len(pools))
	t.add("free_clients", 0)
	t.add("used_clients", len(clients))
	t.add("login_clients", login)
	t.add("free_servers", 0)
	t.add("used_servers", servers)
	for _, name := range []string{"dns_names", "dns_zones", "dns_queries", "dns_pending"} {
		t.add(name, 0)
	}
	return t
}
