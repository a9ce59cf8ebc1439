package scale

import (
	"strings"
	"testing"
	"time"
)

// office is a demand pattern: 20 on weekdays from 9:00 to 17:00 with a burst
// of 26 in the 10:00 hour, 2 otherwise.
func office(t time.Time) float64 {
	switch wd, h := t.Weekday(), t.Hour(); {
	case wd == time.Saturday || wd == time.Sunday || h < 9 || h >= 17:
		return 2
	case h == 10 && t.Minute() == 30:
		return 26
	}
	return 20
}

// feed observes demand(t) every step from start for d.
func feed(f *Forecaster, start time.Time, d, step time.Duration, demand func(time.Time) float64) {
	for t := start; t.Before(start.Add(d)); t = t.Add(step) {
		f.Observe(t, demand(t))
	}
}

const week = 7 * 24 * time.Hour

func TestForecasterLearnsTheWeek(t *testing.T) {
	var f Forecaster
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	if _, ok := f.Predict(mon); ok {
		t.Fatal("a new forecaster predicts")
	}
	feed(&f, mon, week, 5*time.Minute, office)
	if f.Learned() != HoursPerWeek-1 {
		t.Errorf("learned %d hours, want %d (the last is still going on)", f.Learned(), HoursPerWeek-1)
	}
	next := mon.Add(week)
	tests := []struct {
		at   time.Time
		want float64
	}{
		{next.Add(7 * time.Hour), 2},                     // Mon 07:00: 7 and 8 o'clock are quiet
		{next.Add(8*time.Hour + 30*time.Minute), 20},     // Mon 08:30: the 9 o'clock peak comes
		{next.Add(9*time.Hour + 59*time.Minute), 26},     // the 10 o'clock burst
		{next.Add(16*time.Hour + 30*time.Minute), 20},    // the last busy hour
		{next.Add(17 * time.Hour), 2},                    // evening
		{next.Add(5*24*time.Hour + 8*time.Hour), 2},      // Saturday morning
		{next.Add(4*24*time.Hour + 8*time.Hour + 1), 20}, // Friday morning
	}
	for _, tt := range tests {
		if got, ok := f.Predict(tt.at); !ok || got != tt.want {
			t.Errorf("Predict(%s) = %v, %v; want %v", tt.at.Format("Mon 15:04"), got, ok, tt.want)
		}
	}
}

func TestForecasterSmoothsAcrossWeeks(t *testing.T) {
	mon9 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	peaks := []float64{20, 30, 30, 10}
	tests := []struct {
		alpha float64
		want  []float64 // the slot after each week
	}{
		{0, []float64{20, 25, 27.5, 18.75}}, // DefaultAlpha
		{1, []float64{20, 30, 30, 10}},
		{0.25, []float64{20, 22.5, 24.375, 20.78125}},
	}
	for _, tt := range tests {
		f := Forecaster{Alpha: tt.alpha}
		for w, peak := range peaks {
			start := mon9.Add(time.Duration(w) * week)
			feed(&f, start, time.Hour, time.Minute, func(t time.Time) float64 {
				if t.Minute() == 17 {
					return peak
				}
				return 1
			})
			f.Observe(start.Add(time.Hour), 0) // the hour ends
			if got, _ := f.Slot(mon9); got != tt.want[w] {
				t.Errorf("alpha %v, week %d: slot %v, want %v", tt.alpha, w+1, got, tt.want[w])
			}
		}
	}
}

// An hour with no reading teaches nothing; the hour of a late start teaches
// what was seen.
func TestForecasterGaps(t *testing.T) {
	var f Forecaster
	start := time.Date(2026, 11, 23, 9, 40, 0, 0, time.UTC)
	f.Observe(start, 7)
	f.Observe(start.Add(3*time.Hour), 1) // 12:40; 10 and 11 o'clock had no reading
	if got, ok := f.Slot(start); !ok || got != 7 {
		t.Errorf("9 o'clock: %v, %v; want 7", got, ok)
	}
	for _, h := range []int{1, 2, 3} {
		if _, ok := f.Slot(start.Add(time.Duration(h) * time.Hour)); ok {
			t.Errorf("%d hours later: learned something", h)
		}
	}
	if f.Learned() != 1 {
		t.Errorf("learned %d hours, want 1", f.Learned())
	}
}

// Hours are the readings' own: the same instant is another slot elsewhere.
func TestForecasterLocation(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	var f Forecaster
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, tokyo) // Monday 00:00 UTC
	f.Observe(at, 5)
	f.Observe(at.Add(time.Hour), 0)
	if _, ok := f.Slot(time.Date(2026, 11, 30, 9, 0, 0, 0, tokyo)); !ok {
		t.Error("Monday 9:00 in Tokyo not learned")
	}
	if _, ok := f.Slot(at.UTC()); ok {
		t.Error("the same instant in UTC, Monday 0:00, learned")
	}
}

func TestForecasterFloor(t *testing.T) {
	var f Forecaster
	mon9 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	f.Observe(mon9, 12.4)
	f.Observe(mon9.Add(time.Hour), 0)
	at := mon9.Add(week - 20*time.Minute) // next Monday 08:40
	tests := []struct {
		name             string
		at               time.Time
		minSize, maxSize int
		want             int
		why              string
	}{
		{"raised", at, 2, 40, 13, "predicted peak demand 12.4 in the hour from Mon 08:40"},
		{"capped", at, 2, 10, 10, "predicted peak demand 12.4 in the hour from Mon 08:40, capped by the maximum 10"},
		{"minimum above", at, 20, 40, 20, ""},
		{"nothing learned", at.Add(3 * time.Hour), 2, 40, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, why := f.Floor(tt.at, tt.minSize, tt.maxSize)
			if n != tt.want || why != tt.why {
				t.Errorf("Floor = %d, %q; want %d, %q", n, why, tt.want, tt.why)
			}
			if tt.why != "" && !strings.Contains(why, "12.4") {
				t.Errorf("reason %q does not give the prediction", why)
			}
		})
	}
}
