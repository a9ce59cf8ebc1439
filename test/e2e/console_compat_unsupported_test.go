package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// PgBouncer's commands that have no meaning in motorpool are refused with
// 0A000 and a message saying they are not supported and why, which a script
// can tell from a typo.
func TestConsoleCompatUnsupportedCommands(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	e, _ := startCompat(t, "")
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"SHOW MEM", "SHOW FDS", "SHOW SOCKETS", "SHOW ACTIVE_SOCKETS", "SHOW DNS_HOSTS", "SHOW DNS_ZONES", "SUSPEND", "SET default_pool_size = 7"} {
		_, err := con.Exec(ctx, cmd)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, "is not supported: ") {
			t.Errorf("%s: %v, want 0A000 … is not supported: why", cmd, err)
		}
	}
}
