package budget

import (
	"math"
	"time"
)

// Demand smooths one pool's demand so that limits do not flap with every
// transaction: it follows a rise at once, so that a lender gets its share
// back at the next recomputation, and a fall only by half every HalfLife,
// so that a pool between two bursts does not lend out what it will need
// again in a moment. The zero Demand, with a HalfLife of 0, follows falls at
// once too.
type Demand struct {
	// HalfLife is how long a fall takes to halve the smoothed demand.
	HalfLife time.Duration

	value float64
	at    time.Time // of the last Observe; zero before
}

// Observe records the demand seen at now (for example the mean number of
// connections leased plus acquirers waiting since the last observation,
// or the number right now if higher) and returns the smoothed demand. An
// observation dated before the last one decays nothing.
func (d *Demand) Observe(now time.Time, seen float64) float64 {
	switch {
	case d.at.IsZero() || d.HalfLife <= 0:
		d.value, d.at = 0, now
	case now.After(d.at):
		d.value *= math.Exp2(-float64(now.Sub(d.at)) / float64(d.HalfLife))
		d.at = now
	}
	d.value = max(d.value, seen, 0)
	return d.value
}

// Value returns the smoothed demand of the last Observe.
func (d *Demand) Value() float64 { return d.value }

// Conns returns the smoothed demand in whole connections, for
// Claim.Demand: rounded up, but a fraction of a quarter or less is dropped,
// so that a decaying demand ends.
func (d *Demand) Conns() int { return int(math.Ceil(d.value - 0.25)) }
