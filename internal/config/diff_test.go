package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const diffBase = `
	listen: 127.0.0.1:6432
	log: { level: info }
	auth: { users: { app: { password: one } } }
	databases:
	  shop: { url: "postgresql://app:pw1@h1/shop?connection_limit=20", preset: postgres-web }
	  old: { url: "postgresql://h/old" }
	services:
	  gateway: { database: shop, match: { application_name: "gw*" }, type: api_gateway }
	  gone: { database: shop, match: { user: x } }`

func TestDiff(t *testing.T) {
	t.Parallel()
	base := mustParse(t, diffBase)
	tests := []struct {
		name   string
		change func(string) string
		check  func(t *testing.T, c Changes)
	}{
		{"nothing", func(s string) string { return s }, func(t *testing.T, c Changes) {
			assert.True(t, c.Empty())
			assert.Equal(t, ApplyLive, c.Effect())
			assert.Empty(t, c.String())
		}},
		{"pool size is live", replace("connection_limit=20", "connection_limit=40"), func(t *testing.T, c Changes) {
			require.Len(t, c.ChangedDatabases, 1)
			assert.Equal(t, ObjectChanges{Name: "shop", Changes: []Change{{Key: "connection_limit", Old: "20", New: "40", Effect: ApplyLive}}}, c.ChangedDatabases[0])
			// A service without a type follows its database; gateway's service type
			// sizes it whatever the database's URL says.
			assert.Equal(t, []ObjectChanges{
				{Name: "gone", Changes: []Change{{Key: "connection_limit", Old: "20", New: "40", Effect: ApplyLive}}},
			}, c.ChangedServices)
			assert.Equal(t, ApplyLive, c.Effect())
		}},
		{"timeouts are live", replace("connection_limit=20", "connection_limit=20&pool_timeout=31&idle_timeout=60&max_connecting=3"), func(t *testing.T, c Changes) {
			require.Len(t, c.ChangedDatabases, 1)
			for _, ch := range c.ChangedDatabases[0].Changes {
				assert.Equal(t, ApplyLive, ch.Effect, ch.Key)
			}
			assert.Contains(t, c.String(), "database shop: pool_timeout 20s -> 31s (live)\n")
			assert.Equal(t, ApplyLive, c.Effect())
		}},
		{"pool mode needs a new pool", replace("connection_limit=20", "connection_limit=20&pool_mode=session"), func(t *testing.T, c Changes) {
			require.Len(t, c.ChangedDatabases, 1)
			assert.Equal(t, []Change{{Key: "pool_mode", Old: "transaction", New: "session", Effect: ApplyNewPool}}, c.ChangedDatabases[0].Changes)
			assert.Contains(t, c.String(), "database shop: pool_mode transaction -> session (new pool)\n")
			assert.Equal(t, ApplyNewPool, c.Effect())
		}},
		{"password needs a new pool", replace("pw1", "pw2"), func(t *testing.T, c Changes) {
			require.Len(t, c.ChangedDatabases, 1)
			assert.Equal(t, []Change{{Key: "url.password", Old: "xxxxx", New: "xxxxx", Effect: ApplyNewPool}}, c.ChangedDatabases[0].Changes)
			assert.Equal(t, ApplyNewPool, c.Effect())
		}},
		{"host needs a new pool", replace("@h1/", "@h2/"), func(t *testing.T, c Changes) {
			assert.Equal(t, "url.hosts", c.ChangedDatabases[0].Changes[0].Key)
			assert.Equal(t, ApplyNewPool, c.Effect())
		}},
		{"preset changes session and pool", replace("postgres-web", "postgres-api"), func(t *testing.T, c Changes) {
			keys := map[string]Effect{}
			for _, ch := range c.ChangedDatabases[0].Changes {
				keys[ch.Key] = ch.Effect
			}
			assert.Equal(t, ApplyLive, keys["preset"])
			assert.Equal(t, ApplyLive, keys["pool_timeout"])
			assert.Equal(t, ApplyLive, keys["idle_timeout"])
			assert.Equal(t, ApplyNewPool, keys["statement_timeout"])
			assert.Equal(t, ApplyNewPool, keys["session.statement_timeout"])
		}},
		{"listen needs a restart", replace("127.0.0.1:6432", "127.0.0.1:6433"), func(t *testing.T, c Changes) {
			assert.Equal(t, []Change{{Key: "listen", Old: "127.0.0.1:6432", New: "127.0.0.1:6433", Effect: ApplyRestart}}, c.Global)
			assert.Equal(t, ApplyRestart, c.Effect())
		}},
		{"log level is live", replace("level: info", "level: debug"), func(t *testing.T, c Changes) {
			assert.Equal(t, []Change{{Key: "log.level", Old: "info", New: "debug", Effect: ApplyLive}}, c.Global)
		}},
		{"user password is redacted, and rebuilds the user's pool of a database without a URL user", replace("password: one", "password: two"), func(t *testing.T, c Changes) {
			assert.Equal(t, []Change{{Key: "auth.users.app.password", Old: "xxxxx", New: "xxxxx", Effect: ApplyNewPool}}, c.Global)
			assert.Equal(t, "auth.users.app.password xxxxx -> xxxxx (new pool)\n", c.String())
		}},
		{"a user added needs a new pool too", replace("app: { password: one }", "app: { password: one }, bob: { password: b }"), func(t *testing.T, c Changes) {
			assert.Equal(t, []Change{{Key: "auth.users.bob.password", New: "xxxxx", Effect: ApplyNewPool}}, c.Global)
		}},
		{"added and removed", func(s string) string {
			s = replace(`  old: { url: "postgresql://h/old" }`, `  new: { url: "postgresql://h/new" }`)(s)
			return replace(`  gone: { database: shop, match: { user: x } }`, `  fresh: { database: shop, match: { user: y } }`)(s)
		}, func(t *testing.T, c Changes) {
			assert.Equal(t, []string{"new"}, c.AddedDatabases)
			assert.Equal(t, []string{"old"}, c.RemovedDatabases)
			assert.Equal(t, []string{"fresh"}, c.AddedServices)
			assert.Equal(t, []string{"gone"}, c.RemovedServices)
			assert.Equal(t, "database new: added\ndatabase old: removed\nservice fresh: added\nservice gone: removed\n", c.String())
		}},
		{"service match is live", replace(`"gw*"`, `"gate*"`), func(t *testing.T, c Changes) {
			assert.Equal(t, []ObjectChanges{{Name: "gateway", Changes: []Change{{Key: "match.application_name", Old: "gw*", New: "gate*", Effect: ApplyLive}}}}, c.ChangedServices)
			assert.Equal(t, "service gateway: match.application_name gw* -> gate* (live)\n", c.String())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, Diff(base, mustParse(t, tt.change(diffBase))))
		})
	}
}

// TestDiffUserPasswordLive: a user's password change is live when no pool logs
// in to the server with it: every database's URL names its user, or the
// password is a hash, which is not sent on.
func TestDiffUserPasswordLive(t *testing.T) {
	t.Parallel()
	const md5One, md5Two = "md5" + "0123456789abcdef0123456789abcdef", "md5" + "fedcba9876543210fedcba9876543210"
	tests := []struct{ name, before, after string }{
		{"every URL names a user", `
			auth: { users: { app: { password: one } } }
			databases: { shop: { url: "postgresql://app:pw@h/shop" } }`, `
			auth: { users: { app: { password: two } } }
			databases: { shop: { url: "postgresql://app:pw@h/shop" } }`},
		{"hashes", `
			auth: { type: md5, users: { app: { password: ` + md5One + ` } } }
			databases: { shop: { url: "postgresql://h/shop" } }`, `
			auth: { type: md5, users: { app: { password: ` + md5Two + ` } } }
			databases: { shop: { url: "postgresql://h/shop" } }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Diff(mustParse(t, tt.before), mustParse(t, tt.after))
			require.Len(t, c.Global, 1)
			assert.Equal(t, ApplyLive, c.Global[0].Effect, c.String())
		})
	}
}

// TestSettingEffect: every pool setting is classified, and only the ones a pool
// cannot change in place need a new pool.
func TestSettingEffect(t *testing.T) {
	t.Parallel()
	newPool := map[Setting]bool{SettingPoolMode: true, SettingStatementTimeout: true}
	for _, s := range Settings() {
		want := ApplyLive
		if newPool[s] {
			want = ApplyNewPool
		}
		assert.Equal(t, want, s.Effect(), s)
	}
	assert.Equal(t, ApplyNewPool, Setting("no_such_setting").Effect())
}

func TestDiffNil(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, diffBase)
	c := Diff(nil, cfg)
	assert.Equal(t, []string{"shop", "old"}, c.AddedDatabases)
	assert.Equal(t, []string{"gateway", "gone"}, c.AddedServices)
	assert.Equal(t, []string{"shop", "old"}, Diff(cfg, nil).RemovedDatabases)
}

func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test setup: " + old + " not in config")
		}
		return strings.Replace(s, old, new, 1)
	}
}
