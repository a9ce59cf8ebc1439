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
	before := ps.history.scanned
	m.Observe(PoolInfo{Name: "p"}, s.second(0, 0, 0, 0, 0), s.now)
	if n := ps.history.scanned - before; n > 2*60 {
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
	before := ps.history.scanned
	st, alerts, ok := m.Status("p")
	if n := ps.history.scanned - before; n != 0 {
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

// A pool holds as many samples as it has had, up to five minutes: a short-
// lived pool (a reaped per-user pool) does not cost an hour's buffer, and a
// pool with an hour of history holds five minutes of seconds and the rest in
// minutes (300 samples and 55 minutes, where it held 3600 samples).
func TestHistoryGrowsWithItsSamplesAndKeepsMinutes(t *testing.T) {
	m := New(Options{})
	s := newSim()
	for range 10 {
		m.Observe(PoolInfo{Name: "p"}, s.second(0, 0, 0, 0, 0), s.now)
	}
	if c := cap(m.pools["p"].history.recent.buf); c > 64 {
		t.Errorf("after 10 samples the ring's buffer holds %d", c)
	}
	for range 4000 {
		m.Observe(PoolInfo{Name: "p"}, s.second(1, 0, 1, 0, 0), s.now)
	}
	h := &m.pools["p"].history
	if c, n := cap(h.recent.buf), h.recent.n; c != 300 || n != 300 {
		t.Errorf("after 4010 samples the ring has %d of %d; want 300 of 300", n, c)
	}
	if n, c := len(h.minutes), cap(h.minutes); n > 55 || c > 55 {
		t.Errorf("after 4010 samples the history has %d minutes (room for %d); want at most 55", n, c)
	}
	// 4010 samples: the ring's 300, 56 minutes of which the oldest was
	// dropped and the newest has 50.
	if w := aggregate(h, s.now, Hour); w.Samples != 300+54*60+50 || w.Acquired != uint64(w.Samples) {
		t.Errorf("the hour's window has %d samples, %d acquires; want %d", w.Samples, w.Acquired, 300+54*60+50)
	}
}
