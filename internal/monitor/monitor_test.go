package monitor

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// sim builds cumulative readings second by second, as a sampler would.
type sim struct {
	now time.Time
	r   Reading
}

func newSim() *sim {
	s := &sim{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	s.r.Settings = Settings{Mode: "transaction", ConnectionLimit: 2, PoolTimeout: 2 * time.Second, MaxLifetime: time.Hour}
	s.r.Stats.Max, s.r.Stats.MaxSize = 2, 2
	return s
}

// second advances one second with active connections busy, waiting
// acquirers, acquires that each waited wait, and timeouts.
func (s *sim) second(active, waiting int, acquires int, wait time.Duration, timeouts int) Reading {
	s.now = s.now.Add(time.Second)
	st := &s.r.Stats
	st.Active, st.Idle, st.Waiting, st.Total = active, st.Max-active, waiting, st.Max
	st.Utilization = float64(active) / float64(st.Max)
	st.ActiveTime += time.Duration(active) * time.Second // as busy all second long
	st.WaitTime += time.Duration(waiting) * time.Second
	st.Acquired += uint64(acquires)
	st.AcquireTimeouts += uint64(timeouts)
	for range acquires {
		recordWait(&st.AcquireTime, wait)
	}
	s.r.Traffic.Transactions += uint64(acquires)
	s.r.Traffic.TxTime += time.Duration(acquires) * time.Second
	s.r.Traffic.Queries += uint64(acquires)
	s.r.Traffic.QueryTime += time.Duration(acquires) * 990 * time.Millisecond
	return s.r
}

// recordWait adds one acquire to h in the bucket the pool would use.
func recordWait(h *pool.Histogram, d time.Duration) {
	i := 0
	if d > 0 {
		for i = 1; i < pool.HistogramBuckets-1; i++ {
			if _, hi := pool.BucketBounds(i); d < hi {
				break
			}
		}
	}
	h.Buckets[i]++
	h.Count++
	h.Sum += d
}

var info = PoolInfo{Name: "shop", Database: "shop", User: "app"}

func TestMonitorSaturationFiresAndResolves(t *testing.T) {
	m := New(Options{})
	s := newSim()
	for range 30 { // quiet
		m.Observe(info, s.second(0, 0, 5, 0, 0), s.now)
	}
	if r, _ := m.Report("shop"); r.Status != Healthy || len(r.Alerts) != 0 {
		t.Fatalf("quiet pool: %s %v", r.Status, r.Alerts)
	}
	var fired []Event
	var firedAt time.Time
	for range 60 { // 2 connections, 18 clients waiting ~2 s, some time out
		f, _ := m.Observe(info, s.second(2, 18, 2, 1800*time.Millisecond, 3), s.now)
		for _, e := range f {
			if e.Type == PoolExhaustion {
				firedAt = s.now
			}
		}
		fired = append(fired, f...)
	}
	r, _ := m.Report("shop")
	if r.Status != Critical {
		t.Fatalf("saturated pool is %s (%s)", r.Status, r.StatusReason)
	}
	if !hasAlert(r.Alerts, PoolExhaustion) || !hasAlert(r.Alerts, HighErrorRate) {
		t.Fatalf("alerts %+v", r.Alerts)
	}
	if firedAt.IsZero() || !firedAt.Equal(s.now.Add(-59*time.Second)) {
		t.Fatalf("pool_exhaustion fired at %v (now %v)", firedAt, s.now)
	}
	if len(r.Recommendations) == 0 || r.Recommendations[0].Setting != "connection_limit" || r.Recommendations[0].Suggested != "3" {
		t.Fatalf("recommendations %+v", r.Recommendations)
	}
	if len(r.Diagnosis) == 0 || r.Diagnosis[0].Cause != PoolTooSmall {
		t.Fatalf("diagnosis %+v", r.Diagnosis)
	}
	if r.Current.Waiting != 18 || r.Current.UtilizationPercentage != 100 {
		t.Fatalf("current %+v", r.Current)
	}
	if r.Trends.Utilization != Rising || r.Trends.Waiting != Rising {
		t.Fatalf("trends %+v", r.Trends)
	}

	// Load stops: the alert resolves once a minute passes without timeouts.
	var resolvedAt time.Time
	for i := 0; i < 120 && resolvedAt.IsZero(); i++ {
		_, rs := m.Observe(info, s.second(0, 0, 5, 0, 0), s.now)
		for _, e := range rs {
			if e.Type == PoolExhaustion {
				resolvedAt = *e.ResolvedAt
			}
		}
	}
	if want := firedAt.Add(59*time.Second + time.Minute); !resolvedAt.Equal(want) {
		t.Fatalf("resolved at %v, want %v", resolvedAt, want)
	}
	r, _ = m.Report("shop")
	if hasAlert(r.Alerts, PoolExhaustion) || !hasAlert(r.ResolvedAlerts, PoolExhaustion) {
		t.Fatalf("after load: firing %+v resolved %+v", r.Alerts, r.ResolvedAlerts)
	}
	if r.Status != Healthy {
		t.Fatalf("after load %s (%s)", r.Status, r.StatusReason)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

func hasAlert(as []Alert, typ AlertType) bool {
	for _, a := range as {
		if a.Type == typ {
			return true
		}
	}
	return false
}

func TestWindowsAndRing(t *testing.T) {
	m := New(Options{Capacity: 120})
	s := newSim()
	for i := range 200 {
		m.Observe(info, s.second(1, 0, 10, time.Duration(i)*time.Millisecond, 0), s.now)
	}
	r, _ := m.Report("shop")
	w1, w5 := r.Windows["1m"], r.Windows["5m"]
	if w1.Samples != 60 || w5.Samples != 120 {
		t.Fatalf("samples 1m %d, 5m %d (ring of 120)", w1.Samples, w5.Samples)
	}
	if w1.TPS != 10 || w1.Transactions != 600 || w1.Utilization != 0.5 {
		t.Fatalf("1m window %+v", w1)
	}
	// Waits in the last minute were 140..199 ms: mean 169.5 ms.
	if got := w1.AcquireMean.Std(); got != 169500*time.Microsecond {
		t.Fatalf("mean acquire %v", got)
	}
	if p := w1.AcquireP50.Std(); p < 150*time.Millisecond || p > 190*time.Millisecond {
		t.Fatalf("p50 %v", p)
	}
	series, ok := m.Series("shop", time.Minute)
	if !ok || len(series.Time) != 60 || series.TPS[59] != 10 || series.Active[0] != 1 {
		t.Fatalf("series %d points", len(series.Time))
	}
	if _, ok := m.Series("nope", time.Minute); ok {
		t.Fatal("series of unknown pool")
	}
}

func TestPoolReplacedCountsFromZero(t *testing.T) {
	m := New(Options{})
	s := newSim()
	for range 5 {
		m.Observe(info, s.second(0, 0, 100, 0, 0), s.now)
	}
	s.r.Stats = pool.Stats{Max: 2, MaxSize: 2} // a reload replaced the pool
	s.r.Traffic = Traffic{}
	m.Observe(info, s.second(0, 0, 3, 0, 0), s.now)
	r, _ := m.Report("shop")
	if w := r.Windows["1m"]; w.Acquired != 4*100+3 {
		t.Fatalf("acquired %d", w.Acquired)
	}
}

func TestUnreachableDiagnosis(t *testing.T) {
	m := New(Options{})
	s := newSim()
	s.r.Stats.LastDialError = errors.New("dial tcp 127.0.0.1:1: connection refused")
	for range 10 {
		s.r.Stats.ConnectionErrors += 2
		s.r.Stats.AcquireUnreachable++
		m.Observe(info, s.second(0, 3, 0, 0, 0), s.now)
	}
	r, _ := m.Report("shop")
	if r.Status != Critical || len(r.Diagnosis) == 0 || r.Diagnosis[0].Cause != DatabaseUnreachable {
		t.Fatalf("status %s diagnosis %+v", r.Status, r.Diagnosis)
	}
	m.Retain(nil)
	if len(m.Names()) != 0 {
		t.Fatal("Retain kept a pool")
	}
}

func TestSubHistogramClampsShrinkingBuckets(t *testing.T) {
	var prev, cur pool.Histogram
	// prev: one acquire handed over but not yet recorded, counted as no wait.
	prev.Buckets[0], prev.Count = 1, 1
	// cur: it is recorded with its real wait, and a second one waited too.
	recordWait(&cur, 2*time.Second)
	recordWait(&cur, 2*time.Second)
	h := subHistogram(&cur, &prev)
	if h.Buckets[0] != 0 || h.Count != 2 || h.Quantile(0.95) < time.Second {
		t.Fatalf("delta %d in bucket 0, count %d, p95 %v", h.Buckets[0], h.Count, h.Quantile(0.95))
	}
}

// TestErrorRateCountsAFailedDialOnce: an acquire that fails as unreachable
// failed because a dial did; the two are one error, not two.
func TestErrorRateCountsAFailedDialOnce(t *testing.T) {
	for _, tt := range []struct {
		name                                   string
		acquired, unreachable, dialErr, broken uint64
		errors                                 uint64
		rate                                   float64
	}{
		{"every dial refused", 0, 8, 8, 0, 8, 1},
		{"one refused dial fails many waiters", 0, 8, 1, 0, 8, 1},
		{"a refused dial retried in time", 100, 0, 1, 0, 1, 0.01},
		{"one of twenty acquires unreachable", 19, 1, 1, 0, 1, 0.05},
		{"connections broken in use", 19, 1, 1, 2, 3, 0.15},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{})
			s := newSim()
			m.Observe(info, s.second(0, 0, 0, 0, 0), s.now)
			st := &s.r.Stats
			st.AcquireUnreachable += tt.unreachable
			st.DialErrors += tt.dialErr
			st.ConnectionErrors += tt.dialErr + tt.broken
			m.Observe(info, s.second(0, 0, int(tt.acquired), 0, 0), s.now)
			r, _ := m.Report("shop")
			w := r.Windows["1m"]
			if w.Errors != tt.errors || w.ErrorRate != tt.rate {
				t.Errorf("%d errors of %d attempts (rate %v), want %d (rate %v)", w.Errors, w.Attempts, w.ErrorRate, tt.errors, tt.rate)
			}
		})
	}
}

// TestBurstsBetweenReadingsCount: a burst that ends before the sampler reads the
// pool (a web API's queue filling and draining in 150 ms) is seen through the
// pool's time integrals: at the readings nobody is busy or waiting, yet the
// seconds were 90 % busy with 3 clients waiting on average.
func TestBurstsBetweenReadingsCount(t *testing.T) {
	m := New(Options{})
	s := newSim()
	for range 120 { // the first sample, without an interval, is out of the last minute
		s.now = s.now.Add(time.Second)
		st := &s.r.Stats
		st.Active, st.Idle, st.Waiting, st.Utilization = 0, st.Max, 0, 0 // the gauges, after the burst
		st.ActiveTime += 1800 * time.Millisecond                         // 2 connections, busy 0.9 s
		st.WaitTime += 3 * time.Second                                   // e.g. 20 clients for 150 ms
		m.Observe(info, s.r, s.now)
	}
	r, ok := m.Report("shop")
	if !ok {
		t.Fatal("no report")
	}
	w := r.Windows["1m"]
	if w.Utilization < 0.89 || w.Utilization > 0.91 || w.Waiting < 2.9 || w.Waiting > 3.1 || w.WaitingMax < 3 {
		t.Errorf("1m window: utilization %.2f, waiting %.2f (at most %d); want 0.90, 3 and at least 3", w.Utilization, w.Waiting, w.WaitingMax)
	}
	if !hasAlert(r.Alerts, HighUtilization) {
		t.Errorf("no high_utilization alert at 90 %% busy: %+v", r.Alerts)
	}
}
