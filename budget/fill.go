package budget

import (
	"cmp"
	"slices"
)

// fill shares amount between pools by weighted max-min fairness: pool i gets
// clamp(λ·w[i], lo[i], hi[i]) for the level λ at which the sum is amount
// (or hi[i] when the his sum to less), rounded to whole connections. The
// caller ensures lo[i] <= hi[i] and that the los sum to at most amount.
//
// Rounding gives the connections left by truncation one each to the pools
// furthest below their exact part, then to the heavier ones, then to the
// earlier ones, so that the result is deterministic.
func fill(amount int, lo, hi, w []int) []int {
	x := make([]int, len(lo))
	if sum(hi) <= amount {
		copy(x, hi)
		return x
	}
	// Bisect the level: at λ = top every pool is at its hi.
	low, top := 0.0, 0.0
	for i := range hi {
		top = max(top, float64(hi[i])/float64(w[i]))
	}
	exact := func(i int, level float64) float64 {
		return min(max(level*float64(w[i]), float64(lo[i])), float64(hi[i]))
	}
	total := func(level float64) float64 {
		s := 0.0
		for i := range lo {
			s += exact(i, level)
		}
		return s
	}
	for range 64 {
		mid := (low + top) / 2
		if total(mid) <= float64(amount) {
			low = mid
		} else {
			top = mid
		}
	}
	left := amount
	for i := range x {
		x[i] = max(int(exact(i, low)), lo[i]) // exact >= lo, but guard float error
		left -= x[i]
	}
	if left <= 0 {
		return x
	}
	// The connections lost to truncation, one each, in order.
	deficit := make([]float64, len(x))
	order := make([]int, len(x))
	for i := range x {
		deficit[i], order[i] = exact(i, top)-float64(x[i]), i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		if c := cmp.Compare(deficit[j], deficit[i]); c != 0 {
			return c
		}
		return cmp.Compare(w[j], w[i])
	})
	for left > 0 {
		gave := false
		for _, i := range order {
			if left > 0 && x[i] < hi[i] {
				x[i]++
				left--
				gave = true
			}
		}
		if !gave {
			break
		}
	}
	return x
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
