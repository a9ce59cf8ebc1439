package monitor

import (
	"slices"
	"testing"
	"time"
)

// hourOfIdle returns a monitor with an hour of samples of an idle pool "p".
func hourOfIdle() (*Monitor, *sim) {
	m := New(Options{})
	s := newSim()
	for range 3600 {
		m.Observe(PoolInfo{Name: "p"}, s.second(0, 0, 0, 0, 0), s.now)
	}
	return m, s
}

// Every pool is sampled every second: judging an idle pool reads the last
// minute, not the hour the diagnosis compares query times with.
func TestObservingAnIdlePoolReadsItsWindowNotTheHour(t *testing.T) {
	m, s := hourOfIdle()
	ps := m.pools["p"]
	before := ps.ring.scanned
	m.Observe(PoolInfo{Name: "p"}, s.second(0, 0, 0, 0, 0), s.now)
	if n := ps.ring.scanned - before; n > 2*60 {
		t.Errorf("one sample of an idle pool read %d samples; want at most its minute's (60) twice", n)
	}
	// A pool whose clients wait is diagnosed, against the hour.
	for range 60 {
		m.Observe(PoolInfo{Name: "p"}, s.second(2, 3, 10, 2*time.Second, 0), s.now)
	}
	if len(ps.judged.diagnosis) == 0 {
		t.Error("clients waiting on a full pool got no diagnosis")
	}
}

// /metrics asks every pool's status at every scrape: Status answers it from
// the last judgment, where Report aggregates an hour three times over.
func TestStatusReadsNoSample(t *testing.T) {
	m, s := hourOfIdle()
	for range 90 {
		m.Observe(PoolInfo{Name: "p"}, s.second(2, 3, 10, 2*time.Second, 1), s.now)
	}
	ps := m.pools["p"]
	before := ps.ring.scanned
	st, alerts, ok := m.Status("p")
	if n := ps.ring.scanned - before; n != 0 {
		t.Errorf("Status read %d samples; want none", n)
	}
	r, _ := m.Report("p")
	if !ok || st != r.Status || !slices.EqualFunc(alerts, r.Alerts, func(a, b Alert) bool { return a.Type == b.Type }) {
		t.Errorf("Status = %v %v %v; Report has %v %v", st, alerts, ok, r.Status, r.Alerts)
	}
	if len(alerts) == 0 || st == Healthy {
		t.Errorf("a saturated pool's Status is %v with alerts %v", st, alerts)
	}
	if st, _, ok := m.Status("nope"); ok || st != Unknown {
		t.Errorf("Status of an unknown pool = %v, %v", st, ok)
	}
}

// A pool holds as many samples as it has had, up to the capacity: a short-
// lived pool (a reaped per-user pool) does not cost an hour's buffer.
func TestRingGrowsWithItsSamples(t *testing.T) {
	m := New(Options{})
	s := newSim()
	for range 10 {
		m.Observe(PoolInfo{Name: "p"}, s.second(0, 0, 0, 0, 0), s.now)
	}
	if c := cap(m.pools["p"].ring.buf); c > 64 {
		t.Errorf("after 10 samples the ring's buffer holds %d", c)
	}
	for range 4000 {
		m.Observe(PoolInfo{Name: "p"}, s.second(1, 0, 1, 0, 0), s.now)
	}
	ps := m.pools["p"]
	if c, n := cap(ps.ring.buf), ps.ring.n; c != 3600 || n != 3600 {
		t.Errorf("after 4010 samples the ring has %d of %d; want 3600 of 3600", n, c)
	}
	if w := aggregate(&ps.ring, s.now, Hour); w.Samples != 3600 || w.Acquired != 3600 {
		t.Errorf("the hour's window has %d samples, %d acquires; want 3600, 3600", w.Samples, w.Acquired)
	}
}
