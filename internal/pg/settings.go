package pg

import (
	"maps"
	"slices"
	"strings"
)

// settings is the run-time configuration of a session as motorpool must keep it in step
// across server connections: values that differ from the pool's baseline (the values a
// fresh server connection of the pool starts with).
//
// A client's settings come from its startup packet and from what it changes later
// (reported by ParameterStatus, or SET statements motorpool sees). A server connection's
// settings are what its session currently has. Before a client's work runs on a server
// connection, motorpool issues the statements that turn the server's settings into the
// client's (see syncStatements).
type settings struct {
	// vals maps a setting name (lower case) to its value.
	vals map[string]setting
	// fingerprint is a canonical rendering of vals, so equal settings compare in O(1).
	fingerprint string
}

// setting is one value: either a raw string, applied with set_config, or, for values
// motorpool only saw as SQL, the SET statement to replay.
type setting struct {
	value string
	sql   bool
}

// newServerSettings returns the settings of a fresh server connection: empty, since it
// is at its baseline by definition.
func newServerSettings(startup, reported map[string]string) *settings {
	return &settings{}
}

// equal reports whether s and o hold the same values.
func (s *settings) equal(o *settings) bool { return s.fingerprint == o.fingerprint }

// set records name = v; base is the pool's baseline value of name ("" if it has none).
func (s *settings) set(name string, v setting, base string) {
	name = strings.ToLower(name)
	if !v.sql && v.value == base {
		if _, ok := s.vals[name]; !ok {
			return
		}
		delete(s.vals, name)
	} else {
		if s.vals == nil {
			s.vals = make(map[string]setting)
		}
		if old, ok := s.vals[name]; ok && old == v {
			return
		}
		s.vals[name] = v
	}
	s.refresh()
}

// copyFrom makes s equal to o.
func (s *settings) copyFrom(o *settings) {
	s.vals = maps.Clone(o.vals)
	s.fingerprint = o.fingerprint
}

// clear returns s to the baseline.
func (s *settings) clear() {
	s.vals = nil
	s.fingerprint = ""
}

func (s *settings) refresh() {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(s.vals)) {
		v := s.vals[k]
		b.WriteString(k)
		if v.sql {
			b.WriteString("\x01")
		} else {
			b.WriteString("\x00")
		}
		b.WriteString(v.value)
		b.WriteString("\x00")
	}
	s.fingerprint = b.String()
}

// syncStatements returns one simple-query string that turns a session with settings
// have into one with settings want, or "" when they are equal.
func syncStatements(have, want *settings) string {
	if have.equal(want) {
		return ""
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(have.vals)) {
		if _, ok := want.vals[k]; !ok {
			b.WriteString("RESET ")
			b.WriteString(quoteSettingName(k))
			b.WriteString(";")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.vals)) {
		v := want.vals[k]
		if old, ok := have.vals[k]; ok && old == v {
			continue
		}
		if v.sql {
			// The client's own statement may end in a -- comment, which would swallow
			// the statements after it: end its line.
			b.WriteString(v.value)
			b.WriteString("\n")
		} else {
			b.WriteString("SELECT pg_catalog.set_config(")
			b.WriteString(quoteLiteral(k))
			b.WriteString(", ")
			b.WriteString(quoteLiteral(v.value))
			b.WriteString(", false)")
		}
		b.WriteString(";")
	}
	return b.String()
}

// quoteLiteral renders s as an SQL string literal.
func quoteLiteral(s string) string {
	if strings.ContainsRune(s, '\\') {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteSettingName quotes each dot-separated part of a setting name as an identifier.
func quoteSettingName(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	}
	return strings.Join(parts, ".")
}
