package monitor

import (
	"strconv"
	"time"
)

// Duration is a time.Duration that encodes in JSON as a number of seconds, so
// that API clients need no Go-specific parsing.
type Duration time.Duration

// MarshalJSON encodes d as seconds with millisecond precision or better.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, time.Duration(d).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON decodes a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration, rounded to the millisecond above 1 s.
func (d Duration) String() string { return human(time.Duration(d)) }

// human rounds a duration for people: 1.8s, 250ms, 12µs.
func human(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}
