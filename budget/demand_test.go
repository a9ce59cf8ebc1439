package budget

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDemand(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	d := Demand{HalfLife: 10 * time.Second}
	require.Equal(t, 8.0, d.Observe(t0, 8))
	require.Equal(t, 8, d.Conns())
	require.Equal(t, 4.0, d.Observe(t0.Add(10*time.Second), 1), "falls by half each half-life")
	require.Equal(t, 6.0, d.Observe(t0.Add(10*time.Second), 6), "rises at once")
	require.Equal(t, 6.0, d.Observe(t0.Add(5*time.Second), 0), "an earlier observation decays nothing")
	require.InDelta(t, 0.1875, d.Observe(t0.Add(60*time.Second), 0), 1e-9)
	require.Equal(t, 0, d.Conns(), "a quarter or less is no demand")
	d.Observe(t0.Add(60*time.Second), 1.3)
	require.Equal(t, 2, d.Conns(), "rounded up")

	var instant Demand
	instant.Observe(t0, 5)
	require.Equal(t, 2.0, instant.Observe(t0.Add(time.Millisecond), 2), "no half-life follows falls at once")
}
