package config

import (
	"maps"
	"time"
)

// Preset is a named set of pool settings and provider session settings
// tuned for one provider and workload. A preset only applies to URLs of its
// Provider.
//
// Session holds settings sent to the server on each connection, by name:
// PostgreSQL GUCs (values in milliseconds where the GUC takes a time),
// MySQL system variables, or MongoDB connection-string options (write
// concern, read preference, ...). A preset's statement timeout is in Pool;
// Load copies it into the database's Session for PostgreSQL.
type Preset struct {
	Name        string
	Provider    Provider
	Description string
	Pool        Overrides
	Session     map[string]string
}

// The lesson's base configurations, which every preset of a provider
// starts from. application_name is "motorpool" where the lesson has
// "PrismaApp"; a client's own application_name still wins. The lesson's
// time zone "UTC" is written "+00:00", which works without MySQL's time zone
// tables. Driver-side options of the lesson (binaryResults, keepAlive,
// reconnect, readTimeout, queryCache, multipleStatements) have no pooler
// equivalent and are left out.
var (
	postgresBase = Preset{
		Provider: ProviderPostgres,
		Pool: Overrides{
			MinConnections:     some(2),
			ConnectionLimit:    some(20),
			PoolTimeout:        some(30 * time.Second),
			IdleTimeout:        some(600 * time.Second),
			ValidationTimeout:  some(5 * time.Second),
			StatementTimeout:   some(45 * time.Second),
			PreparedStatements: some(true),
		},
		Session: map[string]string{
			"application_name":                    "motorpool",
			"idle_in_transaction_session_timeout": "60000",
			"lock_timeout":                        "10000",
		},
	}
	mysqlBase = Preset{
		Provider: ProviderMySQL,
		Pool: Overrides{
			MinConnections:  some(5),
			ConnectionLimit: some(30),
			PoolTimeout:     some(30 * time.Second),
			IdleTimeout:     some(600 * time.Second),
		},
		Session: map[string]string{
			"charset":   "utf8mb4",
			"time_zone": "+00:00",
		},
	}
	mongoBase = Preset{
		Provider: ProviderMongoDB,
		Pool: Overrides{
			MinConnections:  some(3),
			ConnectionLimit: some(20),
			MaxConnecting:   some(2),
			PoolTimeout:     some(30 * time.Second),
			IdleTimeout:     some(600 * time.Second),
		},
		Session: map[string]string{
			"heartbeatFrequencyMS":     "10000",
			"serverSelectionTimeoutMS": "30000",
			"w":                        "majority",
			"wtimeoutMS":               "5000",
			"journal":                  "true",
		},
	}
)

var presets = []Preset{
	derive(postgresBase, "postgres-base", "the lesson's PostgreSQL base configuration", nil, nil),
	derive(postgresBase, "postgres-web", "web traffic: more connections, shorter waits and statements",
		func(o *Overrides) {
			o.ConnectionLimit = some(25)
			o.PoolTimeout = some(20 * time.Second)
			o.StatementTimeout = some(30 * time.Second)
		}, nil),
	derive(postgresBase, "postgres-analytics", "analytics: few connections, long statements and transactions",
		func(o *Overrides) {
			o.ConnectionLimit = some(10)
			o.PoolTimeout = some(60 * time.Second)
			o.StatementTimeout = some(300 * time.Second)
		}, map[string]string{"idle_in_transaction_session_timeout": "300000"}),
	derive(postgresBase, "postgres-api", "APIs: many connections, short waits, statements and idle time",
		func(o *Overrides) {
			o.ConnectionLimit = some(40)
			o.PoolTimeout = some(15 * time.Second)
			o.StatementTimeout = some(15 * time.Second)
			o.IdleTimeout = some(300 * time.Second)
		}, nil),
	derive(mysqlBase, "mysql-base", "the lesson's MySQL base configuration", nil, nil),
	derive(mysqlBase, "mysql-read-heavy", "read-heavy: a large pool",
		func(o *Overrides) { o.ConnectionLimit = some(50) }, nil),
	derive(mysqlBase, "mysql-write-heavy", "write-heavy: a smaller pool, READ COMMITTED",
		func(o *Overrides) { o.ConnectionLimit = some(20) },
		map[string]string{"transaction_isolation": "READ-COMMITTED"}),
	derive(mysqlBase, "mysql-mixed", "mixed reads and writes, autocommit on",
		func(o *Overrides) { o.ConnectionLimit = some(35) },
		map[string]string{"autocommit": "true"}),
	derive(mongoBase, "mongodb-standalone", "a single MongoDB server: majority, journaled writes", nil, nil),
	derive(mongoBase, "mongodb-replica-set", "a replica set: reads from secondaries, retryable reads and writes",
		func(o *Overrides) { o.ConnectionLimit = some(30) },
		map[string]string{
			"readPreference":   "secondaryPreferred",
			"readConcernLevel": "majority",
			"retryReads":       "true",
			"retryWrites":      "true",
		}),
}

// derive returns a preset built from base, with pool changes and extra
// session settings.
func derive(base Preset, name, desc string, pool func(*Overrides), session map[string]string) Preset {
	p := base
	p.Name, p.Description = name, desc
	if pool != nil {
		pool(&p.Pool)
	}
	p.Session = maps.Clone(base.Session)
	maps.Copy(p.Session, session)
	return p
}

// Presets returns the built-in provider presets in documented order.
// The returned presets share no memory with the built-in table.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		p.Session = maps.Clone(p.Session)
		out[i] = p
	}
	return out
}

// LookupPreset returns the built-in preset with the given name.
func LookupPreset(name string) (Preset, bool) {
	for _, p := range presets {
		if p.Name == name {
			p.Session = maps.Clone(p.Session)
			return p, true
		}
	}
	return Preset{}, false
}

func presetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}
