package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// TestTransactionsAreCountedAsTheServerEndsThem: a pool's transaction count (SHOW
// STATS' total_xact_count, the transaction histogram, transactions per second) goes up
// each time a server reports it is idle again after a client's work, as PgBouncer
// counts: a statement outside a transaction block is one transaction, a block is one.
// Not leases: in session mode a client holds one lease for many transactions, and in
// transaction mode a lease lasts over two statements pipelined one behind the other.
func TestTransactionsAreCountedAsTheServerEndsThem(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	for _, mode := range []string{"session", "transaction"} {
		t.Run(mode, func(t *testing.T) {
			e := start(t, poolOfOne(mode, p, db))
			c := dialRaw(t, e.Addr, testenv.TrustUser, e.DB, nil)
			c.round(t, query("SELECT 1"), query("SELECT 2")) // pipelined: one write
			c.round(t, query("BEGIN"))
			c.round(t, query("SELECT 3"))
			c.round(t, query("COMMIT"))
			c.round(t, parse("", "SELECT 4"), bind(""), execute(0), syncMsg(),
				parse("", "SELECT 5"), bind(""), execute(0), syncMsg())
			c.round(t, query("BEGIN; SELECT 6; COMMIT"))
			// 2 pipelined + 1 block + 2 batches + 1 block in one query; the client is
			// still connected (a session-mode lease is still held).
			pl := e.Proxy.Pools()[0]
			eventually(t, time.Minute, "6 transactions counted", func() error {
				if n := pl.Counters.Transactions.Load(); n != 6 {
					return fmt.Errorf("%d transactions counted", n)
				}
				return nil
			})
			if n := pl.Counters.Queries.Load(); n != 8 {
				t.Errorf("%d queries counted, want 8", n)
			}
		})
	}
}
