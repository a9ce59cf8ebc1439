package monitor

import "time"

// Series are a pool's per-second samples over a span, column by column, as
// charts (uPlot) take them. Times are Unix seconds; durations milliseconds.
type Series struct {
	Time      []int64   `json:"time"`
	Active    []float32 `json:"active"` // mean over each second
	Idle      []int32   `json:"idle"`
	Waiting   []float32 `json:"waiting"` // mean over each second
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
	ps.ring.window(ps.lastTime, span, func(x *Sample) {
		s.Time = append(s.Time, x.Time.Unix())
		s.Active = append(s.Active, x.ActiveMean)
		s.Idle = append(s.Idle, x.Idle)
		s.Waiting = append(s.Waiting, x.WaitingMean)
		s.P50 = append(s.P50, ms(x.P50))
		s.P95 = append(s.P95, ms(x.P95))
		s.P99 = append(s.P99, ms(x.P99))
		tps := 0.0
		if x.Interval > 0 {
			tps = float64(x.Transactions) / x.Interval.Seconds()
		}
		s.TPS = append(s.TPS, tps)
		s.ErrorRate = append(s.ErrorRate, ratio(x.Errors(), x.Attempts()))
	})
	return s, true
}
