package config

import "time"

// PoolMode says when a client gives its server connection back to the pool.
type PoolMode string

// The pool modes. The zero PoolMode is never left in a resolved Pool.
const (
	// ModeSession holds the server connection for the client's whole session.
	ModeSession PoolMode = "session"
	// ModeTransaction holds it from BEGIN (or the first statement) to the end
	// of the transaction. This is the default.
	ModeTransaction PoolMode = "transaction"
	// ModeStatement holds it for one statement; multi-statement transactions
	// are refused.
	ModeStatement PoolMode = "statement"
)

// Priority orders pools that share one database budget: a higher priority
// gets its share first and is the last to lend idle connections out.
type Priority string

// The priorities, from the lesson's PoolPriority.
const (
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium"
	PriorityHigh   Priority = "high"
)

// ConnectionPattern describes how a pool's clients use connections. It is
// shown in diagnostics; it never limits what clients may do, and scaling
// does not read it (the scaling rules are the same for every pool).
type ConnectionPattern string

// The connection patterns, from the lesson's ConnectionPattern.
const (
	PatternBurst       ConnectionPattern = "burst"        // short bursts of activity
	PatternSteady      ConnectionPattern = "steady"       // consistent use
	PatternBatch       ConnectionPattern = "batch"        // periodic batch work
	PatternLongRunning ConnectionPattern = "long_running" // long-held connections
)

// Pool holds the resolved settings of one pool: a database's own pool or a
// service's. Load fills every field, so a zero value here is a real setting
// (0 = "none" where the field says so), never "unset".
type Pool struct {
	// Mode is the pool mode. Default transaction.
	Mode PoolMode
	// MinConnections is how many server connections the pool keeps open even
	// when idle. 0 opens connections only on demand. At most ConnectionLimit.
	MinConnections int
	// ConnectionLimit is the most server connections the pool may hold
	// (active + idle), between 1 and 10000. A database's Budget may cap it
	// further at run time.
	ConnectionLimit int
	// MaxConnecting is how many server connections the pool may be opening
	// at once, between 1 and 100. Default 2 (MongoDB's maxConnecting).
	MaxConnecting int
	// PoolTimeout is how long a client waits for a server connection before
	// it gets an error (the acquire timeout). Always > 0.
	PoolTimeout time.Duration
	// ConnectTimeout bounds opening one server connection, including TLS and
	// authentication. Always > 0.
	ConnectTimeout time.Duration
	// IdleTimeout closes a server connection that has been idle this long,
	// down to MinConnections. 0 never closes for idleness. When both are
	// > 0 it is less than MaxLifetime.
	IdleTimeout time.Duration
	// MaxLifetime closes a server connection this long after it was opened,
	// once it is idle. 0 keeps connections for ever.
	MaxLifetime time.Duration
	// ValidationTimeout bounds the health check of a server connection
	// before it is reused after a long idle. Always > 0.
	ValidationTimeout time.Duration
	// StatementTimeout is sent to the server as a startup setting (for
	// PostgreSQL, statement_timeout in Database.Session). 0 is none.
	StatementTimeout time.Duration
	// PreparedStatements keeps protocol-level prepared statements working
	// in transaction and statement mode (motorpool prepares them again on
	// whichever server connection the client lands on). Default true.
	PreparedStatements bool
	// Priority ranks the pool among those sharing a budget. Default medium.
	Priority Priority
	// Pattern is the pool's connection pattern. Default steady.
	Pattern ConnectionPattern
}

// Opt is an optional value in a layer of settings: Set reports whether the
// layer gives the value at all. The zero Opt is "not given".
type Opt[T any] struct {
	Value T
	Set   bool
}

// some returns a given Opt.
func some[T any](v T) Opt[T] { return Opt[T]{Value: v, Set: true} }

// Overrides is one layer of pool settings: a profile, a preset, a service
// type, the parameters of a URL or the fields written in the file. Settings
// that are not Set are left to weaker layers. The zero Overrides gives
// nothing.
type Overrides struct {
	Mode               Opt[PoolMode]
	MinConnections     Opt[int]
	ConnectionLimit    Opt[int]
	MaxConnecting      Opt[int]
	PoolTimeout        Opt[time.Duration]
	ConnectTimeout     Opt[time.Duration]
	IdleTimeout        Opt[time.Duration]
	MaxLifetime        Opt[time.Duration]
	ValidationTimeout  Opt[time.Duration]
	StatementTimeout   Opt[time.Duration]
	PreparedStatements Opt[bool]
	Priority           Opt[Priority]
	Pattern            Opt[ConnectionPattern]
}

// Lookup returns the value o gives for s, formatted as in `motorpool check`,
// and whether o gives it at all. Unknown settings are not given.
func (o Overrides) Lookup(s Setting) (string, bool) {
	sp, ok := specByName[s]
	if !ok {
		return "", false
	}
	return sp.formatOverride(&o)
}

// Format returns p's value for s as `motorpool check` prints it (durations
// as Go durations: "30s", "10m"), or "" for an unknown setting.
func (p Pool) Format(s Setting) string {
	sp, ok := specByName[s]
	if !ok {
		return ""
	}
	return sp.format(&p)
}

// applyTo copies the settings o gives into dst and records from as their
// origin.
func (o *Overrides) applyTo(dst *Pool, origins map[string]Origin, from Origin) {
	for _, sp := range specs {
		if sp.apply(dst, o) {
			origins[string(sp.name)] = from
		}
	}
}
