package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// perThreadClientLimit keeps each pgbench thread under FD_SETSIZE (1024) for
// pgbench builds that wait with select(). Debian's pgbench 15 waits with
// ppoll(), where the only limit is RLIMIT_NOFILE (clients + 3), which main
// raises; the split costs nothing there.
const perThreadClientLimit = 1000

// threadsFor returns pgbench's -j for clients on a machine with cpus CPUs: one
// thread per CPU, never more than clients, and enough threads that none has
// more than perThreadClientLimit clients.
func threadsFor(clients, cpus int) int {
	j := min(clients, max(cpus, 1))
	return max(j, (clients+perThreadClientLimit-1)/perThreadClientLimit)
}

// runSpec is one pgbench run against one target.
type runSpec struct {
	Workload Workload
	Protocol string // simple, extended or prepared (pgbench -M)
	Clients  int
	Threads  int
	Duration time.Duration // of the measured part, after every client connected
	// ConnectAllowance is added to pgbench's -T, whose clock also runs while
	// the clients connect (500 SCRAM logins take seconds on a small machine).
	ConnectAllowance time.Duration
	Port             int
	User             string
	Password         string
	Database         string
	LogDir           string // receives pgbench's per-transaction logs
}

func (s runSpec) args() []string {
	args := []string{
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", s.User,
		"-n", // no vacuum: the harness resets tables itself, outside the measurement
		"-M", s.Protocol, "-c", strconv.Itoa(s.Clients), "-j", strconv.Itoa(s.Threads),
		"-T", strconv.Itoa(s.seconds()),
		"--log", "--log-prefix=" + filepath.Join(s.LogDir, "tx"),
	}
	args = append(args, s.Workload.Flags...)
	return append(args, s.Database)
}

// seconds is pgbench's -T: the duration plus the connection allowance, in
// whole seconds, rounded up.
func (s runSpec) seconds() int {
	return max(int((s.Duration+s.ConnectAllowance+time.Second-1)/time.Second), 1)
}

// pgbenchSummary is what pgbench prints at the end of a run.
type pgbenchSummary struct {
	Transactions int     // "number of transactions actually processed"
	Failed       int     // "number of failed transactions" (pgbench 15+)
	TPS          float64 // "tps = ... (without initial connection time)"
	// ConnectTime is "initial connection time": how long the clients took to
	// connect, in parallel over pgbench's threads.
	ConnectTime time.Duration
}

// errNoTransactions means -T ran out before any transaction completed: the
// clients were still connecting.
var errNoTransactions = errors.New("no transaction completed: -T ran out while clients connected")

var (
	reProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	reFailed    = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
	reTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	reConnect   = regexp.MustCompile(`(?m)^initial connection time = ([0-9.]+) ms`)
)

// parseSummary reads pgbench's final report.
func parseSummary(out string) (pgbenchSummary, error) {
	var s pgbenchSummary
	m := reProcessed.FindStringSubmatch(out)
	t := reTPS.FindStringSubmatch(out)
	if c := reConnect.FindStringSubmatch(out); c != nil {
		ms, _ := strconv.ParseFloat(c[1], 64)
		s.ConnectTime = time.Duration(ms * float64(time.Millisecond))
	}
	if m != nil && (m[1] == "0" || t == nil) {
		return s, errNoTransactions
	}
	if m == nil || t == nil {
		return s, fmt.Errorf("no transaction count or tps in pgbench output")
	}
	s.Transactions, _ = strconv.Atoi(m[1])
	s.TPS, _ = strconv.ParseFloat(t[1], 64)
	if f := reFailed.FindStringSubmatch(out); f != nil {
		s.Failed, _ = strconv.Atoi(f[1])
	}
	return s, nil
}

// runPgbench runs pgbench and returns its summary. A run pgbench reports as
// aborted (exit status 2: some clients hit an error) is an error, with the
// first error line pgbench printed.
func runPgbench(ctx context.Context, bin string, s runSpec) (pgbenchSummary, error) {
	cmd := exec.CommandContext(ctx, bin, s.args()...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+s.Password, "PGSSLMODE=disable")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return pgbenchSummary{}, fmt.Errorf("pgbench: %v: %s", err, firstErrorLine(stderr.String()))
	}
	sum, err := parseSummary(stdout.String())
	if err != nil {
		return sum, fmt.Errorf("%w; pgbench said: %s", err, firstErrorLine(stdout.String()+"\n"+stderr.String()))
	}
	return sum, nil
}

// firstErrorLine picks the most telling line of pgbench's stderr.
func firstErrorLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range lines {
		if strings.Contains(l, "error") || strings.Contains(l, "ERROR") || strings.Contains(l, "FATAL") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
