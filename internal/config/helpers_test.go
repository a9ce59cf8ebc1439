package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// env returns a lookup function over a fixed set of variables.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// mustParse parses a configuration that must be valid.
func mustParse(t *testing.T, yaml string) *Config {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(dedent(yaml)), env(nil))
	require.NoError(t, err)
	return cfg
}

// parseErrors parses a configuration that must be invalid and returns its
// problems formatted.
func parseErrors(t *testing.T, yaml string, vars map[string]string) []string {
	t.Helper()
	_, err := Parse("test.yaml", []byte(dedent(yaml)), env(vars))
	require.Error(t, err)
	var errs Errors
	require.True(t, errors.As(err, &errs), "error is %T", err)
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// dedent removes the common leading tabs of a raw string literal, so test
// YAML can be indented with the code.
func dedent(s string) string {
	s = strings.TrimPrefix(s, "\n")
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}
