package admin

import (
	"slices"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
)

// dbStats are one database's totals over its pools.
type dbStats struct {
	xacts, queries, recv, sent uint64
	xactTime, queryTime, wait  time.Duration
	// over the last minute
	w                            float64 // seconds covered
	wXacts, wQueries             uint64
	wRecv, wSent                 float64 // per second
	wXactTime, wQueryTime, wWait time.Duration
	wAcquires                    uint64
}

// totalsColumns are PgBouncer's SHOW STATS_TOTALS columns after database, and
// averagesColumns its SHOW STATS_AVERAGES ones; SHOW STATS has both, named
// as statsColumns. pgbouncer_exporter reads SHOW STATS_TOTALS.
var (
	totalsColumns   = []string{"xact_count", "query_count", "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time"}
	averagesColumns = totalsColumns
	statsColumns    = []string{"total_xact_count", "total_query_count", "total_received", "total_sent",
		"total_xact_time", "total_query_time", "total_wait_time", "avg_xact_count", "avg_query_count",
		"avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time"}
	// totalsRows are SHOW TOTALS' row names: PgBouncer calls the byte counts
	// client and server bytes there.
	totalsRows = []string{"total_xact_count", "total_query_count", "total_client_bytes", "total_server_bytes",
		"total_xact_time", "total_query_time", "total_wait_time", "avg_xact_count", "avg_query_count",
		"avg_client_bytes", "avg_server_bytes", "avg_xact_time", "avg_query_time", "avg_wait_time"}
)

// addStats adds pool p's counters, and those of its last minute, to s.
func (a *Admin) addStats(s *dbStats, p *proxy.Pool) {
	c := &p.Counters
	st := p.Core().Stats()
	s.xacts += c.Transactions.Load()
	s.queries += c.Queries.Load()
	s.recv += c.BytesIn.Load()
	s.sent += c.BytesOut.Load()
	s.xactTime += time.Duration(c.TxTimeNanos.Load())
	s.queryTime += a.obs.QueryTime(p)
	s.wait += st.AcquireTime.Sum
	w := a.report(p).Windows["1m"]
	s.w = max(s.w, float64(w.Samples))
	s.wXacts += w.Transactions
	s.wQueries += w.Queries
	s.wRecv += w.BytesInRate
	s.wSent += w.BytesOutRate
	s.wXactTime += w.TxTime.Std()
	s.wQueryTime += w.QueryTime.Std()
	s.wWait += w.AcquireMean.Std() * time.Duration(w.Acquired)
	s.wAcquires += w.Acquired
}

func us(d time.Duration) int64 { return d.Microseconds() }

// totals returns s's counts since start in the order of totalsColumns; times
// in microseconds.
func (s *dbStats) totals() []any {
	return []any{s.xacts, s.queries, s.recv, s.sent, us(s.xactTime), us(s.queryTime), us(s.wait)}
}

// averages returns s's last minute in the order of averagesColumns: counts
// and bytes per second, times as means per transaction, query or acquire, in
// microseconds.
func (s *dbStats) averages() []any {
	avg := func(total time.Duration, n uint64) int64 {
		if n == 0 {
			return 0
		}
		return us(total / time.Duration(n))
	}
	rate := func(n uint64, secs float64) int64 {
		if secs == 0 {
			return 0
		}
		return int64(float64(n)/secs + 0.5)
	}
	return []any{rate(s.wXacts, s.w), rate(s.wQueries, s.w), int64(s.wRecv), int64(s.wSent),
		avg(s.wXactTime, s.wXacts), avg(s.wQueryTime, s.wQueries), avg(s.wWait, s.wAcquires)}
}

// values returns s in the order of statsColumns.
func (s *dbStats) values() []any { return append(s.totals(), s.averages()...) }

// statsByDatabase sums every pool's statistics by database.
func (a *Admin) statsByDatabase() (dbs []string, stats map[string]*dbStats) {
	stats = map[string]*dbStats{}
	for _, p := range a.px.Pools() {
		s := stats[p.Database]
		if s == nil {
			s = &dbStats{}
			stats[p.Database] = s
			dbs = append(dbs, p.Database)
		}
		a.addStats(s, p)
	}
	slices.Sort(dbs)
	return dbs, stats
}

// statsTable is a table of one row per database, its columns cols after
// database and its values those vals returns.
func (a *Admin) statsTable(cols []string, vals func(*dbStats) []any) *table {
	t := newTable(append([]string{"database"}, cols...)...)
	dbs, stats := a.statsByDatabase()
	for _, db := range dbs {
		t.add(append([]any{db}, vals(stats[db])...)...)
	}
	return t
}

// showStats is PgBouncer's SHOW STATS, one row per database: totals since
// start, and avg_* over the last minute (PgBouncer's stats period is also a
// minute). Times are in microseconds.
func (a *Admin) showStats() *table { return a.statsTable(statsColumns, (*dbStats).values) }

// showStatsTotals is PgBouncer's SHOW STATS_TOTALS: SHOW STATS' totals alone.
func (a *Admin) showStatsTotals() *table { return a.statsTable(totalsColumns, (*dbStats).totals) }

// showStatsAverages is PgBouncer's SHOW STATS_AVERAGES: SHOW STATS' averages
// alone.
func (a *Admin) showStatsAverages() *table {
	return a.statsTable(averagesColumns, (*dbStats).averages)
}

// showTotals is PgBouncer's SHOW TOTALS: SHOW STATS summed over every pool,
// one row per statistic, named as PgBouncer names them. The averages are
// over the pools' combined traffic.
func (a *Admin) showTotals() *table {
	t := newTable("name", "value")
	var s dbStats
	for _, p := range a.px.Pools() {
		a.addStats(&s, p)
	}
	for i, v := range s.values() {
		t.add(totalsRows[i], v)
	}
	return t
}
