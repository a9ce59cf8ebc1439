package admin

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/pool"
)

func poolDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc("motorpool_pool_"+name, help, append(append([]string{}, poolLabels...), extra...), nil)
}

// The metrics read from the pools at scrape time.
var (
	descServerConns = poolDesc("server_connections", "Server connections by state (creating, idle, active, validating, destroying).", "state")
	descClientConns = poolDesc("client_connections", "Client connections of the pool by state (active: holding a server connection, waiting, idle).", "state")
	descWaiting     = poolDesc("waiting_clients", "Acquirers waiting for a server connection (pending requests).")
	descMaxConns    = poolDesc("max_server_connections", "Effective maximum of server connections: the pool's own maximum, or a lower budget cap.")
	descOwnMax      = poolDesc("own_max_server_connections", "The pool's own maximum of server connections: connection_limit, or as scaling moved it.")
	descMinConns    = poolDesc("min_server_connections", "Minimum of server connections kept open: min_connections, or as predictive scaling raised it.")
	descUtilization = poolDesc("utilization_ratio", "Active server connections / maximum pool size.")
	descAcquireWait = poolDesc("acquire_wait_seconds", "How long successful acquires waited for a server connection (0 when one was idle).")
	descAcquires    = poolDesc("acquires_total", "Server connections handed to clients.")
	descTimeouts    = poolDesc("acquire_timeouts_total", "Acquires that failed because every server connection stayed busy until pool_timeout.")
	descUnreachable = poolDesc("acquire_unreachable_total", "Acquires that failed because the database could not be reached.")
	descOpened      = poolDesc("server_connections_opened_total", "Server connections opened.")
	descClosed      = poolDesc("server_connections_closed_total", "Server connections closed, by reason.", "reason")
	descValidation  = poolDesc("validation_failures_total", "Idle server connections that failed validation before reuse.")
	descConnErrors  = poolDesc("connection_errors_total", "Failed dials plus server connections closed for an error.")
	descLeaks       = poolDesc("leaks_detected_total", "Leases held longer than the leak threshold.")
	descSessions    = poolDesc("client_sessions_total", "Client sessions opened on the pool.")
	descReceived    = poolDesc("received_bytes_total", "Bytes relayed from clients to servers.")
	descSent        = poolDesc("sent_bytes_total", "Bytes relayed from servers to clients.")
	descHealth      = poolDesc("health_status", "Health status: 0 healthy, 1 fair, 2 warning, 3 critical, -1 unknown (no samples yet).")
	descAlert       = poolDesc("alert_firing", "1 while the alert named by reason fires (high_utilization, slow_acquisition, high_error_rate, pool_exhaustion).", "reason")
	descPaused      = poolDesc("paused", "1 while the pool's database is paused by PAUSE or KILL.")
	descScaling     = poolDesc("scaling_decisions_total", "Scaling decisions, by the bound they moved (max, min) and direction (up, down).", "bound", "direction")
)

// acquireBuckets are the upper bounds of the acquire wait histogram, in
// seconds. The pool's own histogram has finer, binary buckets; each is
// counted under the first bound at or above its upper edge, so a bucket
// count is exact to within the pool's 25 % bucket width.
var acquireBuckets = []float64{0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

var clientStates = []proxy.ClientState{proxy.StateActive, proxy.StateWaiting, proxy.StateIdle}

var alertTypes = []monitor.AlertType{monitor.HighUtilization, monitor.SlowAcquisition, monitor.HighErrorRate, monitor.PoolExhaustion}

// poolCollector reads every pool's statistics at scrape time.
type poolCollector struct{ a *Admin }

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descServerConns, descClientConns, descWaiting, descMaxConns, descOwnMax,
		descMinConns, descUtilization, descAcquireWait, descAcquires, descTimeouts, descUnreachable, descOpened,
		descClosed, descValidation, descConnErrors, descLeaks, descSessions, descReceived, descSent, descHealth,
		descAlert, descPaused, descScaling, descBudget, descBudgetInUse, descBudgetShare, descBudgetDemand} {
		ch <- d
	}
}

// scrape is what Collect reads once for all pools.
type scrape struct {
	clients map[string][4]int
	budget  map[string]proxy.BudgetPool // by pool name (collectBudgets)
	scaling map[string]proxy.ScalingCounts
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	sc := scrape{clients: c.a.px.ClientCounts(), budget: c.collectBudgets(ch), scaling: c.a.px.ScalingCounts()}
	// Two pools with the same labels (user names that differ only in bytes that
	// are not UTF-8) would fail the whole scrape: the second is left out.
	seen := make(map[string]bool)
	for _, p := range c.a.px.Pools() {
		key := strings.Join(labelValues(p), "\x00")
		if !seen[key] {
			seen[key] = true
			c.collectPool(ch, p, sc)
		}
	}
}

func (c *poolCollector) collectPool(ch chan<- prometheus.Metric, p *proxy.Pool, sc scrape) {
	lv := labelValues(p)
	cl := sc.clients[p.Name]
	st := p.Core().Stats()
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv, extra...)...)
	}
	counter := func(d *prometheus.Desc, v uint64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(lv, extra...)...)
	}
	for s, n := range map[pool.State]int{pool.StateCreating: st.Creating, pool.StateIdle: st.Idle, pool.StateActive: st.Active,
		pool.StateValidating: st.Validating, pool.StateDestroying: st.Destroying} {
		gauge(descServerConns, float64(n), s.String())
	}
	for _, s := range clientStates {
		gauge(descClientConns, float64(cl[s]), s.String())
	}
	gauge(descWaiting, float64(st.Waiting))
	gauge(descMaxConns, float64(st.Max))
	gauge(descOwnMax, float64(st.MaxSize))
	gauge(descMinConns, float64(st.MinSize))
	gauge(descUtilization, st.Utilization)
	count, sum, buckets := promHistogram(&st.AcquireTime)
	ch <- prometheus.MustNewConstHistogram(descAcquireWait, count, sum, buckets, lv...)
	counter(descAcquires, st.Acquired)
	counter(descTimeouts, st.AcquireTimeouts)
	counter(descUnreachable, st.AcquireUnreachable)
	counter(descOpened, st.Created)
	for r := range pool.NumDestroyReasons {
		counter(descClosed, st.DestroyedBy[r], pool.DestroyReason(r).String())
	}
	counter(descValidation, st.ValidationFailures)
	counter(descConnErrors, st.ConnectionErrors)
	counter(descLeaks, st.LeaksDetected)
	counter(descSessions, p.Counters.Sessions.Load())
	counter(descReceived, p.Counters.BytesIn.Load())
	counter(descSent, p.Counters.BytesOut.Load())

	// Status, not Report: a report aggregates the pool's whole hour.
	status, alerts, _ := c.a.mon.Status(p.Name)
	firing := map[monitor.AlertType]bool{}
	for _, al := range alerts {
		firing[al.Type] = true
	}
	gauge(descHealth, float64(status.Rank()-1))
	for _, t := range alertTypes {
		gauge(descAlert, b2f(firing[t]), string(t))
	}
	gauge(descPaused, b2f(c.a.px.IsPaused(p.Database)))
	if !p.Retired() { // scaling counts go with the name, to the pool that replaced it
		n := sc.scaling[p.Name]
		counter(descScaling, n.MaxUp, "max", "up")
		counter(descScaling, n.MaxDown, "max", "down")
		counter(descScaling, n.MinUp, "min", "up")
		counter(descScaling, n.MinDown, "min", "down")
	}
	if bp, ok := sc.budget[p.Name]; ok {
		gauge(descBudgetShare, float64(bp.Share))
		gauge(descBudgetDemand, bp.Demand)
	}
}

// promHistogram converts a pool histogram into Prometheus' cumulative form.
func promHistogram(h *pool.Histogram) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(acquireBuckets))
	for i, n := range h.Buckets {
		if n == 0 {
			continue
		}
		_, hi := pool.BucketBounds(i)
		for _, le := range acquireBuckets {
			if hi.Seconds() <= le {
				buckets[le] += n
			}
		}
	}
	for _, le := range acquireBuckets {
		buckets[le] += 0 // every bound appears, even when empty
	}
	return h.Count, h.Sum.Seconds(), buckets
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
