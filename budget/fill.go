package budget

// fill shares amount between pools by weighted max-min fairness: pool i gets
// clamp(λ·w[i], lo[i], hi[i]) for the level λ at which the sum is amount
// (or hi[i] when the his sum to less), rounded to whole connections. The
// caller ensures lo[i] <= hi[i] and that the los sum to at most amount.
//
// Rounding gives the connections left by truncation one by one to the
// pools furthest below their exact part, then to the heavier ones, then to
// the earlier ones, so that the result is deterministic.
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
	for ; left > 0; left-- {
		best := -1
		for i := range x {
			if x[i] < hi[i] && (best < 0 || ahead(i, best, x, w, func(i int) float64 { return exact(i, top) })) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		x[best]++
	}
	return x
}

// ahead reports whether pool i is to get a rounding connection before pool
// j: the one further below its exact part first, then the heavier.
func ahead(i, j int, x, w []int, exact func(int) float64) bool {
	di, dj := exact(i)-float64(x[i]), exact(j)-float64(x[j])
	if di != dj {
		return di > dj
	}
	return w[i] > w[j]
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
