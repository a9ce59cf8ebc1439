package e2e

import (
	"strings"
	"testing"
	"time"
)

// A monitoring agent logs in to the console as one of admin.stats_users, as
// PgBouncer's stats_users do: it may run SHOW commands, and nothing that changes
// anything; a user in neither list is refused at login.
func TestConsoleCompatStatsUsersMayOnlyLook(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	e := startMonitored(t, "", time.Minute)
	con, err := e.console(t, ctx, monStatsUser, monStatsPassword)
	if err != nil {
		t.Fatalf("a stats user on the console: %v", err)
	}
	for _, cmd := range []string{"SHOW POOLS", "SHOW STATS", "SHOW CLIENTS", "SHOW CONFIG"} {
		if _, rows := consoleTable(t, ctx, con, cmd); len(rows) == 0 {
			t.Errorf("%s as a stats user: no rows", cmd)
		}
	}
	for _, cmd := range []string{"PAUSE", `PAUSE "` + e.DB + `"`, "RELOAD", "SHUTDOWN", `KILL "` + e.DB + `"`} {
		_, err := con.Exec(ctx, cmd)
		if err == nil || !strings.Contains(err.Error(), "needs an admin user") {
			t.Errorf("%s as a stats user: %v; want it refused", cmd, err)
		}
	}
	if paused := e.Proxy.Paused(); len(paused) != 0 {
		t.Errorf("paused %v after a stats user's PAUSE", paused)
	}
	if _, err := e.console(t, ctx, monAppUser, monAppPassword); err == nil || !strings.Contains(err.Error(), "admin console") {
		t.Errorf("a user in neither list on the console: %v; want a refusal", err)
	}
}
