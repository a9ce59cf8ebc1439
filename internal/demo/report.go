package demo

import (
	"fmt"
	"io"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/pool"
)

// sampleEvery is how often the reporter reads the pools, to see how many
// clients wait at the peaks between two reports.
const sampleEvery = 100 * time.Millisecond

// reading is a pool's state at one moment.
type reading struct {
	stats pool.Stats
	tx    uint64 // Counters.Transactions
}

func read(pl *proxy.Pool) reading {
	return reading{stats: pl.Core().Stats(), tx: pl.Counters.Transactions.Load()}
}

// reporter reads the pools while the workload runs and prints the live
// report. Only its run goroutine touches it until run returns.
type reporter struct {
	o       Options
	start   time.Time
	tallies []*tally // by service, as o.Services
	lastTx  []uint64 // the services' transactions at the previous report

	first   map[*proxy.Pool]reading // at the start of the run
	last    map[*proxy.Pool]reading // at the previous report
	peak    map[*proxy.Pool]int     // most clients waiting since the previous report
	maxPeak map[*proxy.Pool]int     // most clients waiting during the run
	header  bool                    // the report's header is printed
}

func newReporter(o Options, start time.Time, tallies []*tally) *reporter {
	r := &reporter{o: o, start: start, tallies: tallies, lastTx: make([]uint64, len(tallies)),
		first: map[*proxy.Pool]reading{}, last: map[*proxy.Pool]reading{},
		peak: map[*proxy.Pool]int{}, maxPeak: map[*proxy.Pool]int{}}
	for _, pl := range r.pools() {
		r.first[pl] = read(pl)
		r.last[pl] = r.first[pl]
	}
	return r
}

func (r *reporter) pools() []*proxy.Pool {
	if r.o.Pools == nil {
		return nil
	}
	return r.o.Pools()
}

// run samples the pools and prints a report every o.Every until done closes.
func (r *reporter) run(done <-chan struct{}) {
	sample := time.NewTicker(sampleEvery)
	defer sample.Stop()
	report := time.NewTicker(r.o.Every)
	defer report.Stop()
	for {
		select {
		case <-done:
			return
		case <-sample.C:
			r.sample()
		case <-report.C:
			r.sample()
			r.report()
		}
	}
}

func (r *reporter) sample() {
	for _, pl := range r.pools() {
		w := pl.Core().Stats().Waiting
		r.peak[pl] = max(r.peak[pl], w)
		r.maxPeak[pl] = max(r.maxPeak[pl], w)
	}
}

// report prints one line per service pool, and per other pool that served
// transactions since the previous report (your own psql session, say). A
// service's transactions are those its clients committed; another pool's are
// the units of work it served.
func (r *reporter) report() {
	if r.o.Pools == nil {
		return
	}
	w := r.o.Out
	if !r.header {
		fmt.Fprintf(w, "%6s  %-14s %7s %7s %8s %9s\n", "time", "pool", "tx/s", "conns", "waiting", "p95 wait")
		r.header = true
	}
	when := time.Since(r.start).Round(time.Second).String()
	for _, pl := range r.ordered() {
		now := read(pl)
		prev := r.last[pl] // zero for a pool created since
		tx := now.tx - prev.tx
		if i := r.serviceOf(pl); i >= 0 {
			n := r.tallies[i].transactions.Load()
			tx, r.lastTx[i] = n-r.lastTx[i], n
		} else if tx == 0 {
			continue
		}
		interval := now.stats.AcquireTime.Sub(prev.stats.AcquireTime)
		p95 := "-"
		if interval.Count > 0 {
			p95 = fmtDuration(interval.Quantile(0.95))
		}
		fmt.Fprintf(w, "%6s  %-14s %7s %7s %8d %9s\n", when, label(pl), fmtRate(float64(tx)/r.o.Every.Seconds()),
			fmt.Sprintf("%d/%d", now.stats.Total, now.stats.Max), r.peak[pl], p95)
		when = ""
		r.last[pl] = now
		r.peak[pl] = 0
	}
}

// serviceOf returns the index of pl's service in o.Services, or -1.
func (r *reporter) serviceOf(pl *proxy.Pool) int {
	for i, s := range r.o.Services {
		if pl.Service == s.Name {
			return i
		}
	}
	return -1
}

// ordered returns the pools of the services in their order, then the others.
func (r *reporter) ordered() []*proxy.Pool {
	pools := r.pools()
	out := make([]*proxy.Pool, 0, len(pools))
	for _, s := range r.o.Services {
		if pl := poolOf(pools, s.Name); pl != nil {
			out = append(out, pl)
		}
	}
	for _, pl := range pools {
		if r.serviceOf(pl) < 0 {
			out = append(out, pl)
		}
	}
	return out
}

func poolOf(pools []*proxy.Pool, service string) *proxy.Pool {
	for _, pl := range pools {
		if pl.Service == service {
			return pl
		}
	}
	return nil
}

// label names a pool in the report: its service, else its own name.
func label(pl *proxy.Pool) string {
	if pl.Service != "" {
		return pl.Service
	}
	return pl.Name
}

// Summary is what the simulated services did during a Run.
type Summary struct {
	Elapsed  time.Duration
	Services []ServiceSummary
}

// ServiceSummary is one service's part of a Summary. The pool fields are zero
// when Options.Pools was nil or had no pool for the service.
type ServiceSummary struct {
	Name, Type   string
	Clients      int
	Transactions uint64   // committed by the service's clients
	Errors       uint64   // failed rounds and connection attempts
	FirstErrors  []string // the first few distinct error messages

	Pool        string        // the pool's name
	Acquires    uint64        // server connections handed to the clients
	Waited      uint64        // acquires that had to wait for a connection
	MeanWait    time.Duration // mean acquire time
	P95Wait     time.Duration // 95th percentile of the acquire time
	PeakWaiting int           // most clients seen waiting at once
}

// Errors returns the errors of all services.
func (s *Summary) Errors() uint64 {
	var n uint64
	for _, sv := range s.Services {
		n += sv.Errors
	}
	return n
}

func (r *reporter) summary(elapsed time.Duration) *Summary {
	s := &Summary{Elapsed: elapsed}
	pools := r.pools()
	for i, svc := range r.o.Services {
		t := r.tallies[i]
		ss := ServiceSummary{Name: svc.Name, Type: svc.Type, Clients: svc.Clients,
			Transactions: t.transactions.Load(), Errors: t.errors.Load()}
		t.mu.Lock()
		ss.FirstErrors = append([]string(nil), t.firstErrs...)
		t.mu.Unlock()
		if pl := poolOf(pools, svc.Name); pl != nil {
			now := pl.Core().Stats()
			first := r.first[pl].stats
			h := now.AcquireTime.Sub(first.AcquireTime)
			ss.Pool = pl.Name
			ss.Acquires = now.Acquired - first.Acquired
			ss.Waited = now.Waits - first.Waits
			ss.MeanWait, ss.P95Wait = h.Mean(), h.Quantile(0.95)
			ss.PeakWaiting = r.maxPeak[pl]
		}
		s.Services = append(s.Services, ss)
	}
	return s
}

// Print writes the summary as a table, followed by the errors seen.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "%-10s %-21s %7s %12s %6s %13s %9s %9s %11s\n",
		"service", "type", "clients", "transactions", "errors", "waited", "mean wait", "p95 wait", "max waiting")
	for _, sv := range s.Services {
		waited := "-"
		if sv.Acquires > 0 {
			waited = fmt.Sprintf("%d (%.0f%%)", sv.Waited, 100*float64(sv.Waited)/float64(sv.Acquires))
		}
		fmt.Fprintf(w, "%-10s %-21s %7d %12d %6d %13s %9s %9s %11d\n", sv.Name, sv.Type, sv.Clients,
			sv.Transactions, sv.Errors, waited, fmtDuration(sv.MeanWait), fmtDuration(sv.P95Wait), sv.PeakWaiting)
	}
	for _, sv := range s.Services {
		for _, e := range sv.FirstErrors {
			fmt.Fprintf(w, "%s error: %s\n", sv.Name, e)
		}
	}
}

// fmtRate prints a rate with a decimal when it is small.
func fmtRate(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.0f", r)
}

// fmtDuration prints d with about two significant digits.
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
