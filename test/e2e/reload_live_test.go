package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/testenv"
)

// serverPIDs lists the backends motorpool keeps open on the test's database, as
// PostgreSQL sees them.
func serverPIDs(t *testing.T, direct *pgx.Conn) string {
	t.Helper()
	return queryString(t, direct, `SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '')
		FROM pg_stat_activity WHERE datname = current_database() AND usename = $1`, testenv.ScramUser)
}

// TestReloadPoolTimeoutKeepsServerConnections: with connection_limit=2 and
// min_connections=2, a reload that changes only pool_timeout keeps the pool and
// its server connections. PostgreSQL sees the same two backends afterwards, while
// a client connected before the reload and one connected after both run queries
// (a pool rebuilt for the second would open connections of its own).
func TestReloadPoolTimeoutKeepsServerConnections(t *testing.T) {
	t.Parallel()
	s := setup{PoolSize: 2, URLParams: "min_connections=2"}
	e := start(t, s)
	direct := e.Direct(t)
	var before string
	eventually(t, time.Minute, "min_connections=2 open", func() error {
		before = serverPIDs(t, direct)
		if n := len(strings.Split(before, ",")); before == "" || n != 2 {
			return fmt.Errorf("server connections %q", before)
		}
		return nil
	})
	early := e.Connect(t, "")
	if n := queryInt(t, early, "SELECT 1"); n != 1 {
		t.Fatal("query before the reload")
	}

	s.URLParams = "min_connections=2&pool_timeout=31"
	text := s.yamlFor(e.PG, e.DB, "127.0.0.1:0")
	next, err := config.Parse("test.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	if d := config.Diff(e.Proxy.Config(), next).String(); !strings.Contains(d, "pool_timeout 30s -> 31s (live)") {
		t.Errorf("the reload's changes:\n%s\nwant pool_timeout 30s -> 31s (live)", d)
	}
	if err := e.Proxy.Reload(next); err != nil {
		t.Fatal(err)
	}

	late := e.Connect(t, "")
	if n := queryInt(t, late, "SELECT 2"); n != 2 {
		t.Fatal("query of a client connected after the reload")
	}
	if n := queryInt(t, early, "SELECT 3"); n != 3 {
		t.Fatal("query of the client connected before the reload")
	}
	if after := serverPIDs(t, direct); after != before {
		t.Errorf("server connections before the reload %s, after %s; want the same two", before, after)
	}
}
