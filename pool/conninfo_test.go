package pool_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// TestAppendConnDetails checks that each connection comes with its own
// ConnInfo, in one listing that agrees with Conns, and that a connection
// being dialed has none yet.
func TestAppendConnDetails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 3
		p := newPool(t, cfg)
		defer closePool(t, p)
		held := mustAcquire(t, p, "holder")
		mustAcquire(t, p, "").Release()
		b.mu.Lock()
		b.dialDelay = time.Hour
		b.mu.Unlock()
		if err := p.Resize(3, 3); err != nil { // a third one is dialed, for an hour
			t.Fatal(err)
		}
		synctest.Wait()

		infos := p.Conns()
		got := p.AppendConnDetails([]pool.ConnDetail[*fakeConn]{{}}) // appends
		if len(got) != 4 || got[0].ID != 0 {
			t.Fatalf("%d details %+v, want the 1 given and 3 more", len(got), got)
		}
		got = got[1:]
		for i, d := range got {
			if d.ConnInfo != infos[i] {
				t.Errorf("detail %d: %+v, Conns has %+v", i, d.ConnInfo, infos[i])
			}
			switch {
			case d.State == pool.StateCreating && d.Conn != nil:
				t.Errorf("connection %d is being dialed but has a conn %+v", d.ID, d.Conn)
			case d.State != pool.StateCreating && (d.Conn == nil || d.Conn.id != int(d.ID)):
				t.Errorf("connection %d (%v) has conn %+v", d.ID, d.State, d.Conn)
			}
		}
		states := []pool.State{got[0].State, got[1].State, got[2].State}
		if want := []pool.State{pool.StateActive, pool.StateIdle, pool.StateCreating}; states[0] != want[0] || states[1] != want[1] || states[2] != want[2] {
			t.Errorf("states %v, want %v", states, want)
		}
		if got[0].Conn != held.Conn() || got[0].Holder != "holder" {
			t.Errorf("active connection %+v, want the held one", got[0])
		}
		held.Release()
	})
}

// AppendConnDetails lists every second for the dashboard: reusing the slice,
// it does not allocate.
func TestAppendConnDetailsDoesNotAllocate(t *testing.T) {
	p := newPool(t, newBackend().config())
	defer closePool(t, p)
	mustAcquire(t, p, "").Release()
	var buf []pool.ConnDetail[*fakeConn]
	buf = p.AppendConnDetails(buf)
	if n := testing.AllocsPerRun(100, func() { buf = p.AppendConnDetails(buf[:0]) }); n != 0 {
		t.Fatalf("AppendConnDetails into a reused slice allocates %v times", n)
	}
}
