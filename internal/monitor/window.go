package monitor

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// The sliding windows the monitor aggregates over.
const (
	Minute     = time.Minute
	FiveMinute = 5 * time.Minute
	Hour       = time.Hour
)

// Window aggregates a pool's samples over a span of time. Gauges are means
// over the samples (and maxima where named so); counts are totals; rates are
// per second of the samples' intervals. The zero Window (no samples) reads as
// an idle pool.
type Window struct {
	Span    Duration `json:"span_seconds"`
	Samples int      `json:"samples"` // seconds of data actually covered

	Utilization    float64 `json:"utilization"` // mean of Active/Max
	UtilizationMax float64 `json:"utilization_max"`
	Active         float64 `json:"active"`
	Idle           float64 `json:"idle"`
	Waiting        float64 `json:"waiting"` // acquirers waiting, mean
	WaitingMax     int     `json:"waiting_max"`

	Acquired           uint64  `json:"acquired"`
	Timeouts           uint64  `json:"acquire_timeouts"`
	Unreachable        uint64  `json:"acquire_unreachable"`
	ConnErrors         uint64  `json:"connection_errors"`
	ValidationFailures uint64  `json:"validation_failures"`
	Leaks              uint64  `json:"leaks"`
	Created            uint64  `json:"connections_opened"`
	Destroyed          uint64  `json:"connections_closed"`
	Errors             uint64  `json:"errors"`
	Attempts           uint64  `json:"attempts"`
	ErrorRate          float64 `json:"error_rate"` // Errors/Attempts, at most 1

	AcquireMean Duration `json:"acquire_mean_seconds"`
	AcquireP50  Duration `json:"acquire_p50_seconds"`
	AcquireP95  Duration `json:"acquire_p95_seconds"`
	AcquireP99  Duration `json:"acquire_p99_seconds"`

	Transactions uint64   `json:"transactions"`
	Queries      uint64   `json:"queries"`
	TPS          float64  `json:"transactions_per_second"`
	QPS          float64  `json:"queries_per_second"`
	TxMean       Duration `json:"transaction_mean_seconds"` // how long a lease was held
	QueryMean    Duration `json:"query_mean_seconds"`
	TxTime       Duration `json:"transaction_time_seconds"` // total
	// LeaseTime is how long server connections were leased to clients, in
	// total: TxTime in transaction mode, whole sessions in session mode.
	LeaseTime    Duration `json:"lease_time_seconds"`
	QueryTime    Duration `json:"query_time_seconds"` // total
	BytesInRate  float64  `json:"bytes_in_per_second"`
	BytesOutRate float64  `json:"bytes_out_per_second"`
	// MeanLifetime is the mean age of the connections closed in the window.
	MeanLifetime Duration `json:"closed_lifetime_mean_seconds"`
}

// aggregate folds the samples of h in (now-span, now] into a Window; a
// minute of the older history counts if its first sample does.
func aggregate(h *history, now time.Time, span time.Duration) Window {
	var t tally
	h.window(now, span, func(m *minute) { t.add(&m.tally) }, t.addSample)
	return t.window(span)
}

// tally sums samples as a Window needs them: gauges summed for their means
// and kept as maxima, counts and times summed, the acquire-time histograms
// merged. A minute of history is one.
type tally struct {
	samples                         int
	util, active, idle, waiting     float64 // sums of the samples' means
	utilMax                         float64
	waitingMax                      int
	acquired, timeouts, unreachable uint64
	connErrors, validationFailures  uint64
	leaks, created, destroyed       uint64
	errors, attempts                uint64
	transactions, queries           uint64
	bytesIn, bytesOut               uint64
	interval, lease, waitSum        time.Duration
	txTime, queryTime, lifetime     time.Duration
	waits                           []bucketCount // by bucket
}

func (t *tally) addSample(s *Sample) {
	u := float64(s.Utilization)
	t.add(&tally{
		samples: 1,
		util:    u, utilMax: u,
		active: float64(s.ActiveMean), idle: float64(s.Idle), waiting: float64(s.WaitingMean),
		// The gauge, or at least 1 if anyone waited during the second.
		waitingMax: max(int(s.Waiting), int(math.Ceil(float64(s.WaitingMean)))),
		acquired:   uint64(s.Acquired), timeouts: uint64(s.Timeouts), unreachable: uint64(s.Unreachable),
		connErrors: uint64(s.ConnErrors), validationFailures: uint64(s.ValidationFailures),
		leaks: uint64(s.Leaks), created: uint64(s.Created), destroyed: uint64(s.Destroyed),
		errors: s.Errors(), attempts: s.Attempts(),
		transactions: uint64(s.Transactions), queries: uint64(s.Queries),
		bytesIn: s.BytesIn, bytesOut: s.BytesOut,
		interval: s.Interval, lease: time.Duration(float64(s.ActiveMean) * float64(s.Interval)), waitSum: s.WaitSum,
		txTime: s.TxTime, queryTime: s.QueryTime, lifetime: s.LifetimeSum,
		waits: s.waits,
	})
}

func (t *tally) add(o *tally) {
	t.samples += o.samples
	t.util += o.util
	t.utilMax = max(t.utilMax, o.utilMax)
	t.active += o.active
	t.idle += o.idle
	t.waiting += o.waiting
	t.waitingMax = max(t.waitingMax, o.waitingMax)
	t.acquired += o.acquired
	t.timeouts += o.timeouts
	t.unreachable += o.unreachable
	t.connErrors += o.connErrors
	t.validationFailures += o.validationFailures
	t.leaks += o.leaks
	t.created += o.created
	t.destroyed += o.destroyed
	t.errors += o.errors
	t.attempts += o.attempts
	t.transactions += o.transactions
	t.queries += o.queries
	t.bytesIn += o.bytesIn
	t.bytesOut += o.bytesOut
	t.interval += o.interval
	t.lease += o.lease
	t.waitSum += o.waitSum
	t.txTime += o.txTime
	t.queryTime += o.queryTime
	t.lifetime += o.lifetime
	t.waits = addWaits(t.waits, o.waits)
}

// addWaits adds the sparse histogram from to to, both ordered by bucket.
func addWaits(to, from []bucketCount) []bucketCount {
	for _, b := range from {
		i, found := slices.BinarySearchFunc(to, b.bucket, func(c bucketCount, k uint8) int { return cmp.Compare(c.bucket, k) })
		if found {
			to[i].count += b.count
		} else {
			to = slices.Insert(to, i, b)
		}
	}
	return to
}

// histogram returns the acquire times tallied.
func (t *tally) histogram() pool.Histogram {
	h := pool.Histogram{Sum: t.waitSum}
	for _, b := range t.waits {
		h.Buckets[b.bucket] += uint64(b.count)
		h.Count += uint64(b.count)
	}
	return h
}

// window makes the tally of a span into its Window.
func (t *tally) window(span time.Duration) Window {
	w := Window{Span: Duration(span), Samples: t.samples}
	if t.samples == 0 {
		return w
	}
	w.UtilizationMax, w.WaitingMax = t.utilMax, t.waitingMax
	w.Acquired, w.Timeouts, w.Unreachable = t.acquired, t.timeouts, t.unreachable
	w.ConnErrors, w.ValidationFailures = t.connErrors, t.validationFailures
	w.Leaks, w.Created, w.Destroyed = t.leaks, t.created, t.destroyed
	w.Errors, w.Attempts = t.errors, t.attempts
	w.Transactions, w.Queries = t.transactions, t.queries
	n := float64(t.samples)
	w.Utilization, w.Active, w.Idle, w.Waiting = t.util/n, t.active/n, t.idle/n, t.waiting/n
	w.ErrorRate = ratio(w.Errors, w.Attempts)
	hist := t.histogram()
	w.AcquireMean = Duration(hist.Mean())
	w.AcquireP50 = Duration(hist.Quantile(0.50))
	w.AcquireP95 = Duration(hist.Quantile(0.95))
	w.AcquireP99 = Duration(hist.Quantile(0.99))
	w.TxTime, w.QueryTime, w.LeaseTime = Duration(t.txTime), Duration(t.queryTime), Duration(t.lease)
	if w.Transactions > 0 {
		w.TxMean = Duration(t.txTime / time.Duration(w.Transactions))
	}
	if w.Queries > 0 {
		w.QueryMean = Duration(t.queryTime / time.Duration(w.Queries))
	}
	if w.Destroyed > 0 {
		w.MeanLifetime = Duration(t.lifetime / time.Duration(w.Destroyed))
	}
	if secs := t.interval.Seconds(); secs > 0 {
		w.TPS = float64(w.Transactions) / secs
		w.QPS = float64(w.Queries) / secs
		w.BytesInRate = float64(t.bytesIn) / secs
		w.BytesOutRate = float64(t.bytesOut) / secs
	}
	return w
}

// ratio returns errors/attempts, capped at 1: connection errors can outnumber
// acquires while a database is down. With no attempts it is 1 if anything
// failed, else 0.
func ratio(errors, attempts uint64) float64 {
	switch {
	case attempts == 0 && errors == 0:
		return 0
	case errors >= attempts:
		return 1
	}
	return float64(errors) / float64(attempts)
}
