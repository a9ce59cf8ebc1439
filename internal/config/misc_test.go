package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"none", "auth: { users: { app: { password: pw } } }\n" + okDB, nil},
		{"no users", okDB, []string{"test.yaml: auth: no users, no auth_query and no database URL with a user and password: no client can log in"}},
		{"no users, URL with a user and password", "databases:\n  db: { url: \"postgresql://app:pw@h/db\" }\n", nil},
		{"no users, URL with a user but no password", "databases:\n  db: { url: \"postgresql://app@h/db\" }\n",
			[]string{"test.yaml: auth: no users, no auth_query and no database URL with a user and password: no client can log in"}},
		{"no users, auth_query", "auth: { auth_query: { user: pgbouncer, password: pw } }\n" + okDB, nil},
		{"built-in idle not below lifetime", `
			profile: high-traffic
			auth: { type: trust }
			databases:
			  db: { url: "postgresql://h/db" }
			services:
			  reports: { match: { user: analyst }, type: analytics_service }`,
			[]string{"test.yaml:6:3: services.reports: idle_timeout (30m, service type analytics_service) must be less than max_lifetime (30m, profile high-traffic); set idle_timeout: 0 to never close idle connections"}},
		{"pool above budget", `
			auth: { type: trust }
			databases:
			  db: { url: "postgresql://h/db?connection_limit=30", budget: 25 }`,
			[]string{"test.yaml:3:63: databases.db.budget: connection_limit of db (30) is above the budget (25); it will never get more than 25"}},
		{"tls allow without cert", "tls: { mode: allow }\nauth: { type: trust }\n" + okDB,
			[]string{"test.yaml:1:14: tls: mode allow without cert and key: clients asking for TLS are refused it"}},
		{"server TLS files with sslmode disable", "auth: { type: trust }\ndatabases:\n  db: { url: \"postgresql://h/db?sslmode=disable&sslrootcert=ca.pem\" }\n",
			[]string{"test.yaml:3:14: databases.db.url: sslrootcert, sslcert and sslkey are ignored with sslmode=disable"}},
		{"no URL user with hashed passwords", "auth: { type: md5, users: { app: { password: md5" + "0123456789abcdef0123456789abcdef }, dev: { password: pw } } }\ndatabases:\n  db: { url: \"postgresql://h/db\" }\n",
			[]string{"test.yaml:3:14: databases.db.url: no user in the URL: clients log in to the server as themselves, with the cleartext password of auth.users, which app do not have (a hash cannot be sent on): the server must trust them, or put a user and password in the URL"}},
		{"admin open without token", "admin: { listen: 0.0.0.0:8080 }\nauth: { type: trust }\n" + okDB,
			[]string{"test.yaml:1:18: admin.listen: the admin API listens beyond this machine without a token; set admin.token"}},
		{"admin user unknown", "admin: { users: [root] }\nauth: { users: { app: { password: pw } } }\n" + okDB,
			[]string{`test.yaml: admin.users: "root" is not a user under auth.users`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustParse(t, tt.yaml)
			var got []string
			for _, w := range cfg.Warnings {
				got = append(got, w.Error())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	vars := env(map[string]string{"A": "1", "EMPTY": "", "PW": "p@ss"})
	tests := []struct {
		in, want, err string
	}{
		{"plain", "plain", ""},
		{"${A}", "1", ""},
		{"x${A}y${A}", "x1y1", ""},
		{"${EMPTY}", "", ""},
		{"${MISSING:-dflt}", "dflt", ""},
		{"${EMPTY:-dflt}", "dflt", ""},
		{"${A:-dflt}", "1", ""},
		{"${MISSING:-}", "", ""},
		{"${MISSING:-a:-b}", "a:-b", ""},
		{"$$A and $${A}", "$A and ${A}", ""},
		{"WHERE usename = $1", "WHERE usename = $1", ""},
		{"trailing $", "trailing $", ""},
		{"${MISSING}", "", "environment variable MISSING is not set (write ${MISSING:-} to allow it to be empty)"},
		{"${A", "", "unclosed ${ at offset 0"},
		{"${}", "", "invalid environment variable reference ${}: want ${NAME} or ${NAME:-default}"},
		{"${1A}", "", "invalid environment variable reference ${1A}: want ${NAME} or ${NAME:-default}"},
		{"${A B}", "", "invalid environment variable reference ${A B}: want ${NAME} or ${NAME:-default}"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := expandEnv(tt.in, vars)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEnvInConfig(t *testing.T) {
	t.Parallel()
	y := `
		listen: ${LISTEN:-127.0.0.1:7432}
		auth: { users: { app: { password: "${APP_PASSWORD}" } } }
		admin: { token: "${TOKEN:-}" }
		databases:
		  db:
		    url: postgresql://app:${DB_PASSWORD}@h/db?connection_limit=${LIMIT:-12}`
	cfg, err := Parse("test.yaml", []byte(dedent(y)), env(map[string]string{"APP_PASSWORD": "s3cret", "DB_PASSWORD": "p%40ss"}))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7432", cfg.Listen)
	assert.Equal(t, Secret("s3cret"), cfg.Auth.Users[0].Password)
	assert.Equal(t, Secret(""), cfg.Admin.Token)
	assert.Equal(t, "p@ss", cfg.Databases[0].URL.Password, "a %-escaped password decodes")
	assert.Equal(t, 12, cfg.Databases[0].Pool.ConnectionLimit)
}

// TestSecretsNeverPrinted checks that no printed entry shows a password or
// token, and that Secret and URL values format redacted.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("test.yaml", []byte(dedent(`
		auth:
		  users: { app: { password: "app-secret" } }
		  auth_query: { user: a, password: "query-secret" }
		admin: { token: "token-secret" }
		databases:
		  db: { url: "postgresql://app:url-secret@h/db" }`)), nil)
	require.NoError(t, err)
	var all strings.Builder
	for _, s := range cfg.Sections() {
		for _, e := range s.Entries {
			fmt.Fprintf(&all, "%s %s %s\n", e.Key, e.Value, e.Origin)
		}
	}
	fmt.Fprintf(&all, "%v %+v %#v", cfg.Databases[0].URL, cfg.Auth, cfg.Admin)
	assert.NotContains(t, all.String(), "secret")
	assert.Contains(t, all.String(), "postgresql://app:xxxxx@h:5432/db")
}

func TestPasswordKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pw   Secret
		want PasswordKind
	}{
		{"hunter2", PasswordCleartext},
		{"md50123456789abcdef0123456789abcdef", PasswordMD5},
		{"md5 not a hash", PasswordCleartext},
		{"SCRAM-SHA-256$4096:c2FsdA==$c3Q=:c2U=", PasswordSCRAM},
		{"SCRAM-SHA-256$4096:!!$c3Q=:c2U=", PasswordCleartext},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.pw.PasswordKind(), string(tt.pw))
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	t.Run("example file", func(t *testing.T) {
		t.Parallel()
		cfg, err := Parse("testdata/example.yaml", mustRead(t, "testdata/example.yaml"),
			env(map[string]string{"APP_PASSWORD": "a", "AUTH_PASSWORD": "b", "DB_PASSWORD": "c"}))
		require.NoError(t, err)
		assert.Len(t, cfg.Databases, 1)
		assert.Len(t, cfg.Services, 2)
		assert.Len(t, cfg.Scaling.Rules, 3)
		assert.Equal(t, ScalingRule{Trigger: TriggerLongWaitTimes, Threshold: 1, Action: ScaleUp, Step: 5, Cooldown: DefaultCooldown}, cfg.Scaling.Rules[1])
		assert.True(t, cfg.Scaling.Rules[2].Below)
		assert.True(t, cfg.Scaling.Predictive.Enabled)
		assert.Same(t, cfg.Databases[0], cfg.Database("shop"))
		assert.Same(t, cfg.Services[1], cfg.Service("reports"))
		assert.Nil(t, cfg.Database("nope"))
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, err := Load("testdata/does-not-exist.yaml")
		assert.True(t, errors.Is(err, os.ErrNotExist))
	})
	t.Run("endless file", func(t *testing.T) {
		t.Parallel()
		_, err := Load("/dev/zero")
		require.Error(t, err)
		assert.Equal(t, "/dev/zero: file is larger than 4194304 bytes", err.Error())
	})
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		_, err := Load("testdata")
		assert.ErrorContains(t, err, "is a directory")
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("databases: { db: { url: \"postgresql://h/db\" } }\nadmin: { users: *a8 }\n")
	_, err := Parse("bomb.yaml", []byte(b.String()), nil)
	require.Error(t, err)
}

func FuzzParse(f *testing.F) {
	f.Add(string(mustReadF(f, "testdata/example.yaml")))
	for _, s := range []string{
		okDB,
		"profile: high-traffic\n" + okDB + "services:\n  s: { match: { user: u }, type: api_gateway }\n",
		"databases:\n  db: { url: \"mongodb://h1,h2/x?replicaSet=r\", preset: mongodb-replica-set, session: { w: 1 } }\n",
		"databases:\n  db: { url: \"mysql://h/db?connection_limit=0\" }\n",
		"a: &a { b: *a }\n",
		"databases: { db: &d { url: \"postgresql://h/db\" }, db2: *d }\n",
		"listen: ${X:-}\n",
		"scaling: { rules: [ { trigger: long_wait_times, threshold: 1s, action: scale_up, step: 5 } ] }\n",
		"",
		"---\n---\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := Parse("fuzz.yaml", []byte(s), env(map[string]string{"X": "1"}))
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v is not a non-empty Errors", err)
			}
			return
		}
		if len(cfg.Databases) == 0 {
			t.Fatal("valid configuration without databases")
		}
		for _, db := range cfg.Databases {
			if db.Pool.ConnectionLimit < 1 || db.Pool.MinConnections > db.Pool.ConnectionLimit && db.Origins["min_connections"].Written() {
				t.Fatalf("unresolved or invalid pool %+v", db.Pool)
			}
		}
		_ = cfg.Sections()
		_ = Diff(cfg, cfg)
	})
}

func mustReadF(f *testing.F, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// TestPoolNamesOfDatabasesWithAUser: a database whose URL names its user makes no
// per-user pools, so another database may be named after one.
func TestPoolNamesOfDatabasesWithAUser(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, "databases:\n  shop: { url: \"postgresql://app@h/shop\" }\n  shop.app: { url: \"postgresql://app@h/other\" }\n  shop/x: { url: \"postgresql://app@h/other\" }\n")
	require.Len(t, cfg.Databases, 3, "no per-user pools, and no service named x")
}
