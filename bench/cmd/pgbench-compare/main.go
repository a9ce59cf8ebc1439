// Command pgbench-compare measures motorpool against PgBouncer and against
// direct connections to PostgreSQL with pgbench, alternating the three in one
// run, and writes a Markdown report (see bench/README.md).
//
// It starts everything it measures: a private PostgreSQL (internal/testenv),
// PgBouncer in transaction mode, and `motorpool serve` with a generated
// configuration (motorpool.yaml.tmpl). A pooler that cannot be started is
// reported as unavailable, and the others are still measured.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// options are the command-line flags.
type options struct {
	Duration  time.Duration
	Rounds    int
	Clients   []int
	Protocols []string
	Workloads []Workload
	Targets   []string
	PoolSize  int
	Scale     int
	Motorpool string
	OutDir    string
	Quick     bool
}

func parseFlags() (options, error) {
	var o options
	var clients, protocols, wls, targets string
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each pgbench run (whole seconds)")
	flag.IntVar(&o.Rounds, "rounds", 3, "times each scenario runs against each target")
	flag.StringVar(&clients, "clients", "1,20,100,500", "pgbench client counts")
	flag.StringVar(&protocols, "protocols", "simple,extended,prepared", "pgbench query protocols (-M)")
	flag.StringVar(&wls, "workloads", "select-only,tpcb-like", "pgbench built-in scripts")
	flag.StringVar(&targets, "targets", "direct,pgbouncer,motorpool", "what pgbench connects to")
	flag.IntVar(&o.PoolSize, "pool-size", 20, "server connections of each pooler (PgBouncer default_pool_size, motorpool connection_limit)")
	flag.IntVar(&o.Scale, "scale", 10, "pgbench scale factor (-i -s)")
	flag.StringVar(&o.Motorpool, "motorpool", "bin/motorpool", "motorpool binary; empty: not built")
	flag.StringVar(&o.OutDir, "out", "bench/results", "directory for the Markdown report")
	flag.BoolVar(&o.Quick, "quick", false, "smoke run: 2s per run, 2 rounds (unless -duration/-rounds are given)")
	flag.Parse()

	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Quick && !set["duration"] {
		o.Duration = 2 * time.Second
	}
	if o.Quick && !set["rounds"] {
		o.Rounds = 2
	}
	var err error
	if o.Clients, err = parseInts(clients); err != nil {
		return o, fmt.Errorf("-clients: %w", err)
	}
	o.Protocols = splitList(protocols)
	for _, p := range o.Protocols {
		if p != "simple" && p != "extended" && p != "prepared" {
			return o, fmt.Errorf("-protocols: unknown protocol %q", p)
		}
	}
	for _, name := range splitList(wls) {
		i := slices.IndexFunc(workloads, func(w Workload) bool { return w.Name == name })
		if i < 0 {
			return o, fmt.Errorf("-workloads: unknown workload %q", name)
		}
		o.Workloads = append(o.Workloads, workloads[i])
	}
	o.Targets = splitList(targets)
	for _, t := range o.Targets {
		if t != direct && t != pgbouncer && t != motorpool {
			return o, fmt.Errorf("-targets: unknown target %q", t)
		}
	}
	if o.Rounds < 1 || o.PoolSize < 1 || o.Scale < 1 || o.Duration < time.Second {
		return o, fmt.Errorf("-rounds, -pool-size and -scale must be positive, -duration at least 1s")
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgbench-compare:", err)
		os.Exit(2)
	}
	// Stop the servers on ^C; they also die with this process (testenv.Spawn).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		stopMotorpool()
		testenv.Shutdown()
		os.Exit(130)
	}()
	err = run(o)
	stopMotorpool()
	testenv.Shutdown()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgbench-compare:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func run(o options) error {
	started := time.Now()
	maxClients := slices.Max(o.Clients)
	if err := raiseFileLimit(maxClients); err != nil {
		return err
	}
	pgbench, err := testenv.LookPath("pgbench")
	if err != nil {
		return err
	}
	bench, err := setUp(o, maxClients)
	if err != nil {
		return err
	}
	scs := scenarios(o.Workloads, o.Protocols, o.Clients)
	results := map[string]map[string][]runResult{} // by scenario, then target
	var failures []string
	ticks := clockTicks()
	for round := range o.Rounds {
		for i, sc := range scs {
			for _, t := range rotate(bench.targets, round+i) {
				if t.Unavailable != "" || t.Unsupported[sc.Protocol] != "" {
					continue
				}
				r := bench.measure(pgbench, sc, t, o, ticks)
				if !t.checkAlive(sc.String()) {
					r = runResult{Err: "the pooler died", CPUPerTx: math.NaN()}
					logf("%s %s", t.Title, t.Unavailable)
				}
				if results[sc.String()] == nil {
					results[sc.String()] = map[string][]runResult{}
				}
				results[sc.String()][t.Name] = append(results[sc.String()][t.Name], r)
				if r.Err != "" {
					failures = append(failures, fmt.Sprintf("round %d, %s, %s: %s", round+1, sc, t.Name, r.Err))
					logf("[%d/%d] %-28s %-9s FAILED: %s", round+1, o.Rounds, sc, t.Name, r.Err)
					continue
				}
				logf("[%d/%d] %-28s %-9s %8.0f tps  p50 %6s ms  p99 %6s ms  cpu %s µs/txn",
					round+1, o.Rounds, sc, t.Name, r.TPS, ms(r.P50), ms(r.P99), cpuCell(cell{CPUPerTx: r.CPUPerTx}))
			}
		}
	}

	cells := map[string]map[string]cell{}
	for _, sc := range scs {
		cells[sc.String()] = map[string]cell{}
		for _, name := range []string{direct, pgbouncer, motorpool} {
			cells[sc.String()][name] = bench.cellFor(name, sc, results[sc.String()][name])
		}
	}
	threads := []string{}
	for _, c := range o.Clients {
		threads = append(threads, fmt.Sprintf("%d for %d clients", threadsFor(c, runtime.NumCPU()), c))
	}
	meta := reportMeta{
		Started: started, Elapsed: time.Since(started), Machine: machine(), Postgres: bench.pgVersion,
		Targets: bench.targets, PoolSize: o.PoolSize, Scale: o.Scale, Duration: o.Duration,
		Rounds: o.Rounds, Threads: strings.Join(threads, ", "), Quick: o.Quick, Failures: failures,
	}
	md := report(meta, scs, cells)
	fmt.Print(md)
	return writeReport(o, started, md)
}

// cellFor summarizes a target's runs, or says why there are none.
func (b *benchEnv) cellFor(name string, sc scenario, runs []runResult) cell {
	t := b.target(name)
	switch {
	case t == nil:
		return cell{Note: "not run", CPUPerTx: math.NaN()}
	case t.Unsupported[sc.Protocol] != "":
		return cell{Note: t.Unsupported[sc.Protocol], CPUPerTx: math.NaN()}
	case len(runs) == 0 && t.Unavailable != "":
		return cell{Note: "unavailable", CPUPerTx: math.NaN()}
	}
	return summarize(runs)
}

func writeReport(o options, started time.Time, md string) error {
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return err
	}
	name := started.Format("2006-01-02-1504")
	if o.Quick {
		name += "-quick"
	}
	path := filepath.Join(o.OutDir, name+".md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	logf("report written to %s", path)
	return nil
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: pgbench needs
// a descriptor per client (plus 3) and PgBouncer two per client. Setting it
// explicitly also makes children inherit it (Go otherwise restores the
// original soft limit in child processes).
func raiseFileLimit(clients int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if need := uint64(2*clients + 100); lim.Cur < need {
		return fmt.Errorf("open file limit %d is below the %d that %d clients need; raise it (ulimit -Hn)", lim.Cur, need, clients)
	}
	return nil
}

func machine() string {
	var u syscall.Utsname
	release := ""
	if syscall.Uname(&u) == nil {
		var b strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b.WriteByte(byte(c))
		}
		release = b.String()
	}
	return fmt.Sprintf("%d CPUs, Linux %s, %s", runtime.NumCPU(), release, cpuModel())
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// ctxFor bounds one pgbench run: its duration plus time to connect and
// disconnect 500 clients on a slow machine.
func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d+5*time.Minute)
}
