package budget

import (
	"testing"

	"pgregory.net/rapid"
)

func drawClaims(t *rapid.T) (int, []Claim) {
	budget := rapid.IntRange(-2, 60).Draw(t, "budget")
	n := rapid.IntRange(0, 8).Draw(t, "pools")
	claims := make([]Claim, n)
	for i := range claims {
		claims[i] = Claim{
			Weight: rapid.SampledFrom([]int{0, WeightLow, WeightMedium, WeightHigh, 7}).Draw(t, "weight"),
			Min:    rapid.IntRange(-1, 8).Draw(t, "min"),
			Max:    rapid.IntRange(-1, 40).Draw(t, "max"),
			Demand: rapid.IntRange(-1, 50).Draw(t, "demand"),
			Held:   rapid.IntRange(-1, 30).Draw(t, "held"),
		}
	}
	return budget, claims
}

// TestAllocateInvariants checks Allocate's promises on random claims.
func TestAllocateInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		budget, claims := drawClaims(t)
		g := Allocate(budget, claims)
		if len(g) != len(claims) {
			t.Fatalf("%d grants for %d claims", len(g), len(claims))
		}
		var shares, bound, held, mins, wants int
		for i, c := range claims {
			_, lo, hi := c.bounds()
			h := max(c.Held, 0)
			if g[i].Share < 0 || g[i].Share > hi {
				t.Fatalf("pool %d: share %d outside [0, max %d]", i, g[i].Share, hi)
			}
			if g[i].Limit < 0 || g[i].Limit > g[i].Share {
				t.Fatalf("pool %d: limit %d outside [0, share %d]", i, g[i].Limit, g[i].Share)
			}
			if h <= g[i].Share && g[i].Limit < h {
				t.Fatalf("pool %d: limit %d below the %d it holds within its share", i, g[i].Limit, h)
			}
			shares += g[i].Share
			bound += max(h, g[i].Limit)
			held += h
			mins += lo
			wants += min(max(c.Demand, lo), hi)
		}
		if budget <= 0 {
			if shares != 0 {
				t.Fatalf("budget %d shared out %d", budget, shares)
			}
			return
		}
		if shares > budget {
			t.Fatalf("shares sum to %d, above the budget %d", shares, budget)
		}
		if bound > max(budget, held) {
			t.Fatalf("sum of max(held, limit) is %d, above the budget %d (held %d)", bound, budget, held)
		}
		for i, c := range claims {
			w, lo, hi := c.bounds()
			want := min(max(c.Demand, lo), hi)
			if mins <= budget && g[i].Share < lo {
				t.Fatalf("pool %d: share %d below its minimum %d", i, g[i].Share, lo)
			}
			if wants <= budget && g[i].Share < want {
				t.Fatalf("pool %d: share %d below its demand %d though all demand fits", i, g[i].Share, want)
			}
			// Fairness: a pool short of its demand is not short because
			// another got more than its weighted share (one connection of
			// rounding allowed on each side) above its own minimum.
			if mins <= budget && g[i].Share < want {
				for j, o := range claims {
					wj, loj, _ := o.bounds()
					if g[j].Share > loj && (g[j].Share-1)*w > (g[i].Share+1)*wj {
						t.Fatalf("pool %d (weight %d) short at %d of %d while pool %d (weight %d) has %d",
							i, w, g[i].Share, want, j, wj, g[j].Share)
					}
				}
			}
		}
		// Work conservation: the budget is used up to what the pools may take.
		maxes := 0
		for _, c := range claims {
			_, _, hi := c.bounds()
			maxes += hi
		}
		if shares != min(budget, maxes) {
			t.Fatalf("shares sum to %d, want min(budget %d, maxes %d)", shares, budget, maxes)
		}
		// Limits at the shares once nobody holds more than its share.
		settled := true
		for i, c := range claims {
			settled = settled && max(c.Held, 0) <= g[i].Share
		}
		if settled {
			for i := range g {
				if g[i].Limit != g[i].Share {
					t.Fatalf("pool %d: limit %d, not its share %d, though nobody holds above its share", i, g[i].Limit, g[i].Share)
				}
			}
		}
	})
}

// TestRaiseInvariants checks that Raise never lets the pools hold more than
// the budget, lowers at once and raises only toward To.
func TestRaiseInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		budget := rapid.IntRange(0, 40).Draw(t, "budget")
		n := rapid.IntRange(0, 6).Draw(t, "pools")
		steps := make([]Step, n)
		before := 0
		for i := range steps {
			steps[i] = Step{
				Weight: rapid.IntRange(0, 4).Draw(t, "weight"),
				Held:   rapid.IntRange(0, 15).Draw(t, "held"),
				From:   rapid.IntRange(-1, 15).Draw(t, "from"),
				To:     rapid.IntRange(0, 20).Draw(t, "to"),
			}
			before += max(steps[i].Held, steps[i].From, 0)
		}
		out := Raise(budget, steps)
		after := 0
		for i, s := range steps {
			from := max(s.From, 0)
			if s.To <= from && out[i] != s.To {
				t.Fatalf("step %d: lowered to %d, want %d", i, out[i], s.To)
			}
			if s.To > from && (out[i] < from || out[i] > s.To) {
				t.Fatalf("step %d: raised to %d, outside [%d, %d]", i, out[i], from, s.To)
			}
			after += max(s.Held, out[i])
		}
		if after > max(budget, before) {
			t.Fatalf("pools may hold %d after, above the budget %d (%d before)", after, budget, before)
		}
	})
}
