package budget

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAllocate(t *testing.T) {
	high := func(min, max, demand, held int) Claim {
		return Claim{Weight: WeightHigh, Min: min, Max: max, Demand: demand, Held: held}
	}
	medium := func(min, max, demand, held int) Claim {
		return Claim{Weight: WeightMedium, Min: min, Max: max, Demand: demand, Held: held}
	}
	low := func(min, max, demand, held int) Claim {
		return Claim{Weight: WeightLow, Min: min, Max: max, Demand: demand, Held: held}
	}
	tests := []struct {
		name   string
		budget int
		claims []Claim
		shares []int
		limits []int
	}{
		{"no budget", 0, []Claim{high(0, 10, 5, 0)}, []int{0}, []int{0}},
		{"no pools", 10, nil, []int{}, []int{}},
		{"both busy: shares by weight", 10, []Claim{high(0, 20, 20, 0), low(0, 20, 20, 0)}, []int{8, 2}, []int{8, 2}},
		{"both busy, high to 4 of 5", 6, []Claim{high(0, 10, 10, 0), low(0, 10, 10, 0)}, []int{5, 1}, []int{5, 1}},
		{"minimum kept when busy", 10, []Claim{high(0, 20, 20, 0), low(3, 20, 20, 0)}, []int{7, 3}, []int{7, 3}},
		{"minimum is part of the share", 10, []Claim{high(2, 20, 20, 0), low(2, 20, 20, 0)}, []int{8, 2}, []int{8, 2}},
		{"idle high lends to low", 10, []Claim{high(0, 20, 0, 0), low(0, 20, 20, 0)}, []int{0, 10}, []int{0, 10}},
		{"idle high keeps its minimum", 10, []Claim{high(2, 20, 0, 0), low(0, 20, 20, 0)}, []int{2, 8}, []int{2, 8}},
		{"partly idle high lends the rest", 10, []Claim{high(0, 20, 3, 0), low(0, 20, 20, 0)}, []int{3, 7}, []int{3, 7}},
		{"low's demand served before leftover", 10, []Claim{high(0, 20, 20, 0), low(0, 20, 1, 0)}, []int{9, 1}, []int{9, 1}},
		{"leftover spread by weight up to max", 20, []Claim{high(0, 20, 2, 0), low(0, 20, 2, 0)}, []int{16, 4}, []int{16, 4}},
		{"leftover stops at max", 20, []Claim{high(0, 5, 2, 0), low(0, 20, 2, 0)}, []int{5, 15}, []int{5, 15}},
		{"max below demand", 10, []Claim{high(0, 3, 20, 0), low(0, 20, 20, 0)}, []int{3, 7}, []int{3, 7}},
		{"budget above every max", 100, []Claim{high(0, 5, 5, 0), low(0, 5, 5, 0)}, []int{5, 5}, []int{5, 5}},
		{"three priorities busy", 14, []Claim{high(0, 20, 20, 0), medium(0, 20, 20, 0), low(0, 20, 20, 0)}, []int{8, 4, 2}, []int{8, 4, 2}},
		{"minimums above budget split by weight", 5, []Claim{high(5, 10, 10, 0), low(5, 10, 10, 0)}, []int{4, 1}, []int{4, 1}},
		{"zero weight counts as one", 4, []Claim{{Weight: 0, Max: 10, Demand: 10}, {Weight: 1, Max: 10, Demand: 10}}, []int{2, 2}, []int{2, 2}},
		{"return: borrower above share", 10,
			[]Claim{high(0, 20, 20, 0), low(0, 20, 20, 10)}, []int{8, 2}, []int{0, 2}},
		{"return: borrower released some", 10,
			[]Claim{high(0, 20, 20, 3), low(0, 20, 20, 6)}, []int{8, 2}, []int{4, 2}},
		{"return: borrower back at its share", 10,
			[]Claim{high(0, 20, 20, 5), low(0, 20, 20, 2)}, []int{8, 2}, []int{8, 2}},
		{"free capacity goes to minimums first", 10,
			[]Claim{high(0, 20, 20, 0), low(3, 20, 20, 0), medium(0, 20, 0, 8)}, []int{7, 3, 0}, []int{0, 2, 0}},
		{"held above budget raises nothing", 5,
			[]Claim{high(0, 20, 20, 1), low(0, 20, 20, 6)}, []int{4, 1}, []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Allocate(tt.budget, tt.claims)
			shares, limits := make([]int, len(g)), make([]int, len(g))
			for i := range g {
				shares[i], limits[i] = g[i].Share, g[i].Limit
			}
			require.Equal(t, tt.shares, shares, "shares")
			require.Equal(t, tt.limits, limits, "limits")
		})
	}
}

// TestNoPoolStarvesTheOthers: a pool that wants every connection, even one
// with the highest priority, leaves each other pool its demand up to its
// weighted share, however many connections it already holds.
func TestNoPoolStarvesTheOthers(t *testing.T) {
	const budget = 20
	greedy := Claim{Weight: WeightHigh, Max: 1000, Demand: 1000}
	others := []Claim{
		{Weight: WeightLow, Max: 10, Demand: 3},
		{Weight: WeightMedium, Max: 10, Demand: 2},
		{Weight: WeightLow, Max: 10, Demand: 10},
	}
	g := Allocate(budget, append([]Claim{greedy}, others...))
	// Weighted share of the whole budget: 20 * w / (4+1+2+1) = 2.5 w.
	require.Equal(t, 3, g[1].Share, "low pool's demand, within its share")
	require.Equal(t, 2, g[2].Share, "medium pool's demand")
	require.GreaterOrEqual(t, g[3].Share, 2, "busy low pool keeps its weighted share")
	require.LessOrEqual(t, g[0].Share, budget-3-2-2)

	// The greedy pool holding the whole budget gives it back as it releases:
	// its limit drops to its share at once, and the others' limits grow
	// with what it no longer holds.
	greedy.Held = budget
	g = Allocate(budget, append([]Claim{greedy}, others...))
	require.Equal(t, g[0].Share, g[0].Limit)
	for i := 1; i < 4; i++ {
		require.Zero(t, g[i].Limit, "nothing free while the greedy pool holds all")
	}
	greedy.Held = g[0].Share
	g = Allocate(budget, append([]Claim{greedy}, others...))
	for i := 1; i < 4; i++ {
		require.Equal(t, g[i].Share, g[i].Limit, "pool %d gets its share once released", i)
	}
}
