package proxy

import (
	"context"
	"slices"
)

// ConsoleDatabases are the virtual database names of the admin console; "pgbouncer"
// lets tools written for PgBouncer work unchanged.
var ConsoleDatabases = []string{"motorpool", "pgbouncer"}

// Console runs admin console commands (SHOW POOLS, PAUSE, RELOAD, …). The admin
// package implements it; adapters render its results in their protocol.
type Console interface {
	// Exec runs one command for an authenticated admin user. Errors are shown to the
	// user: they must say what is wrong with the command.
	Exec(ctx context.Context, user, command string) (*ConsoleResult, error)
}

// ConsoleResult is the outcome of a console command: a table (possibly empty) and a
// command tag ("SHOW", "PAUSE", …).
type ConsoleResult struct {
	Columns []string
	// Types is each column's SQL type: "text", "integer" (32 bits), "bigint" or
	// "numeric"; a column without one (Types nil or short) is text.
	Types []string
	// Rows are the values as text; a NULL is "" here and marked in Nulls.
	Rows [][]string
	// Nulls says, per row, which cells are NULL; nil (or a nil row) when none is.
	Nulls [][]bool
	Tag   string
}

// SetConsole installs the admin console. Without one, the console databases are
// unknown like any other.
func (p *Proxy) SetConsole(c Console) { p.console.Store(&c) }

// consoleRoute routes a login to the admin console: only the configured admin users,
// with the usual credentials.
func (p *Proxy) consoleRoute(c *Client, req RouteRequest) (*Route, bool, error) {
	con := p.console.Load()
	if con == nil || !slices.Contains(ConsoleDatabases, req.Database) {
		return nil, false, nil
	}
	reg := p.reg.Load()
	if !slices.Contains(reg.cfg.Admin.Users, req.User) && !slices.Contains(reg.cfg.Admin.StatsUsers, req.User) {
		return nil, true, ErrNotAdmin
	}
	c.mu.Lock()
	c.database, c.user, c.application, c.pool = req.Database, req.User, req.Application, "(console)"
	c.mu.Unlock()
	return &Route{Console: *con, Credentials: reg.userCredentials(p, req.User), client: c}, true, nil
}

// OpenConsole marks the client of an admin console route as logged in, once it has
// authenticated, so that listings count it as idle rather than logging in. The
// adapter then serves the console session itself.
func (rt *Route) OpenConsole() { rt.client.setState(StateIdle) }
