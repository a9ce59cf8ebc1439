package main

import "fmt"

// Workload is one of pgbench's built-in scripts.
type Workload struct {
	Name  string   // select-only, tpcb-like
	Title string   // heading in the report
	Flags []string // pgbench options that select it
}

var workloads = []Workload{
	{"select-only", "select-only (`-S`)", []string{"-S"}},
	{"tpcb-like", "TPC-B like (`-b tpcb-like`, pgbench's default)", []string{"-b", "tpcb-like"}},
}

// scenario is one cell of the matrix: every target runs it each round.
type scenario struct {
	Workload Workload
	Protocol string
	Clients  int
}

func (s scenario) String() string {
	return fmt.Sprintf("%s %s c=%d", s.Workload.Name, s.Protocol, s.Clients)
}

// scenarios returns the matrix in report order: workload, then protocol, then
// clients.
func scenarios(ws []Workload, protocols []string, clients []int) []scenario {
	var out []scenario
	for _, w := range ws {
		for _, p := range protocols {
			for _, c := range clients {
				out = append(out, scenario{w, p, c})
			}
		}
	}
	return out
}

// rotate returns targets starting at index k (mod len), so that each target in
// turn runs first, and no target always runs right after the same neighbour.
func rotate[T any](targets []T, k int) []T {
	n := len(targets)
	if n == 0 {
		return nil
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, targets[(i+k)%n])
	}
	return out
}
