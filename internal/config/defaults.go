package config

import "time"

// Built-in defaults of the top-level settings.
const (
	DefaultListen               = "127.0.0.1:6432"
	DefaultAdminListen          = "127.0.0.1:8080"
	DefaultMaxClientConnections = 10000
	// DefaultAuthQuery looks a user's password up as PgBouncer's auth_query does
	// (pg_shadow lists only roles that may log in), and returns none once the
	// password has expired (VALID UNTIL), which PostgreSQL would refuse.
	DefaultAuthQuery = "SELECT usename, CASE WHEN valuntil < now() THEN NULL ELSE passwd END FROM pg_shadow WHERE usename = $1"
	// DefaultResetQuery is the reset query of PostgreSQL server connections.
	// MySQL and MongoDB connections have none by default: their adapters
	// reset connections at the protocol level.
	DefaultResetQuery = "DISCARD ALL"
)

// Defaults returns the built-in pool settings, the weakest layer of every
// pool. The connection limit follows PgBouncer's default_pool_size (20); the
// timeouts follow the lesson's production-web profile and PgBouncer's
// server_idle_timeout (600 s) and server_lifetime (3600 s).
func Defaults() Pool {
	return Pool{
		Mode:               ModeTransaction,
		MinConnections:     0,
		ConnectionLimit:    20,
		MaxConnecting:      2,
		PoolTimeout:        30 * time.Second,
		ConnectTimeout:     10 * time.Second,
		IdleTimeout:        600 * time.Second,
		MaxLifetime:        3600 * time.Second,
		ValidationTimeout:  5 * time.Second,
		StatementTimeout:   0,
		PreparedStatements: true,
		Priority:           PriorityMedium,
		Pattern:            PatternSteady,
	}
}
