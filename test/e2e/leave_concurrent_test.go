package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// TestManyClientsLeavingAtOnceLeaveNothingBehind: every kind of leaver of
// TestLeavingClientNeverLeavesADirtyServerConnection, killed or saying goodbye, all at
// once on a pool of 3, so that server connections pass from leavers to leavers and to
// clients waiting for them. Afterwards no server connection is leased or busy, no
// client is counted, nothing is locked, and the next clients find clean sessions.
func TestManyClientsLeavingAtOnceLeaveNothingBehind(t *testing.T) {
	t.Parallel()
	p, db, direct := cleanlinessFixture(t)
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			s := poolOfOne(mode, p, db)
			s.PoolSize, s.URLParams = 3, "pool_timeout=120"
			e := start(t, s)
			t.Run("leavers", func(t *testing.T) {
				for round := range 2 {
					for _, l := range leavers {
						for _, how := range []string{"killed", "saying goodbye"} {
							t.Run(fmt.Sprintf("%d %s %s", round, l.name, how), func(t *testing.T) {
								t.Parallel()
								leave(t, e, l, how == "killed")
							})
						}
					}
				}
			})
			assertPoolsSettle(t, e)
			eventually(t, time.Minute, "server connections idle", func() error {
				var busy int64
				var states string
				err := direct.QueryRow(testCtx(t), `SELECT count(*), coalesce(string_agg(state || ': ' || query, '; '), '')
					FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
					AND backend_type = 'client backend' AND state <> 'idle'`).Scan(&busy, &states)
				if err != nil {
					return err
				}
				if busy != 0 {
					return fmt.Errorf("%d not idle: %s", busy, states)
				}
				return nil
			})
			assertUnlocked(t, direct)
			for range 3 { // held at once: in session mode each has a server connection of its own
				assertClean(t, connect(t, dsn(e.Addr, testenv.TrustUser, "", e.DB, "application_name=next")))
			}
		})
	}
}
