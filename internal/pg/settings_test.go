package pg

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sqlToken is one token of splitStatements' lexer: a string literal (decoded), a
// quoted identifier (decoded) or any other run of text.
type sqlToken struct {
	kind byte // '\'' literal, '"' identifier, 'w' other
	text string
}

// splitStatements lexes SQL the way PostgreSQL does for what matters to injection
// (standard_conforming_strings on): '…' and E'…' literals, "…" identifiers, --
// and nested /* */ comments, and ; between statements. It returns each statement's
// tokens, comments and blanks dropped, and an error for unterminated quotes.
func splitStatements(sql string) ([][]sqlToken, error) {
	var stmts [][]sqlToken
	var cur []sqlToken
	word := strings.Builder{}
	endWord := func() {
		if word.Len() > 0 {
			cur = append(cur, sqlToken{'w', word.String()})
			word.Reset()
		}
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ';':
			endWord()
			if len(cur) > 0 {
				stmts = append(stmts, cur)
			}
			cur = nil
			i++
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			endWord()
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			endWord()
			depth := 0
			for i < len(sql) {
				if strings.HasPrefix(sql[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(sql[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth > 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
		case c == '\'' || c == '"' || ((c == 'E' || c == 'e') && i+1 < len(sql) && sql[i+1] == '\'' && word.Len() == 0):
			endWord()
			escapes := c == 'E' || c == 'e'
			if escapes {
				i++
			}
			q := sql[i]
			i++
			var b strings.Builder
			closed := false
			for i < len(sql) {
				switch {
				case escapes && sql[i] == '\\' && i+1 < len(sql):
					b.WriteByte(sql[i+1])
					i += 2
				case sql[i] == q && i+1 < len(sql) && sql[i+1] == q:
					b.WriteByte(q)
					i += 2
				case sql[i] == q:
					i++
					closed = true
				default:
					b.WriteByte(sql[i])
					i++
				}
				if closed {
					break
				}
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quote")
			}
			cur = append(cur, sqlToken{q, b.String()})
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			endWord()
			i++
		case c == '(' || c == ')' || c == ',':
			endWord()
			cur = append(cur, sqlToken{'w', string(c)})
			i++
		default:
			word.WriteByte(c)
			i++
		}
	}
	endWord()
	if len(cur) > 0 {
		stmts = append(stmts, cur)
	}
	return stmts, nil
}

// setConfigArgs returns the name and value of a "SELECT pg_catalog.set_config(name,
// value, false)" statement.
func setConfigArgs(stmt []sqlToken) (name, value string, ok bool) {
	if len(stmt) != 9 || stmt[0].text != "SELECT" || stmt[1].text != "pg_catalog.set_config" || stmt[2].text != "(" ||
		stmt[3].kind != '\'' || stmt[4].text != "," || stmt[5].kind != '\'' || stmt[6].text != "," || stmt[7].text != "false" || stmt[8].text != ")" {
		return "", "", false
	}
	return stmt[3].text, stmt[5].text, true
}

// settingsOf builds settings from values, none of them at a baseline.
func settingsOf(vals map[string]setting) *settings {
	s := &settings{}
	for k, v := range vals {
		s.set(k, v, "\x00no baseline")
	}
	return s
}

func TestQuoteLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "'plain'"},
		{"it's", "'it''s'"},
		{`a\b`, `E'a\\b'`},
		{`\'; DROP TABLE users; --`, `E'\\''; DROP TABLE users; --'`},
		{"x'); DROP TABLE users; --", "'x''); DROP TABLE users; --'"},
		{"ünï", "'ünï'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := quoteLiteral(tt.in)
			assert.Equal(t, tt.want, got)
			stmts, err := splitStatements("SELECT " + got)
			require.NoError(t, err)
			require.Len(t, stmts, 1)
			require.Len(t, stmts[0], 2)
			assert.Equal(t, tt.in, stmts[0][1].text, "the literal decodes to the value")
		})
	}
}

func TestQuoteSettingName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"search_path", `"search_path"`},
		{"myapp.tenant", `"myapp"."tenant"`},
		{`a"; DROP TABLE users; --`, `"a""; DROP TABLE users; --"`},
		{"", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, quoteSettingName(tt.in))
			stmts, err := splitStatements("RESET " + quoteSettingName(tt.in))
			require.NoError(t, err)
			require.Len(t, stmts, 1, "one statement")
		})
	}
}

func TestAppendQuery(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"", "SELECT 1", "DISCARD ALL", strings.Repeat("x", 70000)} {
		t.Run(fmt.Sprintf("%d bytes", len(q)), func(t *testing.T) {
			b := appendQuery([]byte("prefix"), q)
			require.Equal(t, "prefix", string(b[:6]))
			var m pgproto3.Query
			require.Equal(t, byte('Q'), b[6])
			h, ok := parseHeader(b[6:])
			require.True(t, ok)
			require.Equal(t, len(b)-6, h.size)
			require.NoError(t, m.Decode(b[6+headerLen:]))
			assert.Equal(t, q, m.String)
		})
	}
}

func TestSyncStatements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		have, want map[string]setting
		sql        string
	}{
		{name: "equal settings need nothing", have: map[string]setting{"a": {value: "1"}}, want: map[string]setting{"a": {value: "1"}}, sql: ""},
		{name: "a new value is set with set_config", want: map[string]setting{"search_path": {value: "app"}},
			sql: "SELECT pg_catalog.set_config('search_path', 'app', false);"},
		{name: "a setting the client lacks is reset", have: map[string]setting{"work_mem": {value: "1MB"}},
			sql: `RESET "work_mem";`},
		{name: "resets come first, then sets in name order",
			have: map[string]setting{"z": {value: "1"}, "b": {value: "1"}}, want: map[string]setting{"b": {value: "2"}, "a": {value: "3"}},
			sql: `RESET "z";SELECT pg_catalog.set_config('a', '3', false);SELECT pg_catalog.set_config('b', '2', false);`},
		{name: "a setting seen only as SQL is replayed", want: map[string]setting{"search_path": {value: "SET search_path TO app", sql: true}},
			sql: "SET search_path TO app\n;"},
		{name: "a value is quoted against injection", want: map[string]setting{"application_name": {value: "x', true); DROP TABLE users; --"}},
			sql: "SELECT pg_catalog.set_config('application_name', 'x'', true); DROP TABLE users; --', false);"},
		{name: "a backslash in a value gets an escape string", want: map[string]setting{"application_name": {value: `\'; DROP TABLE users; --`}},
			sql: `SELECT pg_catalog.set_config('application_name', E'\\''; DROP TABLE users; --', false);`},
		{name: "a name is quoted against injection", want: map[string]setting{"a', 'b', false); DROP TABLE users; --": {value: "v"}},
			sql: "SELECT pg_catalog.set_config('a'', ''b'', false); drop table users; --', 'v', false);"},
		{name: "a name to reset is quoted against injection", have: map[string]setting{`x"; DROP TABLE users; --`: {value: "v"}},
			sql: `RESET "x""; drop table users; --";`}, // names are lower case
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := syncStatements(settingsOf(tt.have), settingsOf(tt.want))
			assert.Equal(t, tt.sql, got)
		})
	}
}

// TestSyncStatementsRunsEveryStatement checks that a replayed SET ending in a line
// comment does not swallow the statements after it: the sync is one query string,
// and a -- comment runs to the end of the line.
func TestSyncStatementsRunsEveryStatement(t *testing.T) {
	t.Parallel()
	want := settingsOf(map[string]setting{
		"a": {value: "SET a = 1 -- the tenant's schema", sql: true},
		"b": {value: "2"},
	})
	stmts, err := splitStatements(syncStatements(&settings{}, want))
	require.NoError(t, err)
	require.Len(t, stmts, 2, "both settings are applied")
	name, value, ok := setConfigArgs(stmts[1])
	require.True(t, ok, "second statement: %v", stmts[1])
	assert.Equal(t, "b", name)
	assert.Equal(t, "2", value)
}

func TestSettingsFingerprint(t *testing.T) {
	t.Parallel()
	t.Run("the same values in another order have the same fingerprint", func(t *testing.T) {
		var a, b settings
		a.set("x", setting{value: "1"}, "")
		a.set("y", setting{value: "2"}, "")
		b.set("y", setting{value: "2"}, "")
		b.set("X", setting{value: "1"}, "")
		assert.True(t, a.equal(&b))
		assert.NotEmpty(t, a.fingerprint)
	})
	t.Run("a value and the same text as SQL differ", func(t *testing.T) {
		var a, b settings
		a.set("x", setting{value: "1"}, "")
		b.set("x", setting{value: "1", sql: true}, "")
		assert.False(t, a.equal(&b))
	})
	t.Run("a value equal to the baseline is no setting", func(t *testing.T) {
		var a settings
		a.set("timezone", setting{value: "UTC"}, "UTC")
		assert.Empty(t, a.fingerprint)
		a.set("timezone", setting{value: "Europe/Paris"}, "UTC")
		assert.NotEmpty(t, a.fingerprint)
		a.set("TimeZone", setting{value: "UTC"}, "UTC")
		assert.Empty(t, a.fingerprint, "going back to the baseline removes it")
		assert.True(t, a.equal(&settings{}))
	})
	t.Run("names and values cannot run into each other", func(t *testing.T) {
		var a, b settings
		a.set("ab", setting{value: "c"}, "")
		b.set("a", setting{value: "bc"}, "")
		assert.False(t, a.equal(&b))
	})
	t.Run("copies and clears are equal to what they copy or clear", func(t *testing.T) {
		var a, b settings
		a.set("x", setting{value: "1"}, "")
		b.copyFrom(&a)
		assert.True(t, b.equal(&a))
		b.set("x", setting{value: "2"}, "")
		assert.False(t, b.equal(&a), "a copy does not share its map")
		assert.Equal(t, "1", a.vals["x"].value)
		b.clear()
		assert.True(t, b.equal(&settings{}))
	})
}

// FuzzSyncStatements checks that whatever a setting's name and value (a startup
// parameter or a ParameterStatus, both client-controlled), the sync query is exactly
// the statements it means: one set_config per value whose literals decode back to the
// name and value, and one RESET per dropped setting.
func FuzzSyncStatements(f *testing.F) {
	f.Add("search_path", "app", "work_mem")
	f.Add("a', 'b', false); DROP TABLE t; --", `\'; DROP TABLE t; --`, `x"; DROP TABLE t; --`)
	f.Add("a.b", "E'\\x41'", "c.d.e")
	f.Add("x", "/* ", "--")
	f.Fuzz(func(t *testing.T, name, value, dropped string) {
		if strings.ContainsRune(name+value+dropped, 0) || !utf8.ValidString(name+value+dropped) {
			return // no wire string carries a NUL; PostgreSQL checks the encoding first
		}
		name, dropped = strings.ToLower(name), strings.ToLower(dropped)
		if name == dropped {
			return
		}
		have := settingsOf(map[string]setting{dropped: {value: "old"}})
		want := settingsOf(map[string]setting{name: {value: value}})
		stmts, err := splitStatements(syncStatements(have, want))
		if err != nil {
			t.Fatalf("sync does not lex: %v", err)
		}
		if len(stmts) != 2 {
			t.Fatalf("%d statements: %q", len(stmts), stmts)
		}
		if reset := stmts[0]; len(reset) < 2 || reset[0].text != "RESET" {
			t.Fatalf("first statement %q", reset)
		} else {
			var parts []string
			for _, tok := range reset[1:] {
				if tok.kind != '"' {
					if tok.text == "." {
						continue
					}
					// Dots between quoted parts lex as words of their own here.
					if strings.Trim(tok.text, ".") != "" {
						t.Fatalf("RESET of unquoted %q", tok.text)
					}
					continue
				}
				parts = append(parts, tok.text)
			}
			if strings.Join(parts, ".") != dropped {
				t.Fatalf("RESET %q, want %q", parts, dropped)
			}
		}
		n, v, ok := setConfigArgs(stmts[1])
		if !ok || n != name || v != value {
			t.Fatalf("set_config statement %q, want (%q, %q)", stmts[1], name, value)
		}
	})
}
