package budget

// The weights of the three priorities motorpool's services have: a high
// priority pool's share is twice a medium one's and four times a low one's.
const (
	WeightLow    = 1
	WeightMedium = 2
	WeightHigh   = 4
)

// Claim is one pool's claim on a budget.
type Claim struct {
	// Weight is the pool's share relative to the others'. Below 1 counts
	// as 1.
	Weight int
	// Min is the guaranteed minimum: the pool's share never falls below it
	// (above its Max it counts as Max). When the minimums of all pools sum
	// to more than the budget, the budget is split between them by weight,
	// up to each one's minimum. Negative counts as 0.
	Min int
	// Max is the pool's own maximum (which a scaler may move); the pool is
	// never given more. Negative counts as 0.
	Max int
	// Demand is how many connections the pool needs now: leased ones plus
	// acquirers waiting, smoothed by the caller (see Demand). It counts
	// between Min and Max.
	Demand int
	// Held is how many connections the pool has open now, in every state.
	// They cannot be taken back until released. Negative counts as 0.
	Held int
}

// Grant is what Allocate gives one pool.
type Grant struct {
	// Share is what the pool is entitled to now: its limit once the pools
	// above their own shares have released what they hold beyond them.
	Share int
	// Limit is the cap to set now: Share for a pool at or above its share
	// (it closes idle connections above it at once, leased ones when
	// released), and for a pool below its share what it holds plus its part
	// of the capacity really free, which may be less than Share while
	// others give connections back.
	Limit int
}

// bounds returns c's weight, minimum and maximum as Allocate counts them.
func (c Claim) bounds() (weight, lo, hi int) {
	hi = max(c.Max, 0)
	return max(c.Weight, 1), min(max(c.Min, 0), hi), hi
}
