package monitor

import (
	"math"
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

// aggregate folds the samples of r in (now-span, now] into a Window.
func aggregate(r *ring, now time.Time, span time.Duration) Window {
	w := Window{Span: Duration(span)}
	var util, active, idle, waiting float64
	var interval, waitSum, txTime, queryTime, lifetime, lease time.Duration
	var bytesIn, bytesOut uint64
	var hist pool.Histogram
	r.window(now, span, func(s *Sample) {
		w.Samples++
		util += float64(s.Utilization)
		w.UtilizationMax = max(w.UtilizationMax, float64(s.Utilization))
		active += float64(s.ActiveMean)
		idle += float64(s.Idle)
		waiting += float64(s.WaitingMean)
		// The gauge, or at least 1 if anyone waited during the second.
		w.WaitingMax = max(w.WaitingMax, int(s.Waiting), int(math.Ceil(float64(s.WaitingMean))))
		w.Acquired += uint64(s.Acquired)
		w.Timeouts += uint64(s.Timeouts)
		w.Unreachable += uint64(s.Unreachable)
		w.ConnErrors += uint64(s.ConnErrors)
		w.ValidationFailures += uint64(s.ValidationFailures)
		w.Leaks += uint64(s.Leaks)
		w.Created += uint64(s.Created)
		w.Destroyed += uint64(s.Destroyed)
		w.Errors += s.Errors()
		w.Attempts += s.Attempts()
		w.Transactions += uint64(s.Transactions)
		w.Queries += uint64(s.Queries)
		interval += s.Interval
		lease += time.Duration(float64(s.ActiveMean) * float64(s.Interval))
		waitSum += s.WaitSum
		txTime += s.TxTime
		queryTime += s.QueryTime
		lifetime += s.LifetimeSum
		bytesIn += s.BytesIn
		bytesOut += s.BytesOut
		for _, b := range s.waits {
			hist.Buckets[b.bucket] += uint64(b.count)
			hist.Count += uint64(b.count)
		}
	})
	if w.Samples == 0 {
		return w
	}
	n := float64(w.Samples)
	w.Utilization, w.Active, w.Idle, w.Waiting = util/n, active/n, idle/n, waiting/n
	w.ErrorRate = ratio(w.Errors, w.Attempts)
	hist.Sum = waitSum
	w.AcquireMean = Duration(hist.Mean())
	w.AcquireP50 = Duration(hist.Quantile(0.50))
	w.AcquireP95 = Duration(hist.Quantile(0.95))
	w.AcquireP99 = Duration(hist.Quantile(0.99))
	w.TxTime, w.QueryTime, w.LeaseTime = Duration(txTime), Duration(queryTime), Duration(lease)
	if w.Transactions > 0 {
		w.TxMean = Duration(txTime / time.Duration(w.Transactions))
	}
	if w.Queries > 0 {
		w.QueryMean = Duration(queryTime / time.Duration(w.Queries))
	}
	if w.Destroyed > 0 {
		w.MeanLifetime = Duration(lifetime / time.Duration(w.Destroyed))
	}
	if secs := interval.Seconds(); secs > 0 {
		w.TPS = float64(w.Transactions) / secs
		w.QPS = float64(w.Queries) / secs
		w.BytesInRate = float64(bytesIn) / secs
		w.BytesOutRate = float64(bytesOut) / secs
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
