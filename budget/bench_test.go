package budget

import (
	"fmt"
	"testing"
)

// BenchmarkAllocate is one database's pass, by number of pools (per-user
// pools can be many), all wanting more than the budget.
func BenchmarkAllocate(b *testing.B) {
	for _, n := range []int{3, 100, 1000} {
		b.Run(fmt.Sprintf("pools=%d", n), func(b *testing.B) {
			claims := make([]Claim, n)
			for i := range claims {
				claims[i] = Claim{Weight: 1 << (i % 3), Min: i % 2, Max: 50, Demand: 10 + i%7, Held: i % 5}
			}
			for b.Loop() {
				Allocate(5*n, claims)
			}
		})
	}
}
