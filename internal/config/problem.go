package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a configuration file. Line and Col count from 1.
// The zero Pos means "no place": values that are built in or did not come
// from a file.
type Pos struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether p names a line of a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats p as FILE:LINE:COL, FILE:LINE when the column is unknown,
// FILE when the line is unknown, and "" for the zero Pos.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Problem is one error or warning found in a configuration: where it is, the
// dotted path of the setting it is about (databases.shop.url) and what is
// wrong. Pos is the zero Pos for problems that no single line causes; Path
// is empty for problems with the file as a whole.
//
// Messages never contain passwords or tokens.
type Problem struct {
	Pos  Pos
	Path string
	Msg  string
}

// Error formats the problem as FILE:LINE:COL: PATH: MESSAGE, leaving out the
// parts that are empty.
func (p *Problem) Error() string {
	var b strings.Builder
	if s := p.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every error found in one configuration, in file order. Parse and
// Load return it as their error when the configuration is invalid; use
// errors.As to get at the individual problems.
type Errors []*Problem

// Error joins the problems, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by file position; problems without a position
// keep their relative order and come last.
func sortProblems(ps []*Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if a.IsValid() != b.IsValid() {
			return a.IsValid()
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}
