package budget

// Allocate shares budget between the pools of claims and returns each pool's
// grant, in the order of claims. A budget of 0 or less grants nothing.
//
// Shares are computed in three rounds, each by weighted max-min fairness
// (see the package documentation): the guaranteed minimums; then demand,
// each pool at least its minimum and at most its demand; then, if budget is
// left over, up to each pool's maximum. The shares sum to at most budget.
//
// Limits follow the shares while respecting what pools hold: a pool holding
// its share or more gets its share as limit; the others get what they hold
// plus the capacity not held by any pool, shared by weight, first toward
// their minimums, then toward their shares. The sum over the pools of
// max(Held, Limit) is at most max(budget, sum of Held).
func Allocate(budget int, claims []Claim) []Grant {
	n := len(claims)
	grants := make([]Grant, n)
	if budget <= 0 || n == 0 {
		return grants
	}
	w, lo, hi := make([]int, n), make([]int, n), make([]int, n)
	for i, c := range claims {
		w[i], lo[i], hi[i] = c.bounds()
	}
	shares := shares(budget, claims, w, lo, hi)
	limits := limits(budget, claims, shares, w, lo)
	for i := range grants {
		grants[i] = Grant{Share: shares[i], Limit: limits[i]}
	}
	return grants
}

// shares returns each pool's share of budget.
func shares(budget int, claims []Claim, w, lo, hi []int) []int {
	zero := make([]int, len(claims))
	if sum(lo) > budget {
		return fill(budget, zero, lo, w)
	}
	want := make([]int, len(claims))
	for i, c := range claims {
		want[i] = min(max(c.Demand, lo[i]), hi[i])
	}
	if sum(want) >= budget {
		return fill(budget, lo, want, w)
	}
	return fill(budget, want, hi, w)
}

// limits returns each pool's limit, given its share: see Allocate.
func limits(budget int, claims []Claim, shares, w, lo []int) []int {
	n := len(claims)
	limit := make([]int, n)
	free := budget
	toMin, toShare := make([]int, n), make([]int, n) // room to grow
	for i, c := range claims {
		held := max(c.Held, 0)
		free -= held
		if held >= shares[i] {
			limit[i] = shares[i]
			continue
		}
		limit[i] = held
		toMin[i] = max(min(lo[i], shares[i])-held, 0)
		toShare[i] = shares[i] - held
	}
	if free <= 0 {
		return limit
	}
	zero := make([]int, n)
	grow := fill(min(free, sum(toMin)), zero, toMin, w)
	more := fill(free, grow, toShare, w)
	for i := range limit {
		limit[i] += more[i]
	}
	return limit
}
