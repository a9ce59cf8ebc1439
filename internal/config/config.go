package config

import (
	"log/slog"
	"net"
	"time"
)

// Config is a loaded, resolved and validated configuration. Load and Parse
// fill every field; a field's comment gives its default.
type Config struct {
	// File is the name the configuration was read from.
	File string
	// Listen is the host:port of the client-facing proxy. Default
	// 127.0.0.1:6432. Changing it needs a restart.
	Listen string
	// MaxClientConnections caps client connections over all databases,
	// between 1 and 1000000. Default 10000.
	MaxClientConnections int
	// Profile is the environment profile applied to every pool, or "" for
	// none.
	Profile string
	Log     Log
	TLS     TLS
	Auth    Auth
	Admin   Admin
	// Databases are the backends, in file order. There is at least one.
	Databases []*Database
	// Services are the named client groups, in file order. May be empty.
	Services []*Service
	Scaling  Scaling
	// Origins says where each top-level setting came from, by dotted name
	// ("listen", "log.level", "tls.mode", ...).
	Origins map[string]Origin
	// Warnings are problems that do not make the configuration invalid.
	Warnings []*Problem
}

// User looks up a user of auth.users by name; it returns nil when there is none.
func (c *Config) User(name string) *User {
	for i := range c.Auth.Users {
		if c.Auth.Users[i].Name == name {
			return &c.Auth.Users[i]
		}
	}
	return nil
}

// Database looks up a database by name; it returns nil when there is none.
func (c *Config) Database(name string) *Database {
	for _, d := range c.Databases {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Service looks up a service by name; it returns nil when there is none.
func (c *Config) Service(name string) *Service {
	for _, s := range c.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Log configures the daemon's logs.
type Log struct {
	// Level is the least severe level logged. Default info.
	Level slog.Level
	// Format is "text" (default) or "json".
	Format string
}

// TLSMode is whether clients may or must use TLS to reach motorpool.
type TLSMode string

// The client TLS modes.
const (
	TLSDisable TLSMode = "disable" // refuse TLS (the default)
	TLSAllow   TLSMode = "allow"   // TLS when the client asks for it
	TLSRequire TLSMode = "require" // refuse clients without TLS
)

// TLS configures client-facing TLS. Cert and Key are paths to PEM files;
// both are set when Mode is allow or require, and both or neither are set.
type TLS struct {
	Mode TLSMode
	Cert string
	Key  string
}

// AuthType is how clients authenticate to motorpool.
type AuthType string

// The client authentication methods.
const (
	AuthSCRAM AuthType = "scram-sha-256" // the default
	AuthMD5   AuthType = "md5"
	// AuthTrust lets every client in without a password. It is never a
	// default: it must be written in the file.
	AuthTrust AuthType = "trust"
)

// Auth configures client authentication.
type Auth struct {
	// Type is the method. Default scram-sha-256.
	Type AuthType
	// Users are the clients motorpool knows, in file order.
	Users []User
	// Query looks up users it does not know in the database, like
	// PgBouncer's auth_query; nil when not configured.
	Query *AuthQuery
}

// User is a client login.
type User struct {
	Name string
	// Password is a cleartext password, a SCRAM-SHA-256 verifier
	// ("SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server key>") or an
	// MD5 hash ("md5" + 32 hex digits). See PasswordKind.
	Password Secret
}

// PasswordKind classifies a stored password.
type PasswordKind uint8

// The kinds of stored password.
const (
	PasswordCleartext PasswordKind = iota
	PasswordSCRAM
	PasswordMD5
)

// AuthQuery is a lookup of unknown users' password hashes in the database,
// run as User on the client's database.
type AuthQuery struct {
	User     string
	Password Secret
	// Query takes the user name as $1 and returns (usename, passwd); a NULL
	// or empty passwd, or no row, refuses the user. Default DefaultAuthQuery.
	Query string
}

// Admin configures the admin console and HTTP API.
type Admin struct {
	// Listen is the host:port of the admin HTTP API. Default 127.0.0.1:8080.
	// Changing it needs a restart.
	Listen string
	// Users are the auth users allowed on the admin console.
	Users []string
	// StatsUsers may log in to the admin console too, and run its SHOW commands
	// only (PgBouncer's stats_users): for monitoring agents and exporters.
	StatsUsers []string
	// Token is the bearer token of the HTTP API; "" means no token is
	// needed (warned about when Listen is not a loopback address).
	Token Secret
	// AllowedHosts are the host names, besides IP literals and localhost, that
	// the Host header of an HTTP request may name (any port, any case), against
	// DNS rebinding; other requests are refused. "*.example.com" allows every
	// name under example.com, not example.com itself. Empty (the default) checks
	// Host only when Listen is a loopback address (see Loopback): beyond
	// loopback, the API is reached by names motorpool cannot guess, so Host is
	// checked only when AllowedHosts is set. A reload applies it live.
	AllowedHosts []string
}

// Loopback reports whether Listen is a loopback address: localhost, an
// address of 127.0.0.0/8 or ::1.
func (a Admin) Loopback() bool {
	host, _, err := net.SplitHostPort(a.Listen)
	return err == nil && isLoopback(host)
}

// Secret is a password or token. It prints as "xxxxx" (or "" when empty)
// so that logging a configuration never shows it; convert it with string()
// to use it.
type Secret string

// String returns "xxxxx", or "" for the empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "xxxxx"
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Database is one backend and its own pool, which serves the clients no
// service matches.
type Database struct {
	// Name is the database name clients put in their connection string.
	Name string
	// URL is where the backend is. DBName defaults to Name; SSLMode is
	// resolved.
	URL URL
	// Preset is the provider preset applied, or "".
	Preset string
	// Budget is the number of server connections the backend may receive
	// in total, over this pool, its services' pools and its per-user pools:
	// the proxy shares it between them by Priority (see package budget). 0
	// is not set: the pools are capped by their ConnectionLimit only.
	Budget int
	// Pool holds the resolved settings of the database's own pool.
	Pool Pool
	// Session holds the settings sent to the server on each new server
	// connection; see Preset.Session. For PostgreSQL a statement timeout
	// appears here as statement_timeout in milliseconds.
	Session map[string]string
	// ResetQuery cleans a server connection before another client gets it.
	// Default DISCARD ALL for PostgreSQL, "" (protocol-level reset) otherwise.
	ResetQuery string
	// ServerCleartextPassword allows sending the server password in
	// cleartext when the connection has no TLS. Default false.
	ServerCleartextPassword bool
	// Origins says where each setting came from: pool settings by name,
	// session settings as "session.NAME", and "sslmode", "reset_query".
	Origins map[string]Origin
	// Pos is where the database is declared.
	Pos Pos
}

// Match says which clients belong to a service. A client matches when every
// field that is set matches; at least one is set. Patterns use path.Match
// syntax ("gateway*").
type Match struct {
	User            string
	ApplicationName string
}

// Service is a named group of clients of one database with its own pool,
// sharing the database's budget by priority.
type Service struct {
	Name string
	// Database is the name of the database the service's clients use.
	Database string
	Match    Match
	// Type is the service type applied, or "".
	Type string
	// Pool holds the service's resolved pool settings.
	Pool Pool
	// Session is the database's session settings with the service's own
	// applied on top.
	Session map[string]string
	// Origins is as Database.Origins.
	Origins map[string]Origin
	// Pos is where the service is declared.
	Pos Pos
}

// Trigger is the metric a scaling rule watches.
type Trigger string

// The scaling triggers, from the lesson's ScalingTrigger.
const (
	TriggerHighUtilization Trigger = "high_utilization" // mean active / the pool's maximum, 0..1
	TriggerLongWaitTimes   Trigger = "long_wait_times"  // mean acquire wait
	TriggerQueueBuildup    Trigger = "queue_buildup"    // mean clients waiting
	TriggerErrorSpike      Trigger = "error_spike"      // failed acquires / acquires, 0..1
)

// ScalingAction is what a scaling rule does when it fires.
type ScalingAction string

// The scaling actions, from the lesson's ScalingAction.
const (
	ScaleUp       ScalingAction = "scale_up"
	ScaleDown     ScalingAction = "scale_down"
	ScaleToTarget ScalingAction = "scale_to_target"
)

// Scaling holds the reactive scaling rules and predictive scaling switch,
// which the proxy applies to every pool once a second, over the last 10
// seconds (see package scale). With no rules and predictive scaling off,
// pools keep their configured size.
type Scaling struct {
	Rules      []ScalingRule
	Predictive Predictive
}

// ScalingRule changes a pool's maximum when a metric crosses a threshold.
// The maximum starts at ConnectionLimit and rules move it between
// max(MinConnections, 1) and ConnectionLimit. When several rules fire at
// once, the first that grows the pool wins, else the first that shrinks it.
type ScalingRule struct {
	Trigger Trigger
	// Below is true when the rule fires under the threshold (written
	// "below:"), false when it fires above it (written "threshold:").
	Below bool
	// Threshold is the trigger's threshold: a ratio for high_utilization
	// and error_spike, a number of waiting clients for queue_buildup and
	// seconds for long_wait_times.
	Threshold float64
	Action    ScalingAction
	// Step is how many connections scale_up adds or scale_down removes.
	Step int
	// Target is the size scale_to_target sets.
	Target int
	// Cooldown is the least time between two firings. Default 60s.
	Cooldown time.Duration
}

// Predictive configures the hour-of-week load forecaster. When Enabled, each
// pool learns its peak demand (active plus waiting) for every hour of the
// week, in memory, and keeps the peak predicted for the coming hour open: its
// minimum (and its maximum, if rules shrank it below) is raised to it, within
// MinConnections and ConnectionLimit.
type Predictive struct {
	Enabled bool
}
