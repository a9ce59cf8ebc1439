package monitor

import "time"

// Report is a pool's dashboard: the lesson's generatePoolDashboard, with the
// diagnosis and recent alert history added.
type Report struct {
	Pool         PoolInfo  `json:"pool"`
	Status       Status    `json:"status"`
	StatusReason string    `json:"status_reason"`
	UpdatedAt    time.Time `json:"updated_at"`

	Current     Current     `json:"current"`
	Performance Performance `json:"performance"`
	Settings    SettingsDoc `json:"settings"`
	// Windows are the 1-minute, 5-minute and 1-hour aggregates, by "1m",
	// "5m", "1h".
	Windows map[string]Window `json:"windows"`
	// Trends compare the last minute with the last five, and LongTrends the
	// last five minutes with the last hour.
	Trends     Trends `json:"trends"`
	LongTrends Trends `json:"long_trends"`

	Alerts          []Alert          `json:"alerts"`          // firing
	ResolvedAlerts  []Alert          `json:"resolved_alerts"` // newest first
	Recommendations []Recommendation `json:"recommendations"`
	Diagnosis       []Finding        `json:"diagnosis"`
}

// Current is the pool's state at the last sample.
type Current struct {
	Active      int     `json:"active"`
	Idle        int     `json:"idle"`
	Creating    int     `json:"creating"`
	Total       int     `json:"total"`
	Max         int     `json:"max"`
	Utilization float64 `json:"utilization"`
	// UtilizationPercentage is Utilization × 100, rounded to 0.1.
	UtilizationPercentage float64 `json:"utilization_percentage"`
	Waiting               int     `json:"waiting"` // pending requests
	ClientsActive         int     `json:"clients_active"`
	ClientsWaiting        int     `json:"clients_waiting"`
	ClientsIdle           int     `json:"clients_idle"`
}

// Performance is the lesson's performance block, over the last minute.
type Performance struct {
	AcquireMean  Duration `json:"acquire_mean_seconds"`
	AcquireP50   Duration `json:"acquire_p50_seconds"`
	AcquireP95   Duration `json:"acquire_p95_seconds"`
	AcquireP99   Duration `json:"acquire_p99_seconds"`
	MeanLifetime Duration `json:"connection_lifetime_mean_seconds"`
	Throughput   float64  `json:"transactions_per_second"`
	QueryRate    float64  `json:"queries_per_second"`
	ErrorRate    float64  `json:"error_rate"`
}

// SettingsDoc is Settings for the JSON API.
type SettingsDoc struct {
	Mode            string   `json:"pool_mode"`
	ConnectionLimit int      `json:"connection_limit"`
	PoolTimeout     Duration `json:"pool_timeout_seconds"`
	MaxLifetime     Duration `json:"max_lifetime_seconds"`
}

// Report returns the dashboard of a pool as of its last sample, and false if
// the pool is not monitored.
func (m *Monitor) Report(name string) (Report, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.pools[name]
	if ps == nil {
		return Report{}, false
	}
	return m.reportLocked(ps), true
}

// Reports returns the dashboards of every pool, sorted by name.
func (m *Monitor) Reports() []Report {
	out := []Report{}
	for _, n := range m.Names() {
		if r, ok := m.Report(n); ok {
			out = append(out, r)
		}
	}
	return out
}

func (m *Monitor) reportLocked(ps *poolState) Report {
	now := ps.lastTime
	w1, w5, w60 := aggregate(&ps.history, now, Minute), aggregate(&ps.history, now, FiveMinute), aggregate(&ps.history, now, Hour)
	judged := aggregate(&ps.history, now, m.window)
	st, r := &ps.last.Stats, &ps.last
	util := st.Utilization
	return Report{
		Pool: ps.info, Status: ps.judged.status, StatusReason: ps.judged.reason, UpdatedAt: now,
		Current: Current{
			Active: st.Active, Idle: st.Idle, Creating: st.Creating, Total: st.Total, Max: st.Max,
			Utilization: util, UtilizationPercentage: float64(int(util*1000+0.5)) / 10,
			Waiting:       st.Waiting,
			ClientsActive: r.Clients.Active, ClientsWaiting: r.Clients.Waiting, ClientsIdle: r.Clients.Idle,
		},
		Performance: Performance{
			AcquireMean: judged.AcquireMean, AcquireP50: judged.AcquireP50,
			AcquireP95: judged.AcquireP95, AcquireP99: judged.AcquireP99,
			MeanLifetime: Duration(lifetimeOf(r)),
			Throughput:   judged.TPS, QueryRate: judged.QPS, ErrorRate: judged.ErrorRate,
		},
		Settings: SettingsDoc{
			Mode: r.Settings.Mode, ConnectionLimit: r.Settings.ConnectionLimit,
			PoolTimeout: Duration(r.Settings.PoolTimeout), MaxLifetime: Duration(r.Settings.MaxLifetime),
		},
		Windows:         map[string]Window{"1m": w1, "5m": w5, "1h": w60},
		Trends:          TrendsOf(w1, w5),
		LongTrends:      TrendsOf(w5, w60),
		Alerts:          nonNil(ps.alerts.Firing()),
		ResolvedAlerts:  nonNil(ps.alerts.Resolved()),
		Recommendations: nonNil(ps.judged.recommendations),
		Diagnosis:       nonNil(ps.judged.diagnosis),
	}
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
