package admin

import (
	"slices"

	"github.com/motorpool/motorpool/internal/proxy"
)

// userCounts are one user's connections.
type userCounts struct {
	servers int // server connections logged in as the user, over every pool
	clients int // logged-in client connections
}

// users counts each known user's connections, by name: the users of
// auth.users, those server connections log in as, and those of logged-in
// clients (auth_query finds users the configuration does not list). Clients
// still logging in are left out, so that a made-up name is never listed.
func (a *Admin) users() map[string]*userCounts {
	out := map[string]*userCounts{}
	get := func(name string) *userCounts {
		u := out[name]
		if u == nil {
			u = &userCounts{}
			out[name] = u
		}
		return u
	}
	for _, u := range a.px.Config().Auth.Users {
		get(u.Name)
	}
	for _, p := range a.px.Pools() {
		get(p.User).servers += p.Core().Stats().Total
	}
	for _, c := range a.px.Clients() {
		if c.State != proxy.StateLogin {
			get(c.User).clients++
		}
	}
	return out
}

// showUsers is PgBouncer's SHOW USERS, one row per user. motorpool has no
// per-user pool_size, reserve_pool_size, pool_mode or connection limits: the
// overrides are empty, pool_mode NULL (as PgBouncer's without an override),
// and the limits 0 (none).
func (a *Admin) showUsers() *table {
	t := newTable("name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections",
		"current_connections", "max_user_client_connections", "current_client_connections")
	users := a.users()
	names := make([]string, 0, len(users))
	for name := range users {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		u := users[name]
		t.add(name, "", "", nil, 0, u.servers, 0, u.clients)
	}
	return t
}
