package admin

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/motorpool/motorpool/internal/proxy"
)

// durationBuckets are the buckets of the transaction and query duration
// histograms, in seconds: 0.5 ms to 1 minute.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// poolLabels are the labels of every per-pool metric. All are bounded by the
// configuration.
var poolLabels = []string{"pool", "database", "user", "service", "mode"}

// labelValues are p's values of poolLabels. A client's user name (the user of a
// per-user pool) need not be UTF-8, and Prometheus refuses a label value that is
// not: its invalid bytes read U+FFFD, as in the API's JSON.
func labelValues(p *proxy.Pool) []string {
	lv := []string{p.Name, p.Database, p.User, p.Service, p.Mode.String()}
	for i, v := range lv {
		lv[i] = strings.ToValidUTF8(v, "\uFFFD")
	}
	return lv
}

// Observer implements proxy.Observer: it records transaction and query
// durations in Prometheus histograms and sums query time per pool for the
// monitor. Its methods take no lock after a pool's first event.
type Observer struct {
	tx, query *prometheus.HistogramVec
	pools     sync.Map // *proxy.Pool -> *poolObs
}

// poolObs holds one pool's histograms, resolved once, and its query time.
type poolObs struct {
	tx, query  prometheus.Observer
	queryNanos atomic.Uint64
}

func newObserver() *Observer {
	return &Observer{
		tx: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "motorpool", Subsystem: "pool", Name: "transaction_duration_seconds",
			Help:    "Transactions, from their first request to the server's ReadyForQuery that ended them; a statement outside a transaction block is one.",
			Buckets: durationBuckets,
		}, poolLabels),
		query: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "motorpool", Subsystem: "pool", Name: "query_duration_seconds",
			Help:    "How long servers took to answer requests (a simple query, or an extended-protocol batch up to Sync).",
			Buckets: durationBuckets,
		}, poolLabels),
	}
}

func (o *Observer) of(p *proxy.Pool) *poolObs {
	if v, ok := o.pools.Load(p); ok {
		return v.(*poolObs)
	}
	lv := labelValues(p)
	po := &poolObs{tx: o.tx.WithLabelValues(lv...), query: o.query.WithLabelValues(lv...)}
	v, _ := o.pools.LoadOrStore(p, po)
	return v.(*poolObs)
}

// Transaction implements proxy.Observer.
func (o *Observer) Transaction(p *proxy.Pool, held time.Duration) {
	o.of(p).tx.Observe(held.Seconds())
}

// Query implements proxy.Observer.
func (o *Observer) Query(p *proxy.Pool, d time.Duration) {
	po := o.of(p)
	po.query.Observe(d.Seconds())
	po.queryNanos.Add(uint64(max(d, 0)))
}

// Traffic implements proxy.Observer. Bytes are counted by the proxy's pool
// counters, which the collector reads at scrape time.
func (o *Observer) Traffic(p *proxy.Pool, in, out int) {}

// QueryTime returns the total time servers of p took to answer requests.
func (o *Observer) QueryTime(p *proxy.Pool) time.Duration {
	if v, ok := o.pools.Load(p); ok {
		return time.Duration(v.(*poolObs).queryNanos.Load())
	}
	return 0
}

// forget drops pools that are gone, keeping those listed, and their
// histograms unless a pool kept has the same labels (a pool a reload rebuilt
// with the same mode carries on with its predecessor's series).
func (o *Observer) forget(keep []*proxy.Pool) {
	live := make(map[*proxy.Pool]bool, len(keep))
	liveLabels := make(map[string]bool, len(keep))
	for _, p := range keep {
		live[p] = true
		liveLabels[strings.Join(labelValues(p), "\x00")] = true
	}
	o.pools.Range(func(k, _ any) bool {
		p := k.(*proxy.Pool)
		if live[p] {
			return true
		}
		o.pools.Delete(k)
		if lv := labelValues(p); !liveLabels[strings.Join(lv, "\x00")] {
			o.tx.DeleteLabelValues(lv...)
			o.query.DeleteLabelValues(lv...)
		}
		return true
	})
}

// Describe implements prometheus.Collector.
func (o *Observer) Describe(ch chan<- *prometheus.Desc) {
	o.tx.Describe(ch)
	o.query.Describe(ch)
}

// Collect implements prometheus.Collector.
func (o *Observer) Collect(ch chan<- prometheus.Metric) {
	o.tx.Collect(ch)
	o.query.Collect(ch)
}

var _ proxy.Observer = (*Observer)(nil)
