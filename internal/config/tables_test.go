package config

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProfiles resolves each profile on a bare database and checks the
// lesson's values and their origins.
func TestProfiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile string
		limit   int
		acquire time.Duration
		connect time.Duration
		stmt    time.Duration
		idle    time.Duration
		life    time.Duration
	}{
		{"development", 5, 10 * time.Second, 5 * time.Second, 0, 600 * time.Second, 3600 * time.Second},
		{"testing", 3, 5 * time.Second, 3 * time.Second, 10 * time.Second, 600 * time.Second, 3600 * time.Second},
		{"production-web", 20, 30 * time.Second, 10 * time.Second, 45 * time.Second, 600 * time.Second, 3600 * time.Second},
		{"high-traffic", 50, 20 * time.Second, 5 * time.Second, 30 * time.Second, 300 * time.Second, 1800 * time.Second},
		{"background-jobs", 10, 60 * time.Second, 15 * time.Second, 300 * time.Second, 1800 * time.Second, 7200 * time.Second},
	}
	require.Len(t, Profiles(), len(tests), "every profile is tested")
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			cfg := mustParse(t, "profile: "+tt.profile+"\ndatabases:\n  db: { url: postgresql://h/db }\n")
			db := cfg.Databases[0]
			p := db.Pool
			assert.Equal(t, tt.limit, p.ConnectionLimit)
			assert.Equal(t, tt.acquire, p.PoolTimeout)
			assert.Equal(t, tt.connect, p.ConnectTimeout)
			assert.Equal(t, tt.stmt, p.StatementTimeout)
			assert.Equal(t, tt.idle, p.IdleTimeout)
			assert.Equal(t, tt.life, p.MaxLifetime)
			assert.True(t, p.PreparedStatements)
			assert.Equal(t, "profile "+tt.profile, db.Origins["connection_limit"].String())
			if tt.stmt > 0 {
				assert.Equal(t, formatMillis(tt.stmt), db.Session["statement_timeout"])
				assert.Equal(t, "profile "+tt.profile, db.Origins["session.statement_timeout"].String())
			} else {
				assert.NotContains(t, db.Session, "statement_timeout")
			}
		})
	}
}

func formatMillis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// TestPresets resolves each preset on a database of its provider.
func TestPresets(t *testing.T) {
	t.Parallel()
	pg := map[string]string{"application_name": "motorpool", "idle_in_transaction_session_timeout": "60000", "lock_timeout": "10000"}
	with := func(base map[string]string, extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	my := map[string]string{"charset": "utf8mb4", "time_zone": "+00:00"}
	mongo := map[string]string{"heartbeatFrequencyMS": "10000", "serverSelectionTimeoutMS": "30000", "w": "majority", "wtimeoutMS": "5000", "journal": "true"}
	tests := []struct {
		preset  string
		url     string
		min     int
		max     int
		acquire time.Duration
		idle    time.Duration
		stmt    time.Duration
		session map[string]string
	}{
		{"postgres-base", "postgresql://h/db", 2, 20, 30 * time.Second, 600 * time.Second, 45 * time.Second, with(pg, map[string]string{"statement_timeout": "45000"})},
		{"postgres-web", "postgresql://h/db", 2, 25, 20 * time.Second, 600 * time.Second, 30 * time.Second, with(pg, map[string]string{"statement_timeout": "30000"})},
		{"postgres-analytics", "postgresql://h/db", 2, 10, 60 * time.Second, 600 * time.Second, 300 * time.Second,
			with(pg, map[string]string{"statement_timeout": "300000", "idle_in_transaction_session_timeout": "300000"})},
		{"postgres-api", "postgresql://h/db", 2, 40, 15 * time.Second, 300 * time.Second, 15 * time.Second, with(pg, map[string]string{"statement_timeout": "15000"})},
		{"mysql-base", "mysql://h/db", 5, 30, 30 * time.Second, 600 * time.Second, 0, my},
		{"mysql-read-heavy", "mysql://h/db", 5, 50, 30 * time.Second, 600 * time.Second, 0, my},
		{"mysql-write-heavy", "mysql://h/db", 5, 20, 30 * time.Second, 600 * time.Second, 0, with(my, map[string]string{"transaction_isolation": "READ-COMMITTED"})},
		{"mysql-mixed", "mysql://h/db", 5, 35, 30 * time.Second, 600 * time.Second, 0, with(my, map[string]string{"autocommit": "true"})},
		{"mongodb-standalone", "mongodb://h/db", 3, 20, 30 * time.Second, 600 * time.Second, 0, mongo},
		{"mongodb-replica-set", "mongodb://h1,h2,h3/db?replicaSet=rs0", 3, 30, 30 * time.Second, 600 * time.Second, 0,
			with(mongo, map[string]string{"readPreference": "secondaryPreferred", "readConcernLevel": "majority", "retryReads": "true", "retryWrites": "true"})},
	}
	require.Len(t, Presets(), len(tests), "every preset is tested")
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			t.Parallel()
			cfg := mustParse(t, "databases:\n  db: { url: \""+tt.url+"\", preset: "+tt.preset+" }\n")
			db := cfg.Databases[0]
			assert.Equal(t, tt.min, db.Pool.MinConnections)
			assert.Equal(t, tt.max, db.Pool.ConnectionLimit)
			assert.Equal(t, tt.acquire, db.Pool.PoolTimeout)
			assert.Equal(t, tt.idle, db.Pool.IdleTimeout)
			assert.Equal(t, tt.stmt, db.Pool.StatementTimeout)
			assert.Equal(t, tt.session, db.Session)
			assert.Equal(t, "preset "+tt.preset, db.Origins["connection_limit"].String())
			for k := range tt.session {
				assert.Equal(t, "preset "+tt.preset, db.Origins["session."+k].String(), k)
			}
		})
	}
}

func TestPresetTablesAreCopies(t *testing.T) {
	t.Parallel()
	p, ok := LookupPreset("postgres-web")
	require.True(t, ok)
	p.Session["lock_timeout"] = "1"
	again, _ := LookupPreset("postgres-web")
	assert.Equal(t, "10000", again.Session["lock_timeout"])
}

// TestServiceTypes resolves each service type on a bare database.
func TestServiceTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ      string
		size     int
		acquire  time.Duration
		idle     time.Duration
		priority Priority
		pattern  ConnectionPattern
	}{
		{"api_gateway", 30, 10 * time.Second, 300 * time.Second, PriorityHigh, PatternBurst},
		{"user_service", 15, 15 * time.Second, 600 * time.Second, PriorityMedium, PatternSteady},
		{"notification_service", 5, 30 * time.Second, 900 * time.Second, PriorityLow, PatternBatch},
		{"analytics_service", 8, 60 * time.Second, 1800 * time.Second, PriorityLow, PatternLongRunning},
		{"payment_service", 10, 5 * time.Second, 600 * time.Second, PriorityHigh, PatternSteady},
		{"order_service", 20, 10 * time.Second, 300 * time.Second, PriorityMedium, PatternBurst},
	}
	require.Len(t, ServiceTypes(), len(tests), "every service type is tested")
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			cfg := mustParse(t, "databases:\n  db: { url: postgresql://h/db }\nservices:\n  s: { match: { user: u }, type: "+tt.typ+" }\n")
			s := cfg.Services[0]
			assert.Equal(t, "db", s.Database, "the only database is the default")
			assert.Equal(t, tt.size, s.Pool.ConnectionLimit)
			assert.Equal(t, tt.acquire, s.Pool.PoolTimeout)
			assert.Equal(t, tt.idle, s.Pool.IdleTimeout)
			assert.Equal(t, tt.priority, s.Pool.Priority)
			assert.Equal(t, tt.pattern, s.Pool.Pattern)
			for _, k := range []string{"connection_limit", "pool_timeout", "idle_timeout", "priority", "connection_pattern"} {
				assert.Equal(t, "service type "+tt.typ, s.Origins[k].String(), k)
			}
			assert.Equal(t, "default", s.Origins["max_lifetime"].String())
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, "databases:\n  db: { url: postgresql://h/db }\n")
	db := cfg.Databases[0]
	assert.Equal(t, Defaults(), db.Pool)
	for _, s := range Settings() {
		assert.Equal(t, "default", db.Origins[string(s)].String(), s)
	}
	assert.Equal(t, DefaultListen, cfg.Listen)
	assert.Equal(t, DefaultAdminListen, cfg.Admin.Listen)
	assert.Equal(t, DefaultMaxClientConnections, cfg.MaxClientConnections)
	assert.Equal(t, AuthSCRAM, cfg.Auth.Type)
	assert.Equal(t, TLSDisable, cfg.TLS.Mode)
	assert.Equal(t, "text", cfg.Log.Format)
	assert.Equal(t, "db", db.URL.DBName)
	assert.Equal(t, SSLPrefer, db.URL.SSLMode)
	assert.Equal(t, DefaultResetQuery, db.ResetQuery)
	assert.Empty(t, db.Session)
	assert.Equal(t, ModeTransaction, db.Pool.Mode)
	assert.Equal(t, 20, db.Pool.ConnectionLimit)
}

func TestProviderDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url   string
		ssl   SSLMode
		reset string
	}{
		{"postgresql://h/db", SSLPrefer, "DISCARD ALL"},
		{"mysql://h/db", SSLPrefer, ""},
		{"mongodb://h/db", SSLDisable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			db := mustParse(t, "databases:\n  db: { url: \""+tt.url+"\" }\n").Databases[0]
			assert.Equal(t, tt.ssl, db.URL.SSLMode)
			assert.Equal(t, tt.reset, db.ResetQuery)
		})
	}
}
