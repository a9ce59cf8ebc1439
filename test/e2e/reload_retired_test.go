package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/config"
)

// TestReloadListsTheOldPoolUntilItCloses: a reload that rebuilds the pool (a new
// application_name) leaves the client connected before it on the old pool. Until
// that client leaves, SHOW SERVERS and /metrics list the old pool's server
// connection, under the old pool's retired name, which SHOW CLIENTS gives the client
// too, and /metrics still answers (the old pool and the new one do not share a
// name); then the old pool is gone from both.
func TestReloadListsTheOldPoolUntilItCloses(t *testing.T) {
	t.Parallel()
	s := setup{}
	e := start(t, s)
	a := observe(e.Proxy)
	early := e.Connect(t, "")
	if n := queryInt(t, early, "SELECT 1"); n != 1 {
		t.Fatal("query before the reload")
	}

	s.URLParams = "application_name=reloaded"
	text := s.yamlFor(e.PG, e.DB, "127.0.0.1:0")
	next, err := config.Parse("test.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	if d := config.Diff(e.Proxy.Config(), next).String(); !strings.Contains(d, "(new pool)") {
		t.Fatalf("the reload's changes:\n%s\nwant a new pool", d)
	}
	if err := e.Proxy.Reload(next); err != nil {
		t.Fatal(err)
	}
	late := e.Connect(t, "")
	if n := queryInt(t, late, "SELECT 2"); n != 2 {
		t.Fatal("query of a client connected after the reload")
	}

	retired := e.DB + " (retired #1)"
	byPool := func() map[string]int {
		n := map[string]int{}
		for _, sc := range a.Servers() {
			n[sc.Pool]++
		}
		return n
	}
	if got := byPool(); got[retired] != 1 || got[e.DB] != 1 {
		t.Errorf("SHOW SERVERS by pool: %v; want one server connection in %s and one in %s", got, e.DB, retired)
	}
	clients := map[string]int{}
	for _, c := range a.Clients() {
		clients[c.Pool]++
	}
	if clients[retired] != 1 || clients[e.DB] != 1 {
		t.Errorf("SHOW CLIENTS by pool: %v; want one client in each", clients)
	}
	a.Sample(time.Now(), nil)
	flagged := map[string]bool{}
	for _, r := range a.Reports() {
		flagged[r.Pool.Name] = r.Pool.Retired
	}
	if !flagged[retired] || flagged[e.DB] {
		t.Errorf("reports' retired flags %v; want %s alone retired (it raises no alerts)", flagged, retired)
	}
	if len(seriesWith(t, a, "pool", retired)) == 0 {
		t.Errorf("/metrics has no series of the old pool %s", retired)
	}
	if len(seriesWith(t, a, "pool", e.DB)) == 0 {
		t.Errorf("/metrics has no series of the new pool %s", e.DB)
	}

	if n := queryInt(t, early, "SELECT 3"); n != 3 {
		t.Fatal("query of the client connected before the reload")
	}
	early.Close(testCtx(t))
	eventually(t, time.Minute, "the old pool gone once its client left", func() error {
		if got := byPool(); got[retired] != 0 {
			return fmt.Errorf("SHOW SERVERS by pool: %v", got)
		}
		return nil
	})
	a.Sample(time.Now(), nil)
	if s := seriesWith(t, a, "pool", retired); len(s) > 0 {
		t.Errorf("the closed pool's metrics remain: %v", s)
	}
}
