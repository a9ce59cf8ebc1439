package pg

import (
	"slices"
	"strings"
)

// A small SQL lexer, enough to find what a query does to its session: where its
// statements end and which words it uses, outside string literals, quoted
// identifiers, dollar-quoted strings and comments.

// scanSQL calls token for each keyword or unquoted identifier of q (q[start:end]) and
// for each semicolon, which ends a statement (end = start+1). Unterminated literals
// and comments run to the end of q, as PostgreSQL would read them. With backslashes,
// a backslash escapes the next byte in every string literal, as it does in a session
// with standard_conforming_strings off; otherwise only in E'...'.
func scanSQL(q string, backslashes bool, token func(start, end int)) {
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return
			}
			i += j + 1
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			i = skipBlockComment(q, i)
		case c == '\'':
			escapes := backslashes || i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') && (i == 1 || !isIdentByte(q[i-2]))
			i = skipQuoted(q, i, '\'', escapes)
		case c == '"':
			i = skipQuoted(q, i, '"', false)
		case c == '$' && (i == 0 || !isIdentByte(q[i-1])):
			i = skipDollarQuoted(q, i)
		case c == ';':
			token(i, i+1)
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			token(i, j)
			i = j
		default:
			i++
		}
	}
}

// skipBlockComment returns the index after the (nested) comment starting at i.
func skipBlockComment(q string, i int) int {
	depth := 0
	for i < len(q) {
		switch {
		case strings.HasPrefix(q[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(q[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// skipQuoted returns the index after the literal or identifier quoted with quote at
// i: a doubled quote stays inside, and with escapes (E'...') a backslash escapes the
// next byte.
func skipQuoted(q string, i int, quote byte, escapes bool) int {
	for i++; i < len(q); i++ {
		switch {
		case escapes && q[i] == '\\':
			i++
		case q[i] == quote:
			if i+1 < len(q) && q[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return i
}

// skipDollarQuoted returns the index after the $tag$...$tag$ string at i, or i+1 when
// the '$' starts none (a parameter such as $1).
func skipDollarQuoted(q string, i int) int {
	j := i + 1
	if j < len(q) && isIdentStart(q[j]) {
		for j < len(q) && isIdentByte(q[j]) && q[j] != '$' {
			j++
		}
	}
	if j >= len(q) || q[j] != '$' {
		return i + 1
	}
	tag := q[i : j+1]
	k := strings.Index(q[j+1:], tag)
	if k < 0 {
		return len(q)
	}
	return j + 1 + k + len(tag)
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

// scanThroughQuotes calls token for each word and semicolon of q, reading the text of
// literals, quoted names and comments as if it were not quoted: what a DO block's body
// or a string it executes would run.
func scanThroughQuotes(q string, token func(string)) {
	for i := 0; i < len(q); {
		switch c := q[i]; {
		case c == ';':
			token(";")
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(q) && isIdentByte(q[j]) && q[j] != '$' {
				j++
			}
			token(q[i:j])
			i = j
		default:
			i++
		}
	}
}

// sqlStatement is one statement of a query: its text and its words, upper-cased.
type sqlStatement struct {
	text  string
	words []string
}

// splitSQL splits q into its statements, dropping those without a word (empty ones,
// comments); backslashes is as for scanSQL.
func splitSQL(q string, backslashes bool) []sqlStatement {
	var out []sqlStatement
	start := 0
	var words []string
	flush := func(end int) {
		if len(words) > 0 {
			out = append(out, sqlStatement{text: strings.TrimSpace(q[start:end]), words: words})
		}
		words, start = nil, end+1
	}
	scanSQL(q, backslashes, func(s, e int) {
		if q[s] == ';' {
			flush(s)
			return
		}
		words = append(words, strings.ToUpper(q[s:e]))
	})
	flush(len(q))
	return out
}

// sameStatements reports whether a and b split a query alike.
func sameStatements(a, b []sqlStatement) bool {
	return slices.EqualFunc(a, b, func(x, y sqlStatement) bool {
		return x.text == y.text && slices.Equal(x.words, y.words)
	})
}
