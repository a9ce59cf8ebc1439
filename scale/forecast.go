package scale

import (
	"fmt"
	"math"
	"time"
)

// HoursPerWeek is the number of hour-of-week slots a Forecaster learns.
const HoursPerWeek = 7 * 24

// DefaultAlpha is the weight a Forecaster gives the newest week when Alpha
// is not set.
const DefaultAlpha = 0.5

// Forecaster learns a pool's peak demand for each hour of the week and
// predicts the coming hour's. Feed it every demand reading with Observe, in
// time order. When an hour ends (a reading falls in another hour), the
// hour's peak is folded into its slot of the week: the first week's peak is
// taken as it is, later ones as an exponentially weighted moving average
// with weight Alpha for the newest, so that a slot follows a lasting change
// within a few weeks and one odd week moves it only partly.
//
// Hours are those of the readings' location (time.Time.Location): a
// controller passing local times learns the local working week. Hours with
// no reading teach nothing; an hour cut short (a start in the middle of it)
// teaches the peak seen. Everything is in memory: a new Forecaster knows
// nothing.
//
// The zero Forecaster is ready to use, with Alpha DefaultAlpha.
type Forecaster struct {
	// Alpha, between 0 (exclusive) and 1, is the weight of the newest week
	// in a slot's average. Outside that range DefaultAlpha is used.
	Alpha float64

	slots [HoursPerWeek]float64
	known [HoursPerWeek]bool

	hour    time.Time // start of the hour being observed; zero before the first reading
	hourPk  float64   // its peak so far
	learned int       // hours folded in so far
}

// slot returns the hour-of-week index of t: 0 is Sunday 00:00–01:00.
func slot(t time.Time) int { return int(t.Weekday())*24 + t.Hour() }

// hourStart returns the start of t's hour in t's location.
func hourStart(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, t.Hour(), 0, 0, 0, t.Location())
}

// Observe records a demand reading (leased connections plus waiting
// acquirers) taken at now. Negative demand counts as 0.
func (f *Forecaster) Observe(now time.Time, demand float64) {
	demand = max(demand, 0)
	h := hourStart(now)
	if !f.hour.IsZero() && !h.Equal(f.hour) {
		f.fold()
	}
	if f.hour.IsZero() || !h.Equal(f.hour) {
		f.hour, f.hourPk = h, demand
		return
	}
	f.hourPk = max(f.hourPk, demand)
}

// fold adds the peak of the hour being observed to its slot.
func (f *Forecaster) fold() {
	i := slot(f.hour)
	a := f.Alpha
	if a <= 0 || a > 1 {
		a = DefaultAlpha
	}
	if f.known[i] {
		f.slots[i] = a*f.hourPk + (1-a)*f.slots[i]
	} else {
		f.slots[i], f.known[i] = f.hourPk, true
	}
	f.learned++
}

// Learned returns how many hours the Forecaster has learned from so far.
func (f *Forecaster) Learned() int { return f.learned }

// Slot returns what f learned for the hour of the week containing t, and
// whether it learned anything for it.
func (f *Forecaster) Slot(t time.Time) (float64, bool) {
	i := slot(t)
	return f.slots[i], f.known[i]
}

// Predict returns the peak demand f expects within the coming hour, from now
// to an hour later: the larger of what it learned for the hour of the week
// now is in and for the next one. It reports false when it learned nothing
// for either.
func (f *Forecaster) Predict(now time.Time) (float64, bool) {
	a, okA := f.Slot(now)
	b, okB := f.Slot(now.Add(time.Hour))
	switch {
	case okA && okB:
		return max(a, b), true
	case okA:
		return a, true
	case okB:
		return b, true
	}
	return 0, false
}

// Floor returns the minimum size a pool should keep open as of now so that
// the coming hour's predicted peak finds its connections open: the predicted
// demand rounded up, no lower than minSize and no higher than maxSize, with
// a reason when the prediction raises it above minSize ("" otherwise).
func (f *Forecaster) Floor(now time.Time, minSize, maxSize int) (int, string) {
	d, ok := f.Predict(now)
	if !ok {
		return min(minSize, maxSize), ""
	}
	want := int(math.Ceil(d - 1e-9)) // a peak of 12.0000001 is 12
	n := min(max(want, minSize), maxSize)
	if n <= minSize {
		return n, ""
	}
	why := fmt.Sprintf("predicted peak demand %.1f in the hour from %s", d, now.Format("Mon 15:04"))
	if want > maxSize {
		why += fmt.Sprintf(", capped by the maximum %d", maxSize)
	}
	return n, why
}
