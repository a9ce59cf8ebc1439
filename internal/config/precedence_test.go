package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPrecedence stacks the layers of a service's pool one by one on
// connection_limit and checks that each one wins over the ones before it:
// default < profile < preset < URL < database fields < service type < service
// fields.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		yaml   string
		want   int
		origin string
	}{
		{"default", `
			databases:
			  db: { url: "postgresql://h/db" }
			services:
			  s: { match: { user: u } }`, 20, "default"},
		{"profile over default", `
			profile: development
			databases:
			  db: { url: "postgresql://h/db" }
			services:
			  s: { match: { user: u } }`, 5, "profile development"},
		{"preset over profile", `
			profile: development
			databases:
			  db: { url: "postgresql://h/db", preset: postgres-web }
			services:
			  s: { match: { user: u } }`, 25, "preset postgres-web"},
		{"url over preset", `
			profile: development
			databases:
			  db: { url: "postgresql://h/db?connection_limit=40", preset: postgres-web }
			services:
			  s: { match: { user: u } }`, 40, "url"},
		{"database field over url", `
			profile: development
			databases:
			  db: { url: "postgresql://h/db?connection_limit=40", preset: postgres-web, connection_limit: 50 }
			services:
			  s: { match: { user: u } }`, 50, "test.yaml:3:95"},
		{"service type over the database's fields", `
			profile: development
			databases:
			  db: { url: "postgresql://h/db?connection_limit=40", preset: postgres-web, connection_limit: 50 }
			services:
			  s: { match: { user: u }, type: api_gateway }`, 30, "service type api_gateway"},
		{"service field over service type", `
			profile: development
			databases:
			  db: { url: "postgresql://h/db?connection_limit=40", preset: postgres-web, connection_limit: 50 }
			services:
			  s: { match: { user: u }, type: api_gateway, connection_limit: 60 }`, 60, "test.yaml:5:65"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustParse(t, tt.yaml)
			s := cfg.Services[0]
			assert.Equal(t, tt.want, s.Pool.ConnectionLimit)
			assert.Equal(t, tt.origin, s.Origins["connection_limit"].String())
		})
	}
}

// TestDatabasePoolHasNoServiceType checks that a service type changes only
// its service's pool, not the database's own.
func TestDatabasePoolHasNoServiceType(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
		databases:
		  db: { url: "postgresql://h/db", preset: postgres-web }
		services:
		  s: { match: { user: u }, type: api_gateway }`)
	assert.Equal(t, 25, cfg.Databases[0].Pool.ConnectionLimit)
	assert.Equal(t, 30, cfg.Services[0].Pool.ConnectionLimit)
}

// TestEveryYAMLField writes every pool setting on a database and checks
// each wins with its file position as origin.
func TestEveryYAMLField(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
		profile: high-traffic
		databases:
		  db:
		    url: "postgresql://h/db?connection_limit=40&pool_timeout=20&statement_timeout=1000"
		    preset: postgres-api
		    pool_mode: session
		    min_connections: 1
		    connection_limit: 7
		    max_connecting: 3
		    pool_timeout: 1500ms
		    connect_timeout: 2s
		    idle_timeout: 1m
		    max_lifetime: 10m
		    validation_timeout: 250ms
		    statement_timeout: 2m
		    prepared_statements: false
		    priority: high
		    connection_pattern: batch
		    session: { lock_timeout: 3s, search_path: app }`)
	db := cfg.Databases[0]
	want := map[Setting]string{
		SettingPoolMode: "session", SettingMinConnections: "1", SettingConnectionLimit: "7", SettingMaxConnecting: "3",
		SettingPoolTimeout: "1.5s", SettingConnectTimeout: "2s", SettingIdleTimeout: "1m", SettingMaxLifetime: "10m",
		SettingValidationTimeout: "250ms", SettingStatementTimeout: "2m", SettingPreparedStatements: "false",
		SettingPriority: "high", SettingConnectionPattern: "batch",
	}
	assert.Len(t, want, len(Settings()), "every setting is written")
	for line, s := range Settings() {
		assert.Equal(t, want[s], db.Pool.Format(s), s)
		assert.Equal(t, FromFile, db.Origins[string(s)].Kind, s)
		assert.Equal(t, line+6, db.Origins[string(s)].Pos.Line, s)
	}
	assert.Equal(t, "3000", db.Session["lock_timeout"], "a duration is converted to milliseconds")
	assert.Equal(t, "app", db.Session["search_path"])
	assert.Equal(t, "120000", db.Session["statement_timeout"])
	assert.Equal(t, "test.yaml:15:24", db.Origins["session.statement_timeout"].String())
}

func TestSessionLayers(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
		databases:
		  db:
		    url: "postgresql://h/db?application_name=web&lock_timeout=5000"
		    preset: postgres-web
		    session: { lock_timeout: 7000 }
		services:
		  s: { match: { user: u }, session: { application_name: svc }, statement_timeout: 1s }`)
	db, s := cfg.Databases[0], cfg.Services[0]
	assert.Equal(t, "web", db.Session["application_name"])
	assert.Equal(t, "url", db.Origins["session.application_name"].String())
	assert.Equal(t, "7000", db.Session["lock_timeout"])
	assert.Equal(t, "test.yaml:5:30", db.Origins["session.lock_timeout"].String())
	assert.Equal(t, "60000", db.Session["idle_in_transaction_session_timeout"])
	assert.Equal(t, "preset postgres-web", db.Origins["session.idle_in_transaction_session_timeout"].String())
	assert.Equal(t, "svc", s.Session["application_name"])
	assert.Equal(t, "7000", s.Session["lock_timeout"], "a service inherits its database's session")
	assert.Equal(t, "1000", s.Session["statement_timeout"])
	assert.Equal(t, "30000", db.Session["statement_timeout"], "the database keeps its own")
}

func TestMySQLStatementTimeoutStaysInPool(t *testing.T) {
	t.Parallel()
	db := mustParse(t, "databases:\n  db: { url: \"mysql://h/db?statement_timeout=5000\" }\n").Databases[0]
	assert.Equal(t, "5s", db.Pool.Format(SettingStatementTimeout))
	assert.NotContains(t, db.Session, "statement_timeout")
}

// TestSubMillisecondTimeoutsAreNotDisabled: PostgreSQL takes these settings in
// whole milliseconds, where 0 disables them, so a timeout under 1ms is sent
// rounded up rather than down to "none".
func TestSubMillisecondTimeoutsAreNotDisabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, db, key, want string
	}{
		{"statement_timeout in the URL", `{ url: "postgresql://h/db?statement_timeout=0.5" }`, "statement_timeout", "1"},
		{"statement_timeout in YAML", `{ url: "postgresql://h/db", statement_timeout: 500us }`, "statement_timeout", "1"},
		{"fraction rounds up", `{ url: "postgresql://h/db", statement_timeout: 1500us }`, "statement_timeout", "2"},
		{"lock_timeout in YAML", `{ url: "postgresql://h/db", session: { lock_timeout: 500us } }`, "lock_timeout", "1"},
		{"mongodb wtimeoutMS in YAML", `{ url: "mongodb://h/db", session: { wtimeoutMS: 1ns } }`, "wtimeoutMS", "1"},
		{"zero stays zero", `{ url: "postgresql://h/db", session: { lock_timeout: 0s } }`, "lock_timeout", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := mustParse(t, "databases:\n  db: "+tt.db+"\n").Databases[0]
			assert.Equal(t, tt.want, db.Session[tt.key])
		})
	}
}
