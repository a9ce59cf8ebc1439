package monitor

import "time"

// Series are a pool's samples over a span, column by column, as charts
// (uPlot) take them: one point a second for the last five minutes (what the
// dashboard shows), one a minute before, each the minute's means, taken at
// its last second. Times are Unix seconds; durations milliseconds.
type Series struct {
	Time      []int64   `json:"time"`
	Active    []float32 `json:"active"` // mean over each point
	Idle      []int32   `json:"idle"`
	Waiting   []float32 `json:"waiting"` // mean over each point
	P50       []float64 `json:"acquire_p50_ms"`
	P95       []float64 `json:"acquire_p95_ms"`
	P99       []float64 `json:"acquire_p99_ms"`
	TPS       []float64 `json:"transactions_per_second"`
	ErrorRate []float64 `json:"error_rate"`
}

// Series returns the samples of a pool taken in the span before its last
// sample, and false if the pool is not monitored.
func (m *Monitor) Series(name string, span time.Duration) (Series, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.pools[name]
	if ps == nil {
		return Series{}, false
	}
	s := Series{Time: []int64{}, Active: []float32{}, Idle: []int32{}, Waiting: []float32{},
		P50: []float64{}, P95: []float64{}, P99: []float64{}, TPS: []float64{}, ErrorRate: []float64{}}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	point := func(t time.Time, active float32, idle int32, waiting float32, p50, p95, p99 time.Duration,
		tps, errorRate float64) {
		s.Time = append(s.Time, t.Unix())
		s.Active = append(s.Active, active)
		s.Idle = append(s.Idle, idle)
		s.Waiting = append(s.Waiting, waiting)
		s.P50 = append(s.P50, ms(p50))
		s.P95 = append(s.P95, ms(p95))
		s.P99 = append(s.P99, ms(p99))
		s.TPS = append(s.TPS, tps)
		s.ErrorRate = append(s.ErrorRate, errorRate)
	}
	ps.history.window(ps.lastTime, span, func(x *minute) {
		w := x.window(time.Minute)
		point(x.last, float32(w.Active), int32(w.Idle+0.5), float32(w.Waiting),
			w.AcquireP50.Std(), w.AcquireP95.Std(), w.AcquireP99.Std(), w.TPS, w.ErrorRate)
	}, func(x *Sample) {
		tps := 0.0
		if x.Interval > 0 {
			tps = float64(x.Transactions) / x.Interval.Seconds()
		}
		point(x.Time, x.ActiveMean, x.Idle, x.WaitingMean, x.P50, x.P95, x.P99, tps, ratio(x.Errors(), x.Attempts()))
	})
	return s, true
}
