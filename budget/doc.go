// Package budget shares one database's connection budget between the pools
// that use it: a fair-share allocator that turns each pool's weight,
// guaranteed minimum, maximum, demand and held connections into a limit, the
// cap a pooler sets on the pool (pool.Pool.SetLimit).
//
// It is policy only: pure functions of their arguments, with no clock, no
// goroutine and no logging, using only the standard library. A caller
// recomputes the limits periodically (motorpool does every second) from
// fresh pool statistics.
//
// # Sharing
//
// Allocate first gives every pool its guaranteed minimum. It then serves
// demand by weighted max-min fairness: each pool gets its demand up to its
// weighted share of the budget, and the share a pool does not use (its idle
// share) is lent to the pools whose demand exceeds theirs, in proportion to
// their weights. What is left once every demand is served is spread by
// weight up to each pool's maximum, so that pools can grow before the next
// recomputation. With WeightLow, WeightMedium and WeightHigh (1, 2, 4), a
// high-priority pool gets four times a low one's share when both want more
// than the budget, and no pool can take more than its share while another
// wants its own: no pool can exhaust the database for the others.
//
// A lender's share comes back at the next recomputation after its demand
// rises: the borrower's limit drops back to its own share.
//
// # The invariant
//
// A pool's connections cannot be taken back before they are released, so a
// pool above its new limit keeps them until then. Allocate therefore gives a
// pool below its share only the capacity really free: for the limits it
// returns, the sum over the pools of max(held, limit) never exceeds the
// budget (unless the pools already hold more, when no limit is raised). A
// pooler that lowers limits before raising them, and raises them with Raise
// from fresh counts of held connections, never lets the database receive
// more connections than the budget, even while shares move.
package budget
