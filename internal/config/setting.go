package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Setting names one pool setting. The name is the same in URL query strings,
// in YAML and in `motorpool check` output.
type Setting string

// The pool settings, in the order `motorpool check` prints them.
const (
	SettingPoolMode           Setting = "pool_mode"
	SettingMinConnections     Setting = "min_connections"
	SettingConnectionLimit    Setting = "connection_limit"
	SettingMaxConnecting      Setting = "max_connecting"
	SettingPoolTimeout        Setting = "pool_timeout"
	SettingConnectTimeout     Setting = "connect_timeout"
	SettingIdleTimeout        Setting = "idle_timeout"
	SettingMaxLifetime        Setting = "max_lifetime"
	SettingValidationTimeout  Setting = "validation_timeout"
	SettingStatementTimeout   Setting = "statement_timeout"
	SettingPreparedStatements Setting = "prepared_statements"
	SettingPriority           Setting = "priority"
	SettingConnectionPattern  Setting = "connection_pattern"
)

// Settings returns every pool setting in print order.
func Settings() []Setting {
	out := make([]Setting, len(specs))
	for i, sp := range specs {
		out[i] = sp.name
	}
	return out
}

// URLUnit returns the unit s takes as a URL query parameter: "seconds",
// "milliseconds", "" for settings without a unit, and "-" for settings that
// cannot be given in a URL.
func (s Setting) URLUnit() string {
	sp, ok := specByName[s]
	switch {
	case !ok || !sp.inURL:
		return "-"
	case sp.urlUnit == time.Second:
		return "seconds"
	case sp.urlUnit == time.Millisecond:
		return "milliseconds"
	}
	return ""
}

// spec describes one pool setting: how to parse it from a URL or YAML
// string, where it lives in Pool and Overrides, and how to print it.
type spec struct {
	name    Setting
	inURL   bool          // may be given as a URL query parameter
	urlUnit time.Duration // unit of a duration in a URL; 0 for other kinds

	// parse reads raw into o. name is the spelling the user wrote (an alias
	// such as MongoDB's maxPoolSize in a URL). unit is the unit of a bare
	// number in a URL, or 0 for a YAML value.
	parse          func(o *Overrides, name, raw string, unit time.Duration) error
	apply          func(dst *Pool, o *Overrides) bool
	format         func(p *Pool) string
	formatOverride func(o *Overrides) (string, bool)
}

// field builds the spec of one setting of type T from its accessors.
func field[T any](name Setting, inURL bool, urlUnit time.Duration,
	pool func(*Pool) *T, over func(*Overrides) *Opt[T],
	parse func(name, raw string, unit time.Duration) (T, error), format func(T) string) spec {
	return spec{
		name: name, inURL: inURL, urlUnit: urlUnit,
		parse: func(o *Overrides, name, raw string, unit time.Duration) error {
			v, err := parse(name, raw, unit)
			if err != nil {
				return err
			}
			*over(o) = some(v)
			return nil
		},
		apply: func(dst *Pool, o *Overrides) bool {
			opt := over(o)
			if opt.Set {
				*pool(dst) = opt.Value
			}
			return opt.Set
		},
		format: func(p *Pool) string { return format(*pool(p)) },
		formatOverride: func(o *Overrides) (string, bool) {
			opt := over(o)
			return format(opt.Value), opt.Set
		},
	}
}

const (
	day        = 24 * time.Hour
	maxConns   = 10000
	urlSeconds = time.Second
	urlMillis  = time.Millisecond
)

// specs is the table of pool settings: names, URL units and valid ranges.
var specs = []spec{
	field(SettingPoolMode, true, 0,
		func(p *Pool) *PoolMode { return &p.Mode }, func(o *Overrides) *Opt[PoolMode] { return &o.Mode },
		enumParser(ModeSession, ModeTransaction, ModeStatement), formatString[PoolMode]),
	field(SettingMinConnections, true, 0,
		func(p *Pool) *int { return &p.MinConnections }, func(o *Overrides) *Opt[int] { return &o.MinConnections },
		countParser(0, maxConns), strconv.Itoa),
	field(SettingConnectionLimit, true, 0,
		func(p *Pool) *int { return &p.ConnectionLimit }, func(o *Overrides) *Opt[int] { return &o.ConnectionLimit },
		countParser(1, maxConns), strconv.Itoa),
	field(SettingMaxConnecting, true, 0,
		func(p *Pool) *int { return &p.MaxConnecting }, func(o *Overrides) *Opt[int] { return &o.MaxConnecting },
		countParser(1, 100), strconv.Itoa),
	field(SettingPoolTimeout, true, urlSeconds,
		func(p *Pool) *time.Duration { return &p.PoolTimeout }, func(o *Overrides) *Opt[time.Duration] { return &o.PoolTimeout },
		durationParser(time.Millisecond, time.Hour), formatDuration),
	field(SettingConnectTimeout, true, urlSeconds,
		func(p *Pool) *time.Duration { return &p.ConnectTimeout }, func(o *Overrides) *Opt[time.Duration] { return &o.ConnectTimeout },
		durationParser(time.Millisecond, 10*time.Minute), formatDuration),
	field(SettingIdleTimeout, true, urlSeconds,
		func(p *Pool) *time.Duration { return &p.IdleTimeout }, func(o *Overrides) *Opt[time.Duration] { return &o.IdleTimeout },
		durationParser(0, day), formatDuration),
	field(SettingMaxLifetime, true, urlSeconds,
		func(p *Pool) *time.Duration { return &p.MaxLifetime }, func(o *Overrides) *Opt[time.Duration] { return &o.MaxLifetime },
		durationParser(0, 30*day), formatDuration),
	field(SettingValidationTimeout, true, urlMillis,
		func(p *Pool) *time.Duration { return &p.ValidationTimeout }, func(o *Overrides) *Opt[time.Duration] { return &o.ValidationTimeout },
		durationParser(time.Millisecond, time.Minute), formatDuration),
	field(SettingStatementTimeout, true, urlMillis,
		func(p *Pool) *time.Duration { return &p.StatementTimeout }, func(o *Overrides) *Opt[time.Duration] { return &o.StatementTimeout },
		durationParser(0, day), formatDuration),
	field(SettingPreparedStatements, true, 0,
		func(p *Pool) *bool { return &p.PreparedStatements }, func(o *Overrides) *Opt[bool] { return &o.PreparedStatements },
		boolParser, strconv.FormatBool),
	field(SettingPriority, false, 0,
		func(p *Pool) *Priority { return &p.Priority }, func(o *Overrides) *Opt[Priority] { return &o.Priority },
		enumParser(PriorityLow, PriorityMedium, PriorityHigh), formatString[Priority]),
	field(SettingConnectionPattern, false, 0,
		func(p *Pool) *ConnectionPattern { return &p.Pattern }, func(o *Overrides) *Opt[ConnectionPattern] { return &o.Pattern },
		enumParser(PatternBurst, PatternSteady, PatternBatch, PatternLongRunning), formatString[ConnectionPattern]),
}

var specByName = func() map[Setting]*spec {
	m := make(map[Setting]*spec, len(specs))
	for i := range specs {
		m[specs[i].name] = &specs[i]
	}
	return m
}()

func formatString[T ~string](v T) string { return string(v) }

func countParser(lo, hi int) func(string, string, time.Duration) (int, error) {
	return func(name, raw string, _ time.Duration) (int, error) {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s must be a whole number, got %q", name, truncate(raw, 40))
		}
		if err != nil || n < int64(lo) || n > int64(hi) {
			return 0, fmt.Errorf("%s must be between %d and %d, got %s", name, lo, hi, truncate(raw, 40))
		}
		return int(n), nil
	}
}

func boolParser(name, raw string, _ time.Duration) (bool, error) {
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false, got %q", name, truncate(raw, 40))
	}
	return v, nil
}

func enumParser[T ~string](values ...T) func(string, string, time.Duration) (T, error) {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return func(name, raw string, _ time.Duration) (T, error) {
		for _, v := range values {
			if string(v) == raw {
				return v, nil
			}
		}
		return "", fmt.Errorf("%s must be one of %s, got %q%s", name, strings.Join(names, ", "), truncate(raw, 40), didYouMean(raw, names))
	}
}

// durationParser parses a duration between lo and hi: in a URL a plain
// number of the URL's unit (fractions allowed), in YAML a Go duration string.
func durationParser(lo, hi time.Duration) func(string, string, time.Duration) (time.Duration, error) {
	return func(name, raw string, unit time.Duration) (time.Duration, error) {
		if unit != 0 {
			return parseURLDuration(name, raw, unit, lo, hi)
		}
		d, err := time.ParseDuration(raw)
		if err != nil {
			if _, numErr := strconv.ParseFloat(raw, 64); numErr == nil {
				return 0, fmt.Errorf("%s must be a duration with a unit, like \"30s\" or \"500ms\", got %s", name, truncate(raw, 40))
			}
			return 0, fmt.Errorf("%s must be a duration like \"30s\" or \"10m\", got %q", name, truncate(raw, 40))
		}
		if d < lo || d > hi {
			return 0, fmt.Errorf("%s must be between %s and %s, got %s", name, formatDuration(lo), formatDuration(hi), formatDuration(d))
		}
		return d, nil
	}
}

func parseURLDuration(name, raw string, unit, lo, hi time.Duration) (time.Duration, error) {
	unitName := map[time.Duration]string{time.Second: "seconds", time.Millisecond: "milliseconds"}[unit]
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(raw, "xXpP_") {
		return 0, fmt.Errorf("%s must be a number of %s, got %q", name, unitName, truncate(raw, 40))
	}
	d := f * float64(unit)
	if d < float64(lo) || d > float64(hi) {
		return 0, fmt.Errorf("%s must be between %s and %s %s, got %s", name,
			inUnit(lo, unit), inUnit(hi, unit), unitName, truncate(raw, 40))
	}
	return time.Duration(d), nil
}

func inUnit(d, unit time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(unit), 'f', -1, 64)
}

// formatDuration prints d as time.Duration does, without zero trailing
// units: "1h" rather than "1h0m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
