package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// runResult is one pgbench run of one scenario against one target.
type runResult struct {
	TPS      float64
	P50, P99 time.Duration
	// CPUPerTx is the pooler's CPU µs per transaction; NaN for direct or when
	// it could not be measured.
	CPUPerTx float64
	Failed   int    // transactions pgbench counted as failed
	Err      string // why the run produced no numbers; "" when it did
}

// cell is the median of a target's runs of one scenario.
type cell struct {
	Note     string // instead of numbers: unavailable, unsupported, failed
	TPS      float64
	Spread   float64 // (max-min)/2 of tps over rounds, relative to the median
	P50, P99 time.Duration
	CPUPerTx float64 // NaN when not measured
	Runs     int
}

// summarize reduces a target's runs to medians. Runs that failed are left
// out; if all failed, the cell carries the first error.
func summarize(runs []runResult) cell {
	var tps, p50, p99, cpu []float64
	var firstErr string
	for _, r := range runs {
		if r.Err != "" {
			if firstErr == "" {
				firstErr = r.Err
			}
			continue
		}
		tps = append(tps, r.TPS)
		p50 = append(p50, float64(r.P50))
		p99 = append(p99, float64(r.P99))
		if !math.IsNaN(r.CPUPerTx) {
			cpu = append(cpu, r.CPUPerTx)
		}
	}
	if len(tps) == 0 {
		return cell{Note: "failed: " + firstErr, CPUPerTx: math.NaN()}
	}
	c := cell{
		TPS: median(tps), P50: time.Duration(median(p50)), P99: time.Duration(median(p99)),
		CPUPerTx: math.NaN(), Runs: len(tps),
	}
	if len(cpu) > 0 {
		c.CPUPerTx = median(cpu)
	}
	if c.TPS > 0 {
		c.Spread = (slices.Max(tps) - slices.Min(tps)) / 2 / c.TPS
	}
	return c
}

// median returns the median of xs (the mean of the middle two for an even
// count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// reportMeta describes the run for the report's header.
type reportMeta struct {
	Started         time.Time
	Elapsed         time.Duration
	Machine         string
	Postgres        string
	Targets         []*Target
	PoolSize, Scale int
	Duration        time.Duration
	Rounds          int
	Threads         string
	Quick           bool
	Failures        []string
}

// report renders the results as Markdown: a header saying how they were
// obtained, then one table per workload with a row per protocol and client
// count. cells holds each scenario's cells (by scenario.String()) by target.
func report(meta reportMeta, scs []scenario, cells map[string]map[string]cell) string {
	var b strings.Builder
	title := "pgbench: direct vs PgBouncer vs motorpool"
	if meta.Quick {
		title += " (quick smoke run: too short to compare)"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "- run: %s, %s in all\n", meta.Started.Format("2006-01-02 15:04 MST"), meta.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- machine: %s; PostgreSQL %s (private instance, fsync off)\n", meta.Machine, meta.Postgres)
	for _, t := range meta.Targets {
		if t.Unavailable != "" {
			fmt.Fprintf(&b, "- %s: **unavailable**: %s\n", t.Title, t.Unavailable)
		}
	}
	fmt.Fprintf(&b, "- poolers: transaction mode, pool size %d, scram-sha-256, same user and database\n", meta.PoolSize)
	fmt.Fprintf(&b, "- %v per run after all clients connected, %d round(s), targets alternated within each round (order rotates); pgbench scale %d, -j %s\n",
		meta.Duration, meta.Rounds, meta.Scale, meta.Threads)
	b.WriteString("- tps: median over rounds (± half the min–max range); latency p50/p99 in ms from pgbench's per-transaction logs (median over rounds); " +
		"CPU: the pooler's utime+stime from /proc per transaction, steady state (see bench/README.md)\n")

	for _, w := range workloads {
		var rows []scenario
		for _, sc := range scs {
			if sc.Workload.Name == w.Name {
				rows = append(rows, sc)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n", w.Title)
		b.WriteString("| protocol | clients | tps direct | tps PgBouncer | tps motorpool | p50/p99 ms direct | p50/p99 ms PgBouncer | p50/p99 ms motorpool | motorpool/PgBouncer | motorpool/direct | CPU µs/txn PgBouncer | CPU µs/txn motorpool |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, sc := range rows {
			c := cells[sc.String()]
			d, p, m := c[direct], c[pgbouncer], c[motorpool]
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				sc.Protocol, sc.Clients, tpsCell(d), tpsCell(p), tpsCell(m),
				latCell(d), latCell(p), latCell(m),
				ratio(m, p), ratio(m, d), cpuCell(p), cpuCell(m))
		}
	}
	if len(meta.Failures) > 0 {
		b.WriteString("\n## Failed runs\n\n")
		for _, f := range meta.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

func tpsCell(c cell) string {
	if c.Note != "" {
		return c.Note
	}
	if c.Runs > 1 {
		return fmt.Sprintf("%.0f ±%.0f%%", c.TPS, c.Spread*100)
	}
	return fmt.Sprintf("%.0f", c.TPS)
}

func latCell(c cell) string {
	if c.Note != "" {
		return "—"
	}
	return fmt.Sprintf("%s / %s", ms(c.P50), ms(c.P99))
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(a, b cell) string {
	if a.Note != "" || b.Note != "" || b.TPS == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a.TPS/b.TPS)
}

func cpuCell(c cell) string {
	if c.Note != "" || math.IsNaN(c.CPUPerTx) {
		return "—"
	}
	return fmt.Sprintf("%.1f", c.CPUPerTx)
}
