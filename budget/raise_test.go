package budget

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRaise(t *testing.T) {
	tests := []struct {
		name   string
		budget int
		steps  []Step
		want   []int
	}{
		{"lowering is always applied", 5, []Step{{Held: 9, From: 9, To: 2}}, []int{2}},
		{"raise within free capacity", 10, []Step{{Held: 2, From: 2, To: 6}, {Held: 3, From: 3, To: 3}}, []int{6, 3}},
		{"raise stops at free capacity", 10, []Step{{Held: 2, From: 2, To: 9}, {Held: 5, From: 5, To: 5}}, []int{5, 5}},
		{"a lowered limit still counts what its pool holds", 10,
			[]Step{{Held: 1, From: 1, To: 8}, {Held: 7, From: 2, To: 2}}, []int{3, 2}},
		{"heavier pool raised first", 10,
			[]Step{{Weight: WeightLow, From: 0, To: 6}, {Weight: WeightHigh, From: 0, To: 6}}, []int{4, 6}},
		{"no room when already over budget", 4, []Step{{Held: 5, From: 5, To: 5}, {Held: 0, From: 0, To: 3}}, []int{5, 0}},
		{"raising up to what is held costs nothing", 4, []Step{{Held: 4, From: 1, To: 4}}, []int{4}},
		{"uncapped counts as zero", 3, []Step{{Held: 0, From: -1, To: 2}}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Raise(tt.budget, tt.steps))
		})
	}
}
