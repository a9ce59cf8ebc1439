package pool_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/motorpool/motorpool/pool"
)

func TestHistogramBucketsAndQuantiles(t *testing.T) {
	var h pool.Histogram
	add := func(d time.Duration, n int) {
		for range n {
			for i := range pool.HistogramBuckets {
				if lo, hi := pool.BucketBounds(i); (i == 0 && d <= 0) || (i > 0 && d >= lo && d < hi) {
					h.Buckets[i]++
					break
				}
			}
			h.Count++
			h.Sum += d
		}
	}
	add(0, 50)
	add(time.Millisecond, 45)
	add(time.Second, 5)
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("p50 %v, want 0", got)
	}
	for q, want := range map[float64]time.Duration{0.9: time.Millisecond, 0.99: time.Second} {
		got := h.Quantile(q)
		if got < want*3/4 || got > want*5/4 {
			t.Errorf("p%v = %v, want within 25%% of %v", q*100, got, want)
		}
	}
	if got, want := h.Mean(), (45*time.Millisecond+5*time.Second)/100; got != want {
		t.Errorf("mean %v, want %v", got, want)
	}
	var prev pool.Histogram
	prev.Buckets[0], prev.Count = 50, 50
	if d := h.Sub(prev); d.Count != 50 || d.Quantile(0.5) < 750*time.Microsecond {
		t.Errorf("Sub: count %d p50 %v", d.Count, d.Quantile(0.5))
	}
	// Bounds tile the line without gaps.
	for i := 2; i < pool.HistogramBuckets; i++ {
		_, prevHi := pool.BucketBounds(i - 1)
		if lo, _ := pool.BucketBounds(i); lo != prevHi {
			t.Fatalf("bucket %d starts at %v, bucket %d ends at %v", i, lo, i-1, prevHi)
		}
	}
	if _, hi := pool.BucketBounds(pool.HistogramBuckets - 1); hi < 100*time.Hour {
		t.Fatalf("last bucket ends at %v", hi)
	}
	var empty pool.Histogram
	if empty.Quantile(0.99) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram")
	}
}

func TestStatsAcquireTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		cfg := b.config()
		cfg.MaxSize = 1
		p := newPool(t, cfg)
		defer closePool(t, p)

		mustAcquire(t, p, "").Release() // waits for the dial: 0s of fake time
		for range 97 {
			mustAcquire(t, p, "").Release() // served at once
		}
		l := mustAcquire(t, p, "")
		w := goAcquire(context.Background(), p, "")
		time.Sleep(2 * time.Second)
		l.Release() // the waiter waited 2s
		r := <-w
		r.lease.Release()
		synctest.Wait()

		s := p.Stats()
		if s.Acquired != 100 || s.Released != 100 || s.Waits != 2 || s.AcquireTime.Count != 100 {
			t.Fatalf("acquired %d released %d waits %d recorded %d", s.Acquired, s.Released, s.Waits, s.AcquireTime.Count)
		}
		if s.AcquireP50 != 0 || s.AcquireMean != 20*time.Millisecond {
			t.Fatalf("p50 %v mean %v; want 0 and 2s/100", s.AcquireP50, s.AcquireMean)
		}
		if s.AcquireP99 != 0 { // 99 of 100 did not wait
			t.Fatalf("p99 %v, want 0", s.AcquireP99)
		}
		if q := s.AcquireTime.Quantile(0.999); q < 1500*time.Millisecond || q > 2500*time.Millisecond {
			t.Fatalf("p99.9 %v, want about 2s", q)
		}
		if s.Utilization != 0 || s.Created != 1 {
			t.Fatalf("utilization %v created %d", s.Utilization, s.Created)
		}
	})
}

// Stats is sampled every second by the daemon's monitor: it must not allocate.
func TestStatsDoesNotAllocate(t *testing.T) {
	b := newBackend()
	p := newPool(t, b.config())
	defer closePool(t, p)
	mustAcquire(t, p, "").Release()
	if n := testing.AllocsPerRun(100, func() { _ = p.Stats() }); n != 0 {
		t.Fatalf("Stats allocates %v times", n)
	}
	var buf []pool.ConnInfo
	buf = p.AppendConns(buf)
	if n := testing.AllocsPerRun(100, func() { buf = p.AppendConns(buf[:0]) }); n != 0 {
		t.Fatalf("AppendConns into a reused slice allocates %v times", n)
	}
}

func TestAcquireReleaseDoesNotAllocate(t *testing.T) {
	b := newBackend()
	cfg := b.config()
	cfg.LeakThreshold = time.Minute
	cfg.Validate = b.validate
	p := newPool(t, cfg)
	defer closePool(t, p)
	mustAcquire(t, p, "").Release()
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		l, err := p.AcquireAs(ctx, "client")
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	})
	if n != 0 {
		t.Fatalf("acquire+release allocates %v times", n)
	}
}

// TestStatsAcquireTimeOnlyGrows takes snapshots while acquirers are handed
// connections: every bucket of the acquire-time histogram only grows between two
// snapshots, so a monitor can subtract them (an acquire handed over is never
// counted as "no wait" first and moved to its bucket later).
func TestStatsAcquireTimeOnlyGrows(t *testing.T) {
	cfg := newBackend().config()
	cfg.MaxSize = 1
	p := newPool(t, cfg)
	defer closePool(t, p)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				l, err := p.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				l.Release()
			}
		}()
	}
	prev := p.Stats().AcquireTime
	for range 2000 {
		cur := p.Stats().AcquireTime
		for i := range cur.Buckets {
			if cur.Buckets[i] < prev.Buckets[i] {
				t.Fatalf("bucket %d went from %d to %d", i, prev.Buckets[i], cur.Buckets[i])
			}
		}
		prev = cur
	}
	close(stop)
	wg.Wait()
}

// TestStatsOldestWait checks that OldestWait is the age of the acquirer
// waiting longest now, including acquirers that end up timing out (the
// acquire-time percentiles count only those served), and 0 once nobody waits.
func TestStatsOldestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := newBackend().config()
		cfg.MaxSize = 1
		cfg.AcquireTimeout = 10 * time.Second
		p := newPool(t, cfg)
		defer closePool(t, p)
		l := mustAcquire(t, p, "")
		if s := p.Stats(); s.OldestWait != 0 {
			t.Fatalf("OldestWait %v with nobody waiting", s.OldestWait)
		}

		first := goAcquire(context.Background(), p, "first")
		time.Sleep(2 * time.Second)
		second := goAcquire(context.Background(), p, "second")
		time.Sleep(time.Second)
		synctest.Wait()
		oldest := func(want time.Duration) {
			t.Helper()
			// The wait's start is a coarse reading, at most 10 ms early.
			if s := p.Stats(); s.OldestWait < want || s.OldestWait > want+10*time.Millisecond {
				t.Fatalf("OldestWait %v with %d waiting, want %v", s.OldestWait, s.Waiting, want)
			}
		}
		oldest(3 * time.Second)

		time.Sleep(7 * time.Second) // the first waiter times out
		synctest.Wait()
		if r, ok := ready(first); !ok || r.err == nil {
			t.Fatalf("first waiter: done %v, err %v; want its AcquireTimeout", ok, r.err)
		}
		if s := p.Stats(); s.AcquireP99 != 0 || s.AcquireTimeouts != 1 {
			t.Fatalf("p99 %v, timeouts %d: want 0 and 1", s.AcquireP99, s.AcquireTimeouts)
		}
		oldest(8 * time.Second) // the second one's

		time.Sleep(2 * time.Second)
		synctest.Wait()
		if r, ok := ready(second); !ok || r.err == nil {
			t.Fatalf("second waiter: done %v, err %v; want its AcquireTimeout", ok, r.err)
		}
		oldest(0)
		l.Release()
	})
}

// TestStatsActiveAndWaitTime: ActiveTime and WaitTime integrate Active and
// Waiting over time, ended and current leases and waits alike, so that a
// monitor reading once a second sees a burst between two readings.
func TestStatsActiveAndWaitTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := newBackend().config()
		cfg.MaxSize = 1
		cfg.AcquireTimeout = 10 * time.Second
		p := newPool(t, cfg)
		defer closePool(t, p)
		const coarse = 20 * time.Millisecond // two coarse clock readings
		near := func(what string, got, want time.Duration) {
			t.Helper()
			if got < want-coarse || got > want+coarse {
				t.Errorf("%s = %v, want %v", what, got, want)
			}
		}

		l := mustAcquire(t, p, "")
		time.Sleep(time.Second)
		waiter := goAcquire(context.Background(), p, "waiter")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s := p.Stats()
		near("ActiveTime, a lease under way", s.ActiveTime, 3*time.Second)
		near("WaitTime, a wait under way", s.WaitTime, 2*time.Second)

		l.Release() // handed to the waiter, which waited 2 s
		synctest.Wait()
		r, ok := ready(waiter)
		if !ok || r.err != nil {
			t.Fatalf("waiter: done %v, err %v", ok, r.err)
		}
		time.Sleep(500 * time.Millisecond)
		r.lease.Release()
		last := goAcquire(context.Background(), p, "") // leased at once, held from now on
		synctest.Wait()
		time.Sleep(time.Second)
		s = p.Stats()
		near("ActiveTime, three leases", s.ActiveTime, 3*time.Second+500*time.Millisecond+time.Second)
		near("WaitTime, one wait ended", s.WaitTime, 2*time.Second)
		(<-last).lease.Release()
	})
}

// TestStatsAtDatesTheIntegrals: the growth of ActiveTime and WaitTime between
// two snapshots, over that of At, is exactly the mean number of leases and of
// waiters between them, however close the snapshots are.
func TestStatsAtDatesTheIntegrals(t *testing.T) {
	cfg := newBackend().config()
	cfg.MaxSize = 2
	p := newPool(t, cfg)
	defer closePool(t, p)
	l1, l2 := mustAcquire(t, p, ""), mustAcquire(t, p, "")
	waiter := goAcquire(context.Background(), p, "waiter")
	for p.Stats().Waiting == 0 {
		runtime.Gosched()
	}
	a := p.Stats()
	for range 100 {
		b := p.Stats()
		if d := b.At.Sub(a.At); b.ActiveTime-a.ActiveTime != 2*d || b.WaitTime-a.WaitTime != d {
			t.Fatalf("over %v: ActiveTime grew %v, WaitTime %v; want %v and %v", d, b.ActiveTime-a.ActiveTime, b.WaitTime-a.WaitTime, 2*d, d)
		}
		a = b
	}
	l1.Release()
	(<-waiter).lease.Release()
	l2.Release()
}

// TestStatsTimeIntegralsNeverDecrease: a lease or wait that a snapshot counted
// as under way up to its reading must not then end, in the books, before it.
// Release and a canceled acquire read the clock before taking the pool's
// lock, so a Stats taken in between used to see a later time than the one
// they booked.
func TestStatsTimeIntegralsNeverDecrease(t *testing.T) {
	cfg := newBackend().config()
	cfg.MaxSize = 1 // every acquirer but one waits
	p := newPool(t, cfg)
	defer closePool(t, p)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithCancel(context.Background())
				if i == 0 { // gives up while waiting: waits end in abandon too
					go cancel()
				}
				if l, err := p.Acquire(ctx); err == nil {
					l.Release()
				}
				cancel()
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	prev := p.Stats()
	for range 100000 {
		s := p.Stats()
		if s.ActiveTime < prev.ActiveTime || s.WaitTime < prev.WaitTime {
			t.Fatalf("ActiveTime %v then %v, WaitTime %v then %v", prev.ActiveTime, s.ActiveTime, prev.WaitTime, s.WaitTime)
		}
		prev = s
	}
}
