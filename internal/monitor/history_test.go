package monitor

import (
	"testing"
	"time"
)

// hourOfLoad feeds m and a per-second history of an hour (the layout before
// minutes) the same n seconds of a pool whose load varies from second to
// second, with a burst of waiters at second 200, long summed into a minute
// by the end.
func hourOfLoad(m *Monitor, n int) (*history, *sim) {
	ref := history{recent: newRing(3600)}
	s := newSim()
	for i := range n {
		waiting, wait, timeouts := i%3, time.Duration(i%7)*time.Millisecond, i%11/10
		if i == 200 {
			waiting, wait, timeouts = 9, 3*time.Second, 4
		}
		r := s.second(i%3, waiting, i%5, wait, timeouts)
		r.Stats.Destroyed, r.Stats.MeanLifetime = uint64(i/10), time.Minute
		r.Traffic.BytesIn, r.Traffic.BytesOut = uint64(i*i), uint64(7*i)
		var prev *Reading
		if ps := m.pools[info.Name]; ps != nil {
			prev = &ps.last
		}
		var prevTime time.Time
		if last := ref.last(); last != nil {
			prevTime = last.Time
		}
		ref.push(newSample(prev, prevTime, &r, s.now))
		m.Observe(info, r, s.now)
	}
	return &ref, s
}

// The windows of an hour summed by the minute are those of the hour second by
// second: maxima kept, counts summed, histograms merged, means weighted.
func TestMinutesGiveTheWindowsOfSeconds(t *testing.T) {
	m := New(Options{})
	ref, s := hourOfLoad(m, 3600+2*60) // the oldest minute just dropped: the hour exactly
	h := &m.pools[info.Name].history
	for _, span := range []time.Duration{Minute, FiveMinute, Hour} {
		got, want := aggregate(h, s.now, span), aggregate(ref, s.now, span)
		if got != want {
			t.Errorf("%v window from minutes:\n%+v\nfrom seconds:\n%+v", span, got, want)
		}
	}
	hour := aggregate(h, s.now, Hour)
	if hour.Samples != 3600 || hour.WaitingMax != 9 || hour.UtilizationMax != 1 || hour.Timeouts < 4 {
		t.Errorf("the hour: %d samples, waiting max %d, utilization max %v, %d timeouts",
			hour.Samples, hour.WaitingMax, hour.UtilizationMax, hour.Timeouts)
	}
	r, _ := m.Report(info.Name)
	if want := TrendsOf(aggregate(ref, s.now, FiveMinute), aggregate(ref, s.now, Hour)); r.LongTrends != want {
		t.Errorf("long trends %+v; second by second %+v", r.LongTrends, want)
	}
}

// Between two whole minutes the hour window lacks the seconds of the oldest
// minute that are still in the hour, and only those.
func TestHourWindowLacksAtMostAMinute(t *testing.T) {
	m := New(Options{})
	ref, s := hourOfLoad(m, 3600+2*60+30)
	h := &m.pools[info.Name].history
	got := aggregate(h, s.now, Hour)
	if got.Samples != 3600-30 {
		t.Errorf("the hour window covers %d seconds; want 3570", got.Samples)
	}
	want := aggregate(ref, s.now, s.now.Sub(h.minutes[0].first)+time.Nanosecond)
	want.Span = got.Span
	if got != want {
		t.Errorf("hour window from minutes:\n%+v\nfrom seconds since the oldest minute:\n%+v", got, want)
	}
}

// The chart series are per second over the five minutes the dashboard shows,
// one point a minute before.
func TestSeriesPerSecondThenPerMinute(t *testing.T) {
	m := New(Options{})
	ref, s := hourOfLoad(m, 3600+2*60)
	five, _ := m.Series(info.Name, FiveMinute)
	if len(five.Time) != 300 || five.Time[299] != s.now.Unix() || five.Time[0] != s.now.Add(-299*time.Second).Unix() {
		t.Fatalf("5-minute series: %d points", len(five.Time))
	}
	hour, _ := m.Series(info.Name, Hour)
	if len(hour.Time) != 55+300 {
		t.Fatalf("hour series: %d points; want 55 minutes and 300 seconds", len(hour.Time))
	}
	// The first point is the oldest minute: its means.
	end := s.now.Add(-(3600 - 60) * time.Second)
	w := aggregate(ref, end, Minute)
	if hour.Time[0] != end.Unix() || hour.Active[0] != float32(w.Active) || hour.TPS[0] != w.TPS || hour.ErrorRate[0] != w.ErrorRate {
		t.Errorf("first point at %d: active %v tps %v errors %v; want at %d %v %v %v",
			hour.Time[0], hour.Active[0], hour.TPS[0], hour.ErrorRate[0], end.Unix(), w.Active, w.TPS, w.ErrorRate)
	}
}
