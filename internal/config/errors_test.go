package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const okDB = "databases:\n  db: { url: \"postgresql://h/db\" }\n"

// TestErrors checks the exact message, position and path of each kind of
// configuration error.
func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"connection_limit=0 in url", `
			databases:
			  shop:
			    url: postgresql://app@127.0.0.1:5432/shop?connection_limit=0`, nil,
			[]string{"test.yaml:3:10: databases.shop.url: connection_limit must be between 1 and 10000, got 0"}},
		{"typo in url parameter", `
			databases:
			  shop:
			    url: postgresql://app@h/shop?conection_limit=5`, nil,
			[]string{`test.yaml:3:10: databases.shop.url: unknown parameter "conection_limit" for postgres (did you mean connection_limit?)`}},
		{"typo in database key", `
			databases:
			  shop:
			    url: postgresql://app@h/shop
			    conection_limit: 5`, nil,
			[]string{`test.yaml:4:5: databases.shop: unknown key "conection_limit" (did you mean connection_limit?)`}},
		{"typo in top-level key", "profle: development\n" + okDB, nil,
			[]string{`test.yaml:1:1: unknown key "profle" (did you mean profile?)`}},
		{"unknown key without suggestion", "frobnicate: 1\n" + okDB, nil,
			[]string{`test.yaml:1:1: unknown key "frobnicate"`}},
		{"typo in service key", okDB + "services:\n  s: { match: { user: u }, typ: api_gateway }\n", nil,
			[]string{`test.yaml:4:28: services.s: unknown key "typ" (did you mean type?)`}},
		{"typo in match key", okDB + "services:\n  s: { match: { usr: u } }\n", nil,
			[]string{`test.yaml:4:17: services.s.match: unknown key "usr" (did you mean user?)`}},
		{"connection_limit 0 in yaml", "databases:\n  db: { url: \"postgresql://h/db\", connection_limit: 0 }\n", nil,
			[]string{"test.yaml:2:53: databases.db.connection_limit: connection_limit must be between 1 and 10000, got 0"}},
		{"a database named like another's per-user pool", `
			databases:
			  postgres: { url: "postgresql://h/postgres" }
			  postgres.postgres: { url: "postgresql://u@h/other" }`, nil,
			[]string{`test.yaml:3:3: databases.postgres.postgres: the name is taken by a pool of database postgres, whose URL names no user (named postgres.USER); rename one of them`}},
		{"a database named like a service's pool", `
			databases:
			  shop: { url: "postgresql://u@h/shop" }
			  "shop/api": { url: "postgresql://u@h/other" }
			services:
			  api: { database: shop, match: { user: api } }`, nil,
			[]string{`test.yaml:3:3: databases.shop/api: the name is taken by a pool of service api (named shop/api); rename one of them`}},
		{"no databases", "listen: 127.0.0.1:6432\n", nil,
			[]string{"test.yaml:1:1: databases: at least one database is required"}},
		{"empty file", "", nil, []string{"test.yaml: databases: at least one database is required"}},
		{"missing url", "databases:\n  db: { preset: postgres-web }\n", nil,
			[]string{"test.yaml:2:3: databases.db: url is required"}},
		{"yaml syntax", "databases:\n  db: [\n", nil,
			[]string{"test.yaml:2: did not find expected node content"}},
		{"two documents", okDB + "---\nlisten: x\n", nil,
			[]string{"test.yaml:3: more than one YAML document (---); put everything in one"}},
		{"tab indentation", "databases:\n\tdb: {}\n", nil,
			[]string{"test.yaml:2: found character that cannot start any token"}},
		{"duplicate key", "databases:\n  db: { url: \"postgresql://h/a\" }\n  db: { url: \"postgresql://h/b\" }\n", nil,
			[]string{"test.yaml:3:3: databases.db: given twice"}},
		{"unknown profile", "profile: production\n" + okDB, nil,
			[]string{`test.yaml:1:10: profile: unknown profile "production": want one of development, testing, production-web, high-traffic or background-jobs (did you mean production-web?)`}},
		{"unknown preset", "databases:\n  db: { url: \"postgresql://h/db\", preset: postgres-wbe }\n", nil,
			[]string{`test.yaml:2:43: databases.db.preset: unknown preset "postgres-wbe": want one of postgres-base, postgres-web, postgres-analytics, postgres-api, mysql-base, mysql-read-heavy, mysql-write-heavy, mysql-mixed, mongodb-standalone or mongodb-replica-set (did you mean postgres-web?)`}},
		{"preset of another provider", "databases:\n  db: { url: \"mysql://h/db\", preset: postgres-web }\n", nil,
			[]string{"test.yaml:2:38: databases.db.preset: preset postgres-web is for postgres, but the url is mysql; use one of mysql-base, mysql-read-heavy, mysql-write-heavy or mysql-mixed"}},
		{"unknown service type", okDB + "services:\n  s: { match: { user: u }, type: api-gateway }\n", nil,
			[]string{`test.yaml:4:34: services.s.type: unknown service type "api-gateway": want one of api_gateway, user_service, notification_service, analytics_service, payment_service or order_service (did you mean api_gateway?)`}},
		{"unknown database of service", okDB + "services:\n  s: { database: dbb, match: { user: u } }\n", nil,
			[]string{`test.yaml:4:18: services.s.database: unknown database "dbb" (did you mean db?)`}},
		{"service without database among several", okDB + "  db2: { url: \"postgresql://h/db2\" }\nservices:\n  s: { match: { user: u } }\n", nil,
			[]string{"test.yaml:5:3: services.s: database is required when there is more than one database"}},
		{"service without match", okDB + "services:\n  s: { type: api_gateway }\n", nil,
			[]string{"test.yaml:4:3: services.s.match: match needs user or application_name (or both)"}},
		{"bad match pattern", okDB + "services:\n  s: { match: { user: \"[a\" } }\n", nil,
			[]string{`test.yaml:4:15: services.s.match.user: bad pattern "[a": syntax error in pattern`}},
		{"two services match the same clients", okDB + "services:\n  a: { match: { user: u } }\n  b: { match: { user: u } }\n", nil,
			[]string{"test.yaml:5:15: services.b.match: service a already matches the same clients"}},
		{"min above max, both written", "databases:\n  db: { url: \"postgresql://h/db?connection_limit=5\", min_connections: 6 }\n", nil,
			[]string{"test.yaml:2:71: databases.db.min_connections: min_connections (6, test.yaml:2:71) must not exceed connection_limit (5, url)"}},
		{"min above max from the url", "profile: testing\ndatabases:\n  db: { url: \"postgresql://h/db?min_connections=4\" }\n", nil,
			[]string{"test.yaml:3:14: databases.db.url: min_connections (4, url) must not exceed connection_limit (3, profile testing)"}},
		{"idle not below lifetime", "databases:\n  db: { url: \"postgresql://h/db?max_lifetime=60\", idle_timeout: 1m }\n", nil,
			[]string{"test.yaml:2:65: databases.db.idle_timeout: idle_timeout (1m, test.yaml:2:65) must be less than max_lifetime (1m, url); set idle_timeout: 0 to never close idle connections"}},
		{"pool_timeout 0 in yaml", "databases:\n  db: { url: \"postgresql://h/db\", pool_timeout: 0s }\n", nil,
			[]string{"test.yaml:2:49: databases.db.pool_timeout: pool_timeout must be between 1ms and 1h, got 0s"}},
		{"duration without unit", "databases:\n  db: { url: \"postgresql://h/db\", idle_timeout: 600 }\n", nil,
			[]string{`test.yaml:2:49: databases.db.idle_timeout: idle_timeout must be a duration with a unit, like "30s" or "500ms", got 600`}},
		{"bad duration", "databases:\n  db: { url: \"postgresql://h/db\", idle_timeout: soon }\n", nil,
			[]string{`test.yaml:2:49: databases.db.idle_timeout: idle_timeout must be a duration like "30s" or "10m", got "soon"`}},
		{"bad pool mode", "databases:\n  db: { url: \"postgresql://h/db\", pool_mode: sesion }\n", nil,
			[]string{`test.yaml:2:46: databases.db.pool_mode: pool_mode must be one of session, transaction, statement, got "sesion" (did you mean session?)`}},
		{"bad priority", okDB + "services:\n  s: { match: { user: u }, priority: urgent }\n", nil,
			[]string{`test.yaml:4:38: services.s.priority: priority must be one of low, medium, high, got "urgent"`}},
		{"budget below minimums", `
			databases:
			  db: { url: "postgresql://h/db", preset: postgres-web, budget: 5 }
			services:
			  a: { match: { user: a } }
			  b: { match: { user: b } }`, nil,
			[]string{"test.yaml:2:65: databases.db.budget: min_connections of the pools sharing the budget sum to 6 (db 2, a 2, b 2), above the budget of 5"}},
		{"statement_timeout under session", "databases:\n  db: { url: \"postgresql://h/db\", session: { statement_timeout: 5s } }\n", nil,
			[]string{"test.yaml:2:65: databases.db.session.statement_timeout: set statement_timeout as a setting of its own (statement_timeout: 30s), not under session"}},
		{"bad session value", "databases:\n  db: { url: \"mongodb://h/db\", session: { readPreference: secundary } }\n", nil,
			[]string{`test.yaml:2:59: databases.db.session.readPreference: readPreference must be one of primary, primaryPreferred, secondary, secondaryPreferred, nearest, got "secundary" (did you mean secondary?)`}},
		{"bad session name", "databases:\n  db: { url: \"postgresql://h/db\", session: { \"a b\": x } }\n", nil,
			[]string{`test.yaml:2:53: databases.db.session.a b: "a b" is not a valid setting name`}},
		{"unset variable", "databases:\n  db: { url: \"postgresql://app:${DB_PASSWORD}@h/db\" }\n", nil,
			[]string{"test.yaml:2:14: databases.db.url: environment variable DB_PASSWORD is not set (write ${DB_PASSWORD:-} to allow it to be empty)"}},
		{"bad listen", "listen: 6432\n" + okDB, nil,
			[]string{`test.yaml:1:9: listen: want HOST:PORT with a port between 0 and 65535, got "6432"`}},
		{"admin on the proxy address", "listen: 127.0.0.1:7000\nadmin: { listen: 127.0.0.1:7000 }\n" + okDB, nil,
			[]string{"test.yaml:2:18: admin.listen: the admin API cannot listen on the proxy's address 127.0.0.1:7000"}},
		{"bad log level", "log: { level: loud }\n" + okDB, nil,
			[]string{`test.yaml:1:15: log.level: want debug, info, warn or error, got "loud"`}},
		{"bad log format", "log: { format: xml }\n" + okDB, nil,
			[]string{`test.yaml:1:16: log.format: want text or json, got "xml"`}},
		{"tls require without cert", "tls: { mode: require }\n" + okDB, nil,
			[]string{"test.yaml:1:14: tls: mode require needs cert and key"}},
		{"tls cert without key", "tls: { mode: allow, cert: c.pem }\n" + okDB, nil,
			[]string{"test.yaml:1:14: tls: give both cert and key, or neither"}},
		{"server sslcert without sslkey", "databases:\n  db: { url: \"postgresql://h/db?sslmode=require&sslcert=c.pem\" }\n", nil,
			[]string{"test.yaml:2:14: databases.db.url: give both sslcert and sslkey, or neither"}},
		{"bad tls mode", "tls: { mode: on }\n" + okDB, nil,
			[]string{`test.yaml:1:14: tls.mode: want one of disable, allow or require, got "on"`}},
		{"bad auth type", "auth: { type: scram }\n" + okDB, nil,
			[]string{`test.yaml:1:15: auth.type: want one of scram-sha-256, md5 or trust, got "scram" (did you mean scram-sha-256?)`}},
		{"user without password", "auth: { users: { app: {} } }\n" + okDB, nil,
			[]string{"test.yaml:1:18: auth.users.app.password: a password is required with auth type scram-sha-256"}},
		{"md5 hash with scram", "auth: { users: { app: { password: md5" + "0123456789abcdef0123456789abcdef } } }\n" + okDB, nil,
			[]string{"test.yaml:1:18: auth.users.app.password: an MD5 hash cannot check SCRAM-SHA-256 authentication; give the cleartext password or a SCRAM verifier, or use auth type md5"}},
		{"scram verifier with md5", "auth: { type: md5, users: { app: { password: \"SCRAM-SHA-256$4096:c2FsdA==$c3Q=:c2U=\" } } }\n" + okDB, nil,
			[]string{"test.yaml:1:29: auth.users.app.password: a SCRAM-SHA-256 verifier cannot check MD5 authentication; give the cleartext password or an md5 hash, or use auth type scram-sha-256"}},
		{"malformed scram verifier", "auth: { users: { app: { password: \"SCRAM-SHA-256$x\" } } }\n" + okDB, nil,
			[]string{"test.yaml:1:18: auth.users.app.password: malformed SCRAM-SHA-256 verifier: want SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server key> in base64"}},
		{"auth query without user", "auth: { auth_query: { query: \"SELECT 1\" } }\n" + okDB, nil,
			[]string{
				"test.yaml:1:21: auth.auth_query.user: auth_query needs the user it runs as",
				"test.yaml:1:21: auth.auth_query.query: the query must take the user name as $1",
			}},
		{"scaling rule without action", okDB + "scaling: { rules: [ { trigger: high_utilization, threshold: 0.8 } ] }\n", nil,
			[]string{"test.yaml:3:21: scaling.rules[0]: action is required: one of scale_up, scale_down or scale_to_target"}},
		{"scaling ratio above 1", okDB + "scaling: { rules: [ { trigger: high_utilization, threshold: 80, action: scale_up, step: 5 } ] }\n", nil,
			[]string{"test.yaml:3:61: scaling.rules[0].threshold: high_utilization is a ratio between 0 and 1, got 80"}},
		{"scaling threshold and below", okDB + "scaling: { rules: [ { trigger: error_spike, threshold: 0.1, below: 0.2, action: scale_up, step: 1 } ] }\n", nil,
			[]string{"test.yaml:3:68: scaling.rules[0].below: give threshold (fires above) or below (fires under), not both"}},
		{"scaling unknown trigger", okDB + "scaling: { rules: [ { trigger: time_based, threshold: 1, action: scale_up, step: 1 } ] }\n", nil,
			[]string{`test.yaml:3:32: scaling.rules[0].trigger: trigger must be one of high_utilization, long_wait_times, queue_buildup, error_spike, got "time_based"`}},
		{"scaling wait without unit", okDB + "scaling: { rules: [ { trigger: long_wait_times, threshold: 1, action: scale_up, step: 1 } ] }\n", nil,
			[]string{`test.yaml:3:60: scaling.rules[0].threshold: threshold must be a duration with a unit, like "30s" or "500ms", got 1`}},
		{"scale up without step", okDB + "scaling: { rules: [ { trigger: queue_buildup, threshold: 3, action: scale_up } ] }\n", nil,
			[]string{"test.yaml:3:21: scaling.rules[0]: scale_up needs step"}},
		{"scale to target without target", okDB + "scaling: { rules: [ { trigger: queue_buildup, threshold: 3, action: scale_to_target } ] }\n", nil,
			[]string{"test.yaml:3:21: scaling.rules[0]: scale_to_target needs target"}},
		{"wrong kind", "databases: [ a, b ]\n", nil,
			[]string{"test.yaml:1:12: databases: want a mapping (key: value lines), got a list"}},
		{"merge keys", "base: &b { url: \"postgresql://h/db\" }\n", nil,
			[]string{`test.yaml:1:1: unknown key "base"`, "test.yaml:1:1: databases: at least one database is required"}},
	}
	tests = append(tests, []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"database as a bare url", "databases:\n  shop: postgresql://h/shop\n", nil,
			[]string{`test.yaml:2:9: databases.shop: want a mapping with the url, as in shop: { url: "postgresql://..." }, got a scalar`}},
		{"a database named like another's per-user pool", `
			databases:
			  postgres: { url: "postgresql://h/postgres" }
			  postgres.postgres: { url: "postgresql://u@h/other" }`, nil,
			[]string{`test.yaml:3:3: databases.postgres.postgres: the name is taken by a pool of database postgres, whose URL names no user (named postgres.USER); rename one of them`}},
		{"a database named like a service's pool", `
			databases:
			  shop: { url: "postgresql://u@h/shop" }
			  "shop/api": { url: "postgresql://u@h/other" }
			services:
			  api: { database: shop, match: { user: api } }`, nil,
			[]string{`test.yaml:3:3: databases.shop/api: the name is taken by a pool of service api (named shop/api); rename one of them`}},
		{"no databases", "listen: 127.0.0.1:6432\n", nil,
			[]string{"test.yaml:1:1: databases: at least one database is required"}},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, parseErrors(t, tt.yaml, tt.env))
		})
	}
}

// TestErrorsAreAllReported checks that one run reports every independent
// problem, in file order.
func TestErrorsAreAllReported(t *testing.T) {
	t.Parallel()
	got := parseErrors(t, `
		profile: nope
		databases:
		  a: { url: "postgresql://h/db?connection_limit=0" }
		  b: { url: "postgresql://h/db", pool_mode: never }`, nil)
	require.Len(t, got, 3)
	assert.Contains(t, got[0], "test.yaml:1:10: profile:")
	assert.Contains(t, got[1], "test.yaml:3:13: databases.a.url:")
	assert.Contains(t, got[2], "test.yaml:4:45: databases.b.pool_mode:")
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"PW": "hunter2-secret", "SLASHED_PW": "hunter2/secret"}
	for _, y := range []string{
		"databases:\n  db: { url: \"postgresql://app:${SLASHED_PW}@h/db\" }\n",
		"databases:\n  db: { url: \"postgresql://app:${PW}@h:x/db\" }\n",
		"databases:\n  db: { url: \"postgresql://app:${PW}@h/db?nope=1\" }\n",
		"auth: { type: md5, users: { app: { password: \"SCRAM-SHA-256$4096:c2FsdA==$c3Q=:c2U=\" } } }\n" + okDB,
	} {
		for _, e := range parseErrors(t, y, vars) {
			assert.NotContains(t, e, "hunter2")
			assert.NotContains(t, e, "c2FsdA")
		}
	}
}
