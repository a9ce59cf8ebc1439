package pool_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/motorpool/motorpool/pool"
)

func TestLeaseMisusePanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config())
		defer closePool(t, p)

		var zero pool.Lease[*fakeConn]
		for name, f := range map[string]func(){
			"Release":   zero.Release,
			"Destroy":   func() { zero.Destroy(nil) },
			"Conn":      func() { zero.Conn() },
			"ID":        func() { zero.ID() },
			"SetHolder": func() { zero.SetHolder("x") },
		} {
			if !panics(f) {
				t.Errorf("zero Lease: %s did not panic", name)
			}
		}

		released := mustAcquire(t, p, "a")
		released.Release()
		copyOf := released
		destroyed := mustAcquire(t, p, "b")
		destroyed.Destroy(errBroken)
		for _, l := range []pool.Lease[*fakeConn]{released, copyOf, destroyed} {
			if !panics(l.Release) {
				t.Error("Release of an ended lease did not panic")
			}
			if !panics(func() { l.Destroy(nil) }) {
				t.Error("Destroy of an ended lease did not panic")
			}
			if !panics(func() { l.Conn() }) {
				t.Error("Conn of an ended lease did not panic")
			}
			if !panics(func() { l.SetHolder("x") }) {
				t.Error("SetHolder of an ended lease did not panic")
			}
			l.ID() // still allowed
		}
	})
}

// A stale lease must panic even when its connection is leased again: the
// generation check, not the connection's state, decides.
func TestStaleLeaseOfReusedConnectionPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 1
		p := newPool(t, cfg)
		defer closePool(t, p)

		old := mustAcquire(t, p, "old")
		old.Release()
		cur := mustAcquire(t, p, "cur")
		if cur.ID() != old.ID() {
			t.Fatalf("pool of one handed out connection %d, then %d", old.ID(), cur.ID())
		}
		if !panics(old.Release) {
			t.Fatal("stale Release did not panic")
		}
		if !panics(func() { old.Conn() }) {
			t.Fatal("stale Conn did not panic")
		}
		// The stale misuse left the current lease intact.
		if cur.Conn() == nil {
			t.Fatal("current lease lost its connection")
		}
		cur.Release()
		if s := p.Stats(); s.Active != 0 || s.Idle != 1 {
			t.Fatalf("after release: active %d idle %d, want 0 and 1", s.Active, s.Idle)
		}
	})
}

func TestLeaseHolderAndConnsListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config())
		defer closePool(t, p)

		a := mustAcquire(t, p, "client 1 10.0.0.1:5555")
		c := mustAcquire(t, p, "")
		c.SetHolder("client 2 10.0.0.2:6666")
		c.Release()
		c2 := mustAcquire(t, p, "client 3")
		if c2.ID() != c.ID() {
			t.Fatalf("LIFO: got connection %d, want the one just released (%d)", c2.ID(), c.ID())
		}
		conns := p.Conns()
		if len(conns) != 2 {
			t.Fatalf("Conns: %d connections, want 2", len(conns))
		}
		for _, ci := range conns {
			want := map[uint64]string{a.ID(): "client 1 10.0.0.1:5555", c2.ID(): "client 3"}[ci.ID]
			if ci.State != pool.StateActive || ci.Holder != want {
				t.Errorf("conn %d: state %v holder %q, want active %q", ci.ID, ci.State, ci.Holder, want)
			}
		}
		if conns[1].Uses != 2 {
			t.Errorf("conn %d: %d uses, want 2", conns[1].ID, conns[1].Uses)
		}
		// Dial learned the ID through DialConnID; the fake backend uses it.
		if a.Conn().id != int(a.ID()) || c2.Conn().id != int(c2.ID()) {
			t.Errorf("Dial saw IDs %d and %d, leases report %d and %d", a.Conn().id, c2.Conn().id, a.ID(), c2.ID())
		}
		if _, ok := pool.DialConnID(context.Background()); ok {
			t.Error("DialConnID found an ID in a plain context")
		}
		if got, ok := p.Conn(a.ID()); !ok || got != a.Conn() {
			t.Errorf("Conn(%d) = %v, %v; want the leased connection", a.ID(), got, ok)
		}
		if got, ok := p.Conn(99); ok {
			t.Errorf("Conn(99) = %v for an ID never issued", got)
		}
		a.Release()
		c2.Release()
	})
}

func TestIdleReuseIsLIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config())
		defer closePool(t, p)

		var ls []pool.Lease[*fakeConn]
		for range 3 {
			ls = append(ls, mustAcquire(t, p, ""))
		}
		for _, l := range ls {
			l.Release()
		}
		for i := 2; i >= 0; i-- {
			l := mustAcquire(t, p, "")
			if l.ID() != ls[i].ID() {
				t.Fatalf("got connection %d, want %d (released most recently)", l.ID(), ls[i].ID())
			}
			defer l.Release()
		}
	})
}

func TestCanceledBeforeAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config())
		defer closePool(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Acquire(ctx)
		if ae := acquireError(t, err); ae.Reason != pool.FailCanceled {
			t.Fatalf("reason %v, want canceled", ae.Reason)
		}
		if s := p.Stats(); s.AcquireCanceled != 1 {
			t.Fatalf("AcquireCanceled %d, want 1", s.AcquireCanceled)
		}
	})
}

// TestDiscardIsNoError: a connection the holder discards (it works, but holds
// state nobody else may see) is closed like a destroyed one, but not counted as
// a connection error.
func TestDiscardIsNoError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		p := newPool(t, b.config())
		defer closePool(t, p)

		mustAcquire(t, p, "a").Discard(errBroken)
		mustAcquire(t, p, "b").Destroy(errBroken)
		st := p.Stats()
		if st.DestroyedBy[pool.DestroyDiscarded] != 1 || st.DestroyedBy[pool.DestroyError] != 1 {
			t.Errorf("destroyed by reason %v, want one discarded and one error", st.DestroyedBy)
		}
		if st.ConnectionErrors != 1 {
			t.Errorf("%d connection errors, want 1 (the Destroy)", st.ConnectionErrors)
		}
		l := mustAcquire(t, p, "c")
		l.Discard(nil)
		if !panics(func() { l.Discard(nil) }) {
			t.Error("Discard of an ended lease did not panic")
		}
	})
}
