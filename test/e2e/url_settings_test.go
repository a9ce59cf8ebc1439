package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestURLSessionSettingsReachTheServer: the session settings a database URL gives
// are in effect on the server connections a client gets, in transaction and session
// mode, and a client's own startup parameter wins over the URL's.
func TestURLSessionSettingsReachTheServer(t *testing.T) {
	t.Parallel()
	params := "application_name=from_url&lock_timeout=1500&idle_in_transaction_session_timeout=60000" +
		"&schema=url_schema&timezone=Asia/Tokyo&statement_timeout=45000"
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := start(t, setup{Mode: mode, URLParams: params})
			conn := e.Connect(t, "")
			for setting, want := range map[string]string{
				"lock_timeout":                        "1500ms",
				"idle_in_transaction_session_timeout": "1min",
				"search_path":                         "url_schema",
				"TimeZone":                            "Asia/Tokyo",
				"statement_timeout":                   "45s",
			} {
				if got := queryString(t, conn, "SELECT current_setting($1)", setting); got != want {
					t.Errorf("%s = %q, want %q from the URL", setting, got, want)
				}
			}
			// pgx sends no application_name of its own: the URL's applies.
			if got := queryString(t, conn, "SELECT current_setting('application_name')"); got != "from_url" {
				t.Errorf("application_name = %q, want the URL's from_url", got)
			}
			own := e.Connect(t, "application_name=mine&timezone=UTC")
			if got := queryString(t, own, "SELECT current_setting('application_name') || ' ' || current_setting('TimeZone')"); got != "mine UTC" {
				t.Errorf("a client's own settings: %q, want %q", got, "mine UTC")
			}
		})
	}
}

// TestIdleTimeoutAndMaxLifetimeCloseServerConnections: idle_timeout closes server
// connections idle beyond it, down to min_connections, and max_lifetime replaces a
// connection once it has lived that long (checked when it is idle).
func TestIdleTimeoutAndMaxLifetimeCloseServerConnections(t *testing.T) {
	t.Parallel()
	t.Run("idle_timeout", func(t *testing.T) {
		t.Parallel()
		e := start(t, setup{PoolSize: 3, URLParams: "idle_timeout=1&min_connections=1"})
		direct := e.Direct(t)
		count := func() int64 {
			return queryInt(t, direct, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
		}
		// Three clients inside transactions at once need three server connections.
		for _, c := range holdTransactions(t, e.Addr, e.DB, 3) {
			if err := c.Commit(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(); n != 3 {
			t.Fatalf("%d server connections after three concurrent transactions, want 3", n)
		}
		eventually(t, time.Minute, "idle connections closed down to min_connections", func() error {
			if n := count(); n != 1 {
				return fmt.Errorf("%d server connections", n)
			}
			return nil
		})
	})
	t.Run("max_lifetime", func(t *testing.T) {
		t.Parallel()
		e := start(t, setup{PoolSize: 1, URLParams: "max_lifetime=1&idle_timeout=0"})
		conn := e.Connect(t, "")
		first := queryInt(t, conn, "SELECT pg_backend_pid()")
		eventually(t, time.Minute, "the server connection replaced", func() error {
			if pid := queryInt(t, conn, "SELECT pg_backend_pid()"); pid == first {
				return fmt.Errorf("still backend %d", pid)
			}
			return nil
		})
	})
}

// TestMinConnectionsRefilledWhenTheServerEndsThem: when the server ends idle server
// connections (pg_terminate_backend here; a restart or idle_session_timeout alike),
// motorpool notices without a client coming across them: it opens new ones up to
// min_connections, and its statistics count only the live ones.
func TestMinConnectionsRefilledWhenTheServerEndsThem(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 3, URLParams: "min_connections=2"})
	direct := e.Direct(t)
	backends := func() []int64 {
		rows, err := direct.Query(testCtx(t), "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid")
		if err != nil {
			t.Fatal(err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return pids
	}
	eventually(t, time.Minute, "min_connections warm", func() error {
		if pids := backends(); len(pids) != 2 {
			return fmt.Errorf("server connections %v", pids)
		}
		return nil
	})
	old := backends()
	mustExec(t, direct, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	core := e.Proxy.Pools()[0].Core()
	eventually(t, time.Minute, "two new server connections", func() error {
		pids := backends()
		if len(pids) != 2 || slices.Contains(old, pids[0]) || slices.Contains(old, pids[1]) {
			return fmt.Errorf("server connections %v, terminated %v", pids, old)
		}
		if s := core.Stats(); s.Idle != 2 || s.Created != 4 {
			return fmt.Errorf("pool: %d idle, %d created", s.Idle, s.Created)
		}
		return nil
	})
}
