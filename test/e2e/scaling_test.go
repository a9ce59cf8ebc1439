package e2e

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// TestScalingUnderLoad: a pool in front of PostgreSQL shrinks while idle, grows
// when real clients queue for it, which serves them with new server connections,
// and shrinks again once they are done; every change is recorded with its reason
// (Proxy.ScalingEvents, which SHOW SCALING lists). Time is driven by calling Scale with times a day ahead of the
// clock (the proxy's own rounds, at the clock's time, are then skipped); the
// metrics are measured on the pool as it is.
func TestScalingUnderLoad(t *testing.T) {
	e := start(t, setup{PoolSize: 4, URLParams: "pool_timeout=120", TopYAML: `scaling:
  rules:
    - { trigger: high_utilization, below: 0.3, action: scale_down, step: 3, cooldown: 60s }
    - { trigger: queue_buildup, threshold: 0, action: scale_up, step: 2, cooldown: 1h }
`})
	pl := e.Proxy.Pools()[0]
	now := time.Now().Add(24 * time.Hour)
	rounds := func(n int) {
		for range n {
			now = now.Add(time.Second)
			e.Proxy.Scale(now)
		}
	}
	sizes := func() string {
		st := pl.Core().Stats()
		return fmt.Sprintf("min %d max %d", st.MinSize, st.MaxSize)
	}

	rounds(11)
	if got := sizes(); got != "min 0 max 1" {
		t.Fatalf("idle pool: %s, want min 0 max 1", got)
	}

	// Two clients in a transaction each: one holds the only server connection,
	// the other queues for one.
	ctx := testCtx(t)
	first := e.Connect(t, "")
	tx1, err := first.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx1.Conn(), "SELECT 1")
	second := e.Connect(t, "")
	served := make(chan error, 1)
	go func() {
		tx, err := second.Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, "SELECT 1")
		}
		if err == nil {
			err = tx.Commit(ctx)
		}
		served <- err
	}()
	eventually(t, time.Minute, "a client queues", func() error {
		if n := pl.Core().Stats().Waiting; n != 1 {
			return fmt.Errorf("%d waiting", n)
		}
		return nil
	})
	rounds(11)
	if got := sizes(); got != "min 0 max 3" {
		t.Errorf("with a client queued: %s, want min 0 max 3", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("the queued client: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the queued client was not served")
	}
	if n := pl.Core().Stats().Total; n != 2 {
		t.Errorf("%d server connections, want 2", n)
	}
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	rounds(60 + 11)
	if got := sizes(); got != "min 0 max 1" {
		t.Errorf("idle again: %s, want min 0 max 1", got)
	}
	ev := e.Proxy.ScalingEvents()
	want := []*regexp.Regexp{
		regexp.MustCompile(`^utilization 0\.00 < 0\.30 \(scaling\.rules\[0\]\): 4 → 1$`),
		regexp.MustCompile(`^waiting clients \d\.\d+ > 0\.0 \(scaling\.rules\[1\]\): 1 → 3$`),
		regexp.MustCompile(`^utilization 0\.00 < 0\.30 \(scaling\.rules\[0\]\): 3 → 1$`),
	}
	if len(ev) != len(want) {
		t.Fatalf("scaling events: %+v, want %d", ev, len(want))
	}
	for i, re := range want {
		if !re.MatchString(ev[i].Reason) || ev[i].Pool != e.DB || ev[i].Bound != "max" {
			t.Errorf("event %d: %+v, want reason %s", i, ev[i], re)
		}
	}
}
