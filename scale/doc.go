// Package scale computes a connection pool's size from what the pool did: the
// policies behind motorpool's adaptive pool sizing. It is the policy half of
// the pair whose mechanism is package pool (Resize): it only computes, from
// metrics and the times it is given, and changes nothing itself. It keeps no
// clock, starts no goroutine, does not log and uses only the standard library.
//
// # Metrics
//
// A Sample is one reading of a pool's cumulative counters (the time integrals
// of leased connections and of waiting acquirers, and the counts of acquires);
// Between turns two readings into the Metrics of the window between them: mean
// utilization, mean wait per acquire, mean number of waiting acquirers, error
// rate and demand.
//
// # Reactive rules
//
// Rules fire when a metric crosses a threshold (above it, or below it) and move
// the pool's maximum up or down by a step, or to a target, within Bounds. Each
// rule has a cooldown: after it fires it does not fire again until the
// cooldown has passed. When several rules would fire at once, one wins (see
// Rules.Decide): the first, in order, of those that grow the pool, else the
// first of those that shrink it. Growing wins because a pool that is too
// large costs idle server connections for a cooldown, while one that is too
// small makes clients wait or fail.
//
// # Forecast
//
// A Forecaster learns, for each of the 168 hours of the week, the peak demand
// (leased connections plus waiting acquirers) seen in that hour, smoothed over
// the weeks, and predicts the peak of the coming hour, so that a pool can open
// connections before its clients ask for them. It keeps what it learned in
// memory only: a new Forecaster, such as one of a restarted process, knows
// nothing, and predicts an hour of the week only once it has seen that hour
// of the week end (so, after a restart, from a week later).
//
// Rules and a Forecaster are not safe for concurrent use; one goroutine (a
// controller ticking every second) drives each.
package scale
