package admin

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestShowPoolsMaxwait checks that maxwait is PgBouncer's: the age of the
// client waiting longest now, though it never gets a connection (no acquire
// succeeds after waiting, so the acquire-time percentiles stay 0), and 0
// once nobody waits.
func TestShowPoolsMaxwait(t *testing.T) {
	a, px := newTestAdminYAML(t, "", `
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=1&pool_timeout=3600" }
`)
	shop := poolNamed(px, "shop").Core()
	l, err := shop.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() {
		_, err := shop.Acquire(ctx)
		gaveUp <- err
	}()
	for shop.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Millisecond) // so that the wait is at least a microsecond old
	a.Sample(time.Now(), nil)

	maxwait := func() time.Duration {
		t.Helper()
		res, err := a.Exec(context.Background(), "app", "SHOW POOLS")
		if err != nil {
			t.Fatal(err)
		}
		row := res.Rows[0]
		s, err1 := strconv.ParseInt(row[slices.Index(res.Columns, "maxwait")], 10, 64)
		us, err2 := strconv.ParseInt(row[slices.Index(res.Columns, "maxwait_us")], 10, 64)
		if err1 != nil || err2 != nil || us < 0 || us >= 1e6 {
			t.Fatalf("maxwait %v, maxwait_us %v", row[slices.Index(res.Columns, "maxwait")], row[slices.Index(res.Columns, "maxwait_us")])
		}
		return time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond
	}
	got := maxwait()
	if st := shop.Stats(); got == 0 || got > st.OldestWait {
		t.Errorf("maxwait %v while a client has waited %v (p99 of served waits %v)", got, st.OldestWait, st.AcquireP99)
	}

	cancel()
	<-gaveUp
	if got := maxwait(); got != 0 {
		t.Errorf("maxwait %v with nobody waiting", got)
	}
}
