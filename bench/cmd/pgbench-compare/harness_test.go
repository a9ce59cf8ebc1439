package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const pgbenchOutput = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: prepared
number of clients: 20
number of threads: 2
maximum number of tries: 1
duration: 4 s
number of transactions actually processed: 31234
number of failed transactions: 3 (0.010%)
latency average = 2.512 ms
initial connection time = 851.220 ms
tps = 7961.422150 (without initial connection time)
`

func TestParseSummary(t *testing.T) {
	s, err := parseSummary(pgbenchOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := pgbenchSummary{Transactions: 31234, Failed: 3, TPS: 7961.42215, ConnectTime: 851220 * time.Microsecond}
	if s != want {
		t.Fatalf("parseSummary = %+v, want %+v", s, want)
	}
	noTx := "number of transactions actually processed: 0\nnumber of failed transactions: 0 (NaN%)\n"
	if _, err := parseSummary(noTx); !errors.Is(err, errNoTransactions) {
		t.Fatalf("a run without transactions: %v, want errNoTransactions", err)
	}
	if _, err := parseSummary("pgbench: error: connection refused\n"); err == nil {
		t.Fatal("output without a summary parsed without error")
	}
}

func TestRunSpecSeconds(t *testing.T) {
	tests := []struct {
		d, allowance time.Duration
		want         int
	}{
		{10 * time.Second, 0, 10},
		{10 * time.Second, 1500 * time.Millisecond, 12},
		{2 * time.Second, 16 * time.Second, 18},
		{0, 0, 1},
	}
	for _, tt := range tests {
		if got := (runSpec{Duration: tt.d, ConnectAllowance: tt.allowance}).seconds(); got != tt.want {
			t.Errorf("seconds(%v + %v) = %d, want %d", tt.d, tt.allowance, got, tt.want)
		}
	}
}

func TestThreadsFor(t *testing.T) {
	tests := []struct{ clients, cpus, want int }{
		{1, 2, 1}, {20, 2, 2}, {500, 2, 2}, {500, 16, 16}, {2500, 2, 3}, {1, 0, 1},
	}
	for _, tt := range tests {
		got := threadsFor(tt.clients, tt.cpus)
		if got != tt.want {
			t.Errorf("threadsFor(%d, %d) = %d, want %d", tt.clients, tt.cpus, got, tt.want)
		}
		if (tt.clients+got-1)/got > perThreadClientLimit {
			t.Errorf("threadsFor(%d, %d) leaves more than %d clients on a thread", tt.clients, tt.cpus, perThreadClientLimit)
		}
	}
}

func TestPercentile(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 100; i++ {
		xs = append(xs, time.Duration(i))
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := percentile(xs, tt.q); got != tt.want {
			t.Errorf("percentile(1..100, %v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("percentile([7], 0.99) = %v", got)
	}
}

func TestReadTxLogs(t *testing.T) {
	dir := t.TempDir()
	// client_id transaction_no time script_no time_epoch time_us
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tx.123", "0 0 500 0 1700000000 000600\n0 1 300 0 1700000001 000000\n")
	write("tx.123.1", "1 0 failed 0 1700000001 500000\n1 1 200 0 1700000002 000000\n")
	write("other", "0 0 99999 0 1700000000 0\n")

	l, err := readTxLogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{200 * time.Microsecond, 300 * time.Microsecond, 500 * time.Microsecond}
	if !slices.Equal(l.Latencies, want) {
		t.Fatalf("latencies %v, want %v (failed transactions and other files left out)", l.Latencies, want)
	}
	if first := time.Unix(1700000000, 100_000); !l.FirstStart.Equal(first) {
		t.Fatalf("FirstStart = %v, want %v", l.FirstStart, first)
	}
	if n := l.EndedAfter(time.Unix(1700000000, 600_000)); n != 2 {
		t.Fatalf("EndedAfter = %d, want 2", n)
	}
	if n := l.EndedAfter(time.Unix(1600000000, 0)); n != 3 {
		t.Fatalf("EndedAfter(long before) = %d, want 3", n)
	}
}

func TestParseStatTicks(t *testing.T) {
	// Field 2 may hold spaces and parentheses.
	stat := "1234 (pg (bouncer) x) S 1 1234 1234 0 -1 4194560 1000 0 0 0 150 42 0 0 20 0 1 0 100 0 0\n"
	got, err := parseStatTicks(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 192 {
		t.Fatalf("parseStatTicks = %d, want 150+42", got)
	}
	if _, err := parseStatTicks("garbage"); err == nil {
		t.Fatal("garbage parsed")
	}
	if ticks, err := cpuTicks(os.Getpid()); err != nil || ticks < 0 {
		t.Fatalf("cpuTicks(self) = %d, %v", ticks, err)
	}
}

func TestSteadyCPU(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	samples := []cpuSample{
		{t0, 100},                             // connecting: left out
		{t0.Add(100 * time.Millisecond), 180}, // first at or after the first transaction
		{t0.Add(200 * time.Millisecond), 190},
		{t0.Add(time.Second), 280},
	}
	cpu, from, ok := steadyCPU(samples, t0.Add(50*time.Millisecond), 100)
	if !ok || cpu != time.Second || !from.Equal(samples[1].At) {
		t.Fatalf("steadyCPU = %v from %v (%v), want 1s from the second sample", cpu, from, ok)
	}
	if _, _, ok := steadyCPU(samples[:1], t0, 100); ok {
		t.Fatal("one sample gave a measurement")
	}
}

func TestRotate(t *testing.T) {
	ts := []string{"a", "b", "c"}
	firsts := map[string]bool{}
	for k := range 3 {
		r := rotate(ts, k)
		if len(r) != 3 {
			t.Fatalf("rotate lost targets: %v", r)
		}
		firsts[r[0]] = true
	}
	if len(firsts) != 3 {
		t.Fatalf("not every target ran first: %v", firsts)
	}
}

func TestSummarize(t *testing.T) {
	c := summarize([]runResult{
		{TPS: 100, P50: 1, P99: 10, CPUPerTx: 5},
		{TPS: 300, P50: 3, P99: 30, CPUPerTx: math.NaN()},
		{TPS: 200, P50: 2, P99: 20, CPUPerTx: 7},
		{Err: "boom"},
	})
	if c.TPS != 200 || c.P50 != 2 || c.P99 != 20 || c.CPUPerTx != 6 || c.Runs != 3 || c.Spread != 0.5 {
		t.Fatalf("summarize = %+v", c)
	}
	if c := summarize([]runResult{{Err: "boom"}}); !strings.Contains(c.Note, "boom") {
		t.Fatalf("all-failed cell note = %q", c.Note)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for v, want := range map[string]bool{"1.18.0": false, "1.21.0": true, "1.24": true, "2.0.1": true, "x": false} {
		if got := versionAtLeast(v, 1, 21); got != want {
			t.Errorf("versionAtLeast(%q, 1, 21) = %v", v, got)
		}
	}
}

func TestReportMarksUnsupportedAndUnavailable(t *testing.T) {
	sc := scenario{workloads[0], "prepared", 20}
	cells := map[string]map[string]cell{sc.String(): {
		direct:    {TPS: 1000, P50: time.Millisecond, P99: 3 * time.Millisecond, CPUPerTx: math.NaN(), Runs: 1},
		pgbouncer: {Note: "n/a (unsupported)", CPUPerTx: math.NaN()},
		motorpool: {Note: "unavailable", CPUPerTx: math.NaN()},
	}}
	md := report(reportMeta{Targets: []*Target{{Title: "motorpool", Unavailable: "not built"}}}, []scenario{sc}, cells)
	for _, want := range []string{
		"| prepared | 20 | 1000 | n/a (unsupported) | unavailable | 1.00 / 3.00 | — | — | — | — | — | — |",
		"motorpool: **unavailable**: not built",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestMotorpoolConfigRenders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "motorpool.yaml")
	data := motorpoolConfigData{
		pooled: pooled{PoolSize: 20, MaxClients: 1000, User: "bench", Password: "pw", Database: "bench"},
		Port:   6432, AdminPort: 8080, PGPort: 5432,
	}
	if err := writeTemplate(path, motorpoolConfig, data); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"listen: 127.0.0.1:6432", "@127.0.0.1:5432/bench?connection_limit=20", "pool_mode: transaction"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
}
