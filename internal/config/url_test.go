package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, u URL)
	}{
		{"postgresql", "postgresql://app:secret@db.example.com:6543/shop", func(t *testing.T, u URL) {
			assert.Equal(t, ProviderPostgres, u.Provider)
			assert.Equal(t, []HostPort{{"db.example.com", 6543}}, u.Hosts)
			assert.Equal(t, "app", u.User)
			assert.Equal(t, "secret", u.Password)
			assert.Equal(t, "shop", u.DBName)
		}},
		{"postgres scheme and default port", "postgres://app@localhost/shop", func(t *testing.T, u URL) {
			assert.Equal(t, ProviderPostgres, u.Provider)
			assert.Equal(t, []HostPort{{"localhost", 5432}}, u.Hosts)
			assert.Empty(t, u.Password)
		}},
		{"mysql default port", "mysql://root@127.0.0.1/orders", func(t *testing.T, u URL) {
			assert.Equal(t, ProviderMySQL, u.Provider)
			assert.Equal(t, 3306, u.Hosts[0].Port)
		}},
		{"mariadb scheme", "mariadb://root@127.0.0.1/orders", func(t *testing.T, u URL) {
			assert.Equal(t, ProviderMySQL, u.Provider)
		}},
		{"mongodb multi-host", "mongodb://u:p@h1:27017,h2,h3:27018/app?replicaSet=rs0", func(t *testing.T, u URL) {
			assert.Equal(t, ProviderMongoDB, u.Provider)
			assert.Equal(t, []HostPort{{"h1", 27017}, {"h2", 27017}, {"h3", 27018}}, u.Hosts)
			assert.Equal(t, "app", u.DBName)
			assert.Equal(t, "rs0", u.Options["replicaSet"])
		}},
		{"mongodb no path before query", "mongodb://h1,h2?replicaSet=rs0", func(t *testing.T, u URL) {
			assert.Len(t, u.Hosts, 2)
			assert.Empty(t, u.DBName)
		}},
		{"mongodb+srv", "mongodb+srv://u:p@cluster.example.com/app", func(t *testing.T, u URL) {
			assert.Equal(t, []HostPort{{"cluster.example.com", 0}}, u.Hosts)
		}},
		{"percent-escaped password", "postgresql://app:p%40ss%3Aw%2Frd%25@h/db", func(t *testing.T, u URL) {
			assert.Equal(t, "p@ss:w/rd%", u.Password)
		}},
		{"plus in password is literal", "postgresql://app:a+b@h/db", func(t *testing.T, u URL) {
			assert.Equal(t, "a+b", u.Password)
		}},
		{"at sign in password", "postgresql://app:p@ss@h/db", func(t *testing.T, u URL) {
			assert.Equal(t, "p@ss", u.Password)
			assert.Equal(t, "h", u.Hosts[0].Host)
		}},
		{"escaped user and database", "postgresql://my%20user@h/my%2Fdb", func(t *testing.T, u URL) {
			assert.Equal(t, "my user", u.User)
			assert.Equal(t, "my/db", u.DBName)
		}},
		{"IPv6", "postgresql://app@[::1]:5433/db", func(t *testing.T, u URL) {
			assert.Equal(t, []HostPort{{"::1", 5433}}, u.Hosts)
		}},
		{"IPv6 default port", "postgresql://app@[fe80::1]/db", func(t *testing.T, u URL) {
			assert.Equal(t, []HostPort{{"fe80::1", 5432}}, u.Hosts)
		}},
		{"unix socket", "postgresql://app@%2Fvar%2Frun%2Fpostgresql/db", func(t *testing.T, u URL) {
			assert.Equal(t, "/var/run/postgresql", u.Hosts[0].Host)
		}},
		{"scheme is case-insensitive", "PostgreSQL://h/db", func(t *testing.T, u URL) {
			assert.Equal(t, "postgresql", u.Scheme)
		}},
		{"params keep order", "postgresql://h/db?pool_timeout=5&connection_limit=7&", func(t *testing.T, u URL) {
			assert.Equal(t, []Param{{"pool_timeout", "5"}, {"connection_limit", "7"}}, u.Params)
		}},
		{"sslmode", "postgresql://h/db?sslmode=verify-full&sslrootcert=/ca.pem", func(t *testing.T, u URL) {
			assert.Equal(t, SSLVerifyFull, u.SSLMode)
			assert.Equal(t, "/ca.pem", u.Options["sslrootcert"])
		}},
		{"mongodb tls", "mongodb://h/?tls=true", func(t *testing.T, u URL) {
			assert.Equal(t, SSLVerifyFull, u.SSLMode)
		}},
		{"mongodb names ignore case", "mongodb://h/?MAXPOOLSIZE=9&readpreference=NEAREST", func(t *testing.T, u URL) {
			assert.Equal(t, some(9), u.Pool.ConnectionLimit)
			assert.Equal(t, "nearest", u.Session["readPreference"])
			assert.Equal(t, "maxPoolSize", u.Params[0].Name)
		}},
		{"query value escapes", "postgresql://h/db?application_name=my+app%21", func(t *testing.T, u URL) {
			assert.Equal(t, "my app!", u.Session["application_name"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := ParseURL(tt.in)
			require.NoError(t, err)
			tt.check(t, u)
		})
	}
}

// TestURLParameters covers every pool parameter of a URL in its unit.
func TestURLParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		param string
		value string
		want  Overrides
	}{
		{"connection_limit", "40", Overrides{ConnectionLimit: some(40)}},
		{"min_connections", "0", Overrides{MinConnections: some(0)}},
		{"max_connecting", "4", Overrides{MaxConnecting: some(4)}},
		{"pool_mode", "session", Overrides{Mode: some(ModeSession)}},
		{"pool_mode", "statement", Overrides{Mode: some(ModeStatement)}},
		{"pool_timeout", "20", Overrides{PoolTimeout: some(20 * time.Second)}},
		{"pool_timeout", "0.5", Overrides{PoolTimeout: some(500 * time.Millisecond)}},
		{"connect_timeout", "10", Overrides{ConnectTimeout: some(10 * time.Second)}},
		{"idle_timeout", "600", Overrides{IdleTimeout: some(600 * time.Second)}},
		{"idle_timeout", "0", Overrides{IdleTimeout: some(time.Duration(0))}},
		{"max_lifetime", "3600", Overrides{MaxLifetime: some(time.Hour)}},
		{"statement_timeout", "45000", Overrides{StatementTimeout: some(45 * time.Second)}},
		{"validation_timeout", "5000", Overrides{ValidationTimeout: some(5 * time.Second)}},
		{"prepared_statements", "true", Overrides{PreparedStatements: some(true)}},
		{"prepared_statements", "false", Overrides{PreparedStatements: some(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.param+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			u, err := ParseURL("postgresql://h/db?" + tt.param + "=" + tt.value)
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.Pool)
		})
	}
}

func TestMongoPoolAliases(t *testing.T) {
	t.Parallel()
	u, err := ParseURL("mongodb://h/?minPoolSize=3&maxPoolSize=30&maxConnecting=2&waitQueueTimeoutMS=30000&connectTimeoutMS=500&maxIdleTimeMS=600000")
	require.NoError(t, err)
	assert.Equal(t, Overrides{
		MinConnections:  some(3),
		ConnectionLimit: some(30),
		MaxConnecting:   some(2),
		PoolTimeout:     some(30 * time.Second),
		ConnectTimeout:  some(500 * time.Millisecond),
		IdleTimeout:     some(10 * time.Minute),
	}, u.Pool)
}

func TestURLSessionSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want map[string]string
	}{
		{"postgresql://h/db?application_name=web&lock_timeout=10000&idle_in_transaction_session_timeout=60000&search_path=app&timezone=UTC",
			map[string]string{"application_name": "web", "lock_timeout": "10000", "idle_in_transaction_session_timeout": "60000", "search_path": "app", "timezone": "UTC"}},
		{"postgresql://h/db?schema=tenant1", map[string]string{"search_path": "tenant1"}},
		{"mysql://h/db?charset=utf8mb4&time_zone=%2B00:00&transaction_isolation=read_committed&autocommit=1&sql_mode=ANSI",
			map[string]string{"charset": "utf8mb4", "time_zone": "+00:00", "transaction_isolation": "READ-COMMITTED", "autocommit": "true", "sql_mode": "ANSI"}},
		{"mongodb://h/?w=majority&wtimeoutMS=5000&journal=true&readPreference=secondaryPreferred&readConcernLevel=majority&retryReads=true&retryWrites=false&appName=jobs",
			map[string]string{"w": "majority", "wtimeoutMS": "5000", "journal": "true", "readPreference": "secondaryPreferred", "readConcernLevel": "majority", "retryReads": "true", "retryWrites": "false", "appName": "jobs"}},
		{"mongodb://h/?application_name=jobs", map[string]string{"appName": "jobs"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			u, err := ParseURL(tt.url)
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.Session)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"localhost:5432/db", "not a URL: want SCHEME://HOST/DATABASE, with scheme postgresql, mysql or mongodb"},
		{"postgresq://h/db", `unknown scheme "postgresq": want postgresql, postgres, mysql, mariadb, mongodb or mongodb+srv (did you mean postgresql?)`},
		{"postgresql://h/db?conection_limit=5", `unknown parameter "conection_limit" for postgres (did you mean connection_limit?)`},
		{"postgresql://h/db?pool_timout=5", `unknown parameter "pool_timout" for postgres (did you mean pool_timeout?)`},
		{"mysql://h/db?lock_timeout=5", `unknown parameter "lock_timeout" for mysql (did you mean pool_timeout?)`},
		{"postgresql://h/db?frobnicate=1", `unknown parameter "frobnicate" for postgres`},
		{"postgresql://h/db?socket_timeout=10", `unknown parameter "socket_timeout" for postgres: it is a Prisma client option with no pooler equivalent; to bound queries use statement_timeout (milliseconds)`},
		{"postgresql://h/db?pgbouncer=true", `unknown parameter "pgbouncer" for postgres: it is a Prisma client option for the application's URL to motorpool, which it does not need there: motorpool keeps prepared statements working in transaction mode`},
		{"postgresql://h/db?host=/var/run/postgresql", `unknown parameter "host" for postgres: put the host in the URL; a Unix socket directory goes there percent-encoded, as in postgresql://user@%2Fvar%2Frun%2Fpostgresql/db`},
		{"mysql://h/db?host=h2", `unknown parameter "host" for mysql`},
		{"mysql://h/db?socket_timeout=10", `unknown parameter "socket_timeout" for mysql: it is a Prisma client option with no pooler equivalent; to bound queries use statement_timeout (milliseconds)`},
		{"postgresql://h/db?connection_limit=0", "connection_limit must be between 1 and 10000, got 0"},
		{"postgresql://h/db?connection_limit=10001", "connection_limit must be between 1 and 10000, got 10001"},
		{"postgresql://h/db?connection_limit=ten", `connection_limit must be a whole number, got "ten"`},
		{"postgresql://h/db?connection_limit=99999999999999999999", "connection_limit must be between 1 and 10000, got 99999999999999999999"},
		{"postgresql://h/db?min_connections=-1", "min_connections must be between 0 and 10000, got -1"},
		{"postgresql://h/db?max_connecting=0", "max_connecting must be between 1 and 100, got 0"},
		{"postgresql://h/db?pool_timeout=0", "pool_timeout must be between 0.001 and 3600 seconds, got 0"},
		{"postgresql://h/db?pool_timeout=30s", `pool_timeout must be a number of seconds, got "30s"`},
		{"postgresql://h/db?pool_timeout=NaN", `pool_timeout must be a number of seconds, got "NaN"`},
		{"postgresql://h/db?connect_timeout=601", "connect_timeout must be between 0.001 and 600 seconds, got 601"},
		{"postgresql://h/db?idle_timeout=-1", "idle_timeout must be between 0 and 86400 seconds, got -1"},
		{"postgresql://h/db?max_lifetime=2592001", "max_lifetime must be between 0 and 2592000 seconds, got 2592001"},
		{"postgresql://h/db?statement_timeout=-5", "statement_timeout must be between 0 and 86400000 milliseconds, got -5"},
		{"postgresql://h/db?validation_timeout=0", "validation_timeout must be between 1 and 60000 milliseconds, got 0"},
		{"postgresql://h/db?prepared_statements=maybe", `prepared_statements must be true or false, got "maybe"`},
		{"postgresql://h/db?pool_mode=transactions", `pool_mode must be one of session, transaction, statement, got "transactions" (did you mean transaction?)`},
		{"postgresql://h/db?sslmode=verify", `sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, got "verify" (did you mean verify-ca?)`},
		{"postgresql://h/db?lock_timeout=10s", `lock_timeout must be a whole number of milliseconds between 0 and 2592000000, got "10s"`},
		{"postgresql://h/db?pool_mode=session&pool_mode=session", "parameter pool_mode is given twice"},
		{"mongodb://h/?maxPoolSize=5&connection_limit=5", "parameters maxPoolSize and connection_limit both set connection_limit; give one"},
		{"mongodb://h/?maxPoolSize=0", "maxPoolSize must be between 1 and 10000, got 0"},
		{"mongodb://h/?readPreference=secondaryPrefered", `readPreference must be one of primary, primaryPreferred, secondary, secondaryPreferred, nearest, got "secondaryPrefered" (did you mean secondaryPreferred?)`},
		{"mysql://h/db?transaction_isolation=chaos", `transaction_isolation must be one of READ-UNCOMMITTED, READ-COMMITTED, REPEATABLE-READ, SERIALIZABLE, got "CHAOS"`},
		{"postgresql://h:99999/db", `port must be a number between 1 and 65535, got "99999"`},
		{"postgresql://h:/db", "" /* empty port is the default */},
		{"postgresql://h:abc/db", `port must be a number between 1 and 65535, got "abc"`},
		{"postgresql:///db", "URL has no host"},
		{"postgresql://app@/db", "URL has no host"},
		{"mongodb://h1,,h2/", "URL has an empty host"},
		{"postgresql://a b/db", `host "a b" has a character ' ' that is not allowed; percent-encode special characters in the user name and password`},
		{"postgresql://::1/db", "an IPv6 address in a URL must be in brackets, like [::1]:5432"},
		{"postgresql://[::1/db", "host has an unclosed [ (IPv6 address)"},
		{"postgresql://app:p%zz@h/db", "password has an invalid percent-escape; percent-encode % as %25"},
		{"postgresql://app:pa#ss@h/db", "URL has a fragment (#...); percent-encode a # in a password as %23"},
		{"postgresql://h/a/b", "database name contains a /; percent-encode it as %2F"},
		{"postgresql://app:se/cret@h/db", "the user name or password contains / or ? unencoded; percent-encode them as %2F and %3F"},
		{"postgresql://app:se?cret@h/db", "the user name or password contains / or ? unencoded; percent-encode them as %2F and %3F"},
		{"postgresql://h/db?application_name=me@home", ""},
		{"mongodb+srv://a,b/", "a mongodb+srv URL takes exactly one host name and no port"},
		{"mongodb+srv://a:27017/", "a mongodb+srv URL takes exactly one host name and no port"},
		{"postgresql://h/db?" + strings.Repeat("a", maxURLLength), "URL is longer than 8192 bytes"},
	}
	for _, tt := range tests {
		t.Run(truncate(tt.in, 60), func(t *testing.T) {
			t.Parallel()
			_, err := ParseURL(tt.in)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestURLErrorsNeverShowThePassword(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"postgresql://app:hunter2@h:x/db",
		"postgresql://app:hunter2@h/db?nope=1",
		"postgresql://app:hunter2@h/db#x",
		"postgresql://app:hunter2@a b/db",
		"postgresql://app:hunter2%zz@h/db",
		"postgresql://app:hunter2/x@h/db",
		"postgresql://app:hunter2?x@h/db",
		"postgresql://app:1234?hunter2@h/db",
		"mongodb://app:hunter2/x@h1,h2/db",
	} {
		_, err := ParseURL(in)
		require.Error(t, err, in)
		assert.NotContains(t, err.Error(), "hunter2", in)
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgresql://app:hunter2@h/db?connection_limit=5", "postgresql://app:xxxxx@h:5432/db?connection_limit=5"},
		{"postgresql://app@h/db", "postgresql://app@h:5432/db"},
		{"postgresql://h", "postgresql://h:5432"},
		{"mongodb://u:p%40@h1,h2:27018/?replicaSet=rs", "mongodb://u:xxxxx@h1:27017,h2:27018/?replicaSet=rs"},
		{"postgresql://a%40b:pw@[::1]/my%20db?application_name=a+b", "postgresql://a%40b:xxxxx@[::1]:5432/my%20db?application_name=a+b"},
		{"mongodb+srv://u:p@c.example.com/x", "mongodb+srv://u:xxxxx@c.example.com/x"},
		{"postgresql://app@[fe80::1%25eth0]:5433/db", "postgresql://app@[fe80::1%25eth0]:5433/db"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			u, err := ParseURL(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.Redacted())
			assert.Equal(t, tt.want, u.String())
			again, err := ParseURL(tt.want)
			require.NoError(t, err, "a redacted URL parses again")
			assert.Equal(t, u.Hosts, again.Hosts)
			assert.Equal(t, u.Params, again.Params)
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"postgresql://app:p%40ss@db:5432/app?schema=public&connection_limit=5&pool_timeout=10",
		"postgres://u@[::1]:5433/x?sslmode=require",
		"mysql://root:pw@127.0.0.1/orders?charset=utf8mb4&transaction_isolation=READ-COMMITTED",
		"mongodb://u:p@h1:27017,h2,h3:27018/app?replicaSet=rs0&maxPoolSize=30&w=majority",
		"mongodb+srv://u:p@cluster.example.com/app?retryWrites=true",
		"postgresql://h/db?pool_timeout=0.5&statement_timeout=45000&prepared_statements=true",
		"postgresql://%2Ftmp/db",
		"postgresql://h/db?conection_limit=0",
		"://", "mongodb://,", "postgresql://[", "postgresql://a:b@c:d@e/f?g=h&&=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			return
		}
		if len(u.Hosts) == 0 {
			t.Fatalf("parsed %q with no hosts", s)
		}
		red := u.Redacted()
		if len(red) > maxURLLength {
			return // escaping grew it past the input limit
		}
		again, err := ParseURL(red)
		if err != nil {
			t.Fatalf("redacted form %.200q of %.200q does not parse: %v", red, s, err)
		}
		if again.Provider != u.Provider || len(again.Hosts) != len(u.Hosts) || again.User != u.User || again.DBName != u.DBName {
			t.Fatalf("redacted form %.200q of %.200q parses differently", red, s)
		}
		if u.Password != "" && again.Password != "xxxxx" {
			t.Fatalf("redacted form %.200q has password %.200q", red, again.Password)
		}
	})
}
