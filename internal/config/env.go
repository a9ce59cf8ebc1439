package config

import (
	"fmt"
	"strings"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in s with values from env.
//
// ${VAR} is an error when VAR is unset; ${VAR:-default} gives default when
// VAR is unset or empty, as in the shell (the default itself is not
// expanded). $$ is a literal $. Any other $ is kept as written, so SQL
// placeholders such as $1 need no escaping.
//
// Error messages name the variable, never its value.
func expandEnv(s string, env func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed ${ at offset %d", i)
			}
			v, err := lookupVar(s[i+2:i+2+end], env)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// lookupVar evaluates the inside of ${...}: NAME or NAME:-default.
func lookupVar(expr string, env func(string) (string, bool)) (string, error) {
	name, def, hasDefault := strings.Cut(expr, ":-")
	if !validVarName(name) {
		return "", fmt.Errorf("invalid environment variable reference ${%s}: want ${NAME} or ${NAME:-default}", truncate(expr, 40))
	}
	v, ok := env(name)
	switch {
	case hasDefault && v == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set (write ${%s:-} to allow it to be empty)", name, name)
	}
	return v, nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// truncate shortens s for quoting in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
