// Package monitor turns pool statistics into what an operator acts on: a
// health status (healthy, fair, warning, critical), alerts that fire and
// resolve with timestamps, recommendations naming the exact setting to change,
// trends, and a diagnosis of why clients wait.
//
// It is policy only. A sampler outside the package reads each pool once a
// second (pool.Stats, the proxy's traffic counters, the observer's query
// times) into a [Reading] and hands it to [Monitor.Observe] with the time of
// the reading. The monitor keeps the last five minutes of per-second [Sample]s
// per pool (the differences between consecutive readings) and sums of each
// minute before them back to the hour, aggregates them over
// sliding windows of 1 minute, 5 minutes and 1 hour ([Window]), and evaluates
// the rules — [Health], [Conditions], [Recommend], [TrendsOf], [Diagnose] —
// which are pure functions of windows, settings and [Thresholds]. The only
// clock is the one the caller passes in, so tests drive every rule
// deterministically.
//
// The rules and their thresholds come from the connection-pooling lesson's
// PoolMonitor and DESIGN.md; [DefaultThresholds] documents each number.
package monitor
