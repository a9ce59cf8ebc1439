package budget

import (
	"cmp"
	"slices"
)

// Step is one pool's move from the limit in force to the one wanted.
type Step struct {
	Weight int // as Claim.Weight
	// Held is how many connections the pool has open now.
	Held int
	// From is the limit in force. The pool opens no connection while it
	// holds From or more, so it never holds more than max(Held, From) until
	// its limit is raised. Negative counts as 0.
	From int
	// To is the limit wanted (Grant.Limit).
	To int
}

// Raise returns the limit to set for each step, in order, so that a pooler
// applying them never lets its pools hold more than budget between them. It
// is the second half of applying Allocate's grants, against connections that
// pools may have opened or closed since they were counted: lower every limit
// that goes down first, then count the held connections again and call
// Raise with the limits now in force.
//
// A limit that does not go up is To. One that goes up is raised only out of
// the capacity free now, budget minus the sum of max(Held, From): toward To,
// heavier pools first, then in order. The sum over the steps of max(Held,
// result) is at most max(budget, sum of max(Held, From)).
func Raise(budget int, steps []Step) []int {
	out := make([]int, len(steps))
	free := budget
	var up []int
	for i, s := range steps {
		from := max(s.From, 0)
		free -= max(s.Held, from)
		out[i] = s.To
		if s.To > from {
			out[i] = from
			up = append(up, i)
		}
	}
	slices.SortStableFunc(up, func(i, j int) int { return cmp.Compare(max(steps[j].Weight, 1), max(steps[i].Weight, 1)) })
	for _, i := range up {
		s := steps[i]
		bound := max(s.Held, out[i]) // what the pool may hold already
		to := min(s.To, bound+max(free, 0))
		free -= max(to-bound, 0)
		out[i] = max(to, out[i])
	}
	return out
}
