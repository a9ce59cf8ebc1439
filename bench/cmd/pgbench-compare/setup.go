package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// The role and database pgbench uses on every target.
const (
	benchUser     = "bench"
	benchPassword = "bench-secret"
	benchDB       = "bench"
)

// benchEnv is what a run measures: the database and the targets.
type benchEnv struct {
	pg        *testenv.PG
	pgVersion string
	targets   []*Target
	dir       string // scratch: configurations, pgbench logs
	// connectTimes remembers how long clients took to connect, by target and
	// client count, to size the next run's -T (see connectAllowance).
	connectTimes map[string]time.Duration
}

// connectAllowance is the time added to a run's -T for its clients to
// connect: 1.5 times what the last run of the same target and client count
// took plus a second, or, before any run, a generous 30 ms per client.
func (b *benchEnv) connectAllowance(t *Target, clients int) time.Duration {
	if d, ok := b.connectTimes[fmt.Sprint(t.Name, clients)]; ok {
		return d*3/2 + time.Second
	}
	return time.Duration(clients)*30*time.Millisecond + time.Second
}

// setUp starts PostgreSQL, loads pgbench's tables, and starts the poolers.
func setUp(o options, maxClients int) (*benchEnv, error) {
	// Direct runs need a server connection per client; the poolers need theirs
	// on top, since they stay connected between runs.
	pg, err := testenv.StartPostgres(testenv.PGOptions{
		MaxConnections: maxClients + 2*o.PoolSize + 50,
		Settings:       map[string]string{"shared_buffers": "256MB", "autovacuum": "off"},
	})
	if err != nil {
		return nil, err
	}
	dir, err := testenv.RunDir()
	if err != nil {
		return nil, err
	}
	b := &benchEnv{pg: pg, dir: dir, connectTimes: map[string]time.Duration{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := pg.EnsureRole(ctx, benchUser, benchPassword, testenv.AuthScram); err != nil {
		return nil, err
	}
	if err := pg.EnsureDatabase(ctx, benchDB, benchUser); err != nil {
		return nil, err
	}
	b.pgVersion = pgVersion(ctx, pg)
	logf("PostgreSQL %s on port %d; loading pgbench tables at scale %d", b.pgVersion, pg.Port, o.Scale)
	if err := initPgbench(pg, o.Scale); err != nil {
		return nil, err
	}
	p := pooled{PoolSize: o.PoolSize, MaxClients: max(maxClients*2, 1000), User: benchUser, Password: benchPassword, Database: benchDB}
	for _, name := range o.Targets {
		var t *Target
		switch name {
		case direct:
			t = &Target{Name: direct, Title: "direct", Port: pg.Port}
		case pgbouncer:
			t = startPgBouncer(pg, p)
		case motorpool:
			t = startMotorpool(o.Motorpool, pg, p, dir)
		}
		if t.Unavailable != "" {
			logf("%s unavailable: %s", t.Title, t.Unavailable)
		} else {
			logf("%s on port %d (pid %d)", t.Title, t.Port, t.Pid)
		}
		b.targets = append(b.targets, t)
	}
	return b, nil
}

func (b *benchEnv) target(name string) *Target {
	for _, t := range b.targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func pgVersion(ctx context.Context, pg *testenv.PG) string {
	out, err := exec.CommandContext(ctx, filepath.Join(pg.BinDir, "postgres"), "--version").Output()
	if err != nil {
		return "?"
	}
	var v string
	fmt.Sscanf(string(out), "postgres (PostgreSQL) %s", &v)
	return v
}

// initPgbench creates and fills pgbench's tables, directly, as the bench user.
func initPgbench(pg *testenv.PG, scale int) error {
	bin, err := testenv.LookPath("pgbench")
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-i", "-q", "-s", strconv.Itoa(scale), "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", benchUser, benchDB)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+benchPassword, "PGSSLMODE=disable")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	return nil
}

// resetTables undoes what a TPC-B run leaves behind, as pgbench itself does
// before a run (without -n), but directly and outside the measurement.
func (b *benchEnv) resetTables(ctx context.Context) error {
	for _, q := range []string{"VACUUM pgbench_branches", "VACUUM pgbench_tellers", "TRUNCATE pgbench_history"} {
		if err := b.pg.Exec(ctx, benchDB, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// measure runs one scenario against one target and computes its numbers. When
// the clients were still connecting as -T ran out, it tries again (twice at
// most) with an allowance sized from how long pgbench ran.
func (b *benchEnv) measure(pgbench string, sc scenario, t *Target, o options, ticksPerSec int64) runResult {
	key := fmt.Sprint(t.Name, sc.Clients)
	for attempt := 1; ; attempt++ {
		r, wall, err := b.measureOnce(pgbench, sc, t, o, ticksPerSec)
		if errors.Is(err, errNoTransactions) && attempt < 3 {
			b.connectTimes[key] = max(wall, 2*b.connectTimes[key])
			logf("%s %s: clients still connecting when -T ran out after %v; again with more time", sc, t.Name, wall.Round(time.Second))
			continue
		}
		if err != nil {
			return runResult{Err: err.Error(), CPUPerTx: math.NaN()}
		}
		return r
	}
}

// measureOnce runs pgbench once; it also returns how long pgbench ran.
func (b *benchEnv) measureOnce(pgbench string, sc scenario, t *Target, o options, ticksPerSec int64) (runResult, time.Duration, error) {
	allowance := b.connectAllowance(t, sc.Clients)
	ctx, cancel := ctxFor(o.Duration + allowance)
	defer cancel()
	if sc.Workload.Name == "tpcb-like" {
		if err := b.resetTables(ctx); err != nil {
			return runResult{}, 0, err
		}
	}
	logDir, err := os.MkdirTemp(b.dir, "pgbench-")
	if err != nil {
		return runResult{}, 0, err
	}
	defer os.RemoveAll(logDir)
	spec := runSpec{
		Workload: sc.Workload, Protocol: sc.Protocol, Clients: sc.Clients,
		Threads: threadsFor(sc.Clients, runtime.NumCPU()), Duration: o.Duration,
		ConnectAllowance: allowance,
		Port:             t.Port, User: benchUser, Password: benchPassword, Database: benchDB, LogDir: logDir,
	}
	var sampler *cpuSampler
	if t.Pid != 0 {
		sampler = startCPUSampler(t.Pid, 100*time.Millisecond)
	}
	start := time.Now()
	sum, err := runPgbench(ctx, pgbench, spec)
	wall := time.Since(start)
	if sum.ConnectTime > 0 {
		b.connectTimes[fmt.Sprint(t.Name, sc.Clients)] = sum.ConnectTime
	}
	var samples []cpuSample
	if sampler != nil {
		samples = sampler.Stop()
	}
	if err != nil {
		return runResult{}, wall, err
	}
	txs, err := readTxLogs(logDir)
	if err != nil {
		return runResult{}, wall, err
	}
	r := runResult{
		TPS: sum.TPS, Failed: sum.Failed, CPUPerTx: math.NaN(),
		P50: percentile(txs.Latencies, 0.50), P99: percentile(txs.Latencies, 0.99),
	}
	if cpu, from, ok := steadyCPU(samples, txs.FirstStart, ticksPerSec); ok {
		if n := txs.EndedAfter(from); n > 0 {
			r.CPUPerTx = float64(cpu.Microseconds()) / float64(n)
		}
	}
	return r, wall, nil
}
