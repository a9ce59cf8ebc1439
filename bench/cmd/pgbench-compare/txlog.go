package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// txLog is what pgbench's per-transaction logs (--log) say about a run.
type txLog struct {
	Latencies  []time.Duration // of every completed transaction, sorted
	FirstStart time.Time       // when the earliest transaction began
	ends       []time.Time     // completion times, sorted
}

// readTxLogs reads every pgbench log file "<prefix>.<pid>[.<thread>]" in dir.
// Each line is "client_id transaction_no time script_no time_epoch time_us":
// time is the transaction's latency in µs ("failed" or "skipped" for
// transactions that did not complete), and time_epoch.time_us its end.
func readTxLogs(dir string) (txLog, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil {
		return txLog{}, err
	}
	var l txLog
	for _, name := range files {
		if err := l.readFile(name); err != nil {
			return txLog{}, err
		}
	}
	slices.Sort(l.Latencies)
	slices.SortFunc(l.ends, func(a, b time.Time) int { return a.Compare(b) })
	return l, nil
}

func (l *txLog) readFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		us, err1 := strconv.ParseInt(fields[2], 10, 64)
		sec, err2 := strconv.ParseInt(fields[4], 10, 64)
		usec, err3 := strconv.ParseInt(fields[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue // failed or skipped transaction
		}
		lat := time.Duration(us) * time.Microsecond
		end := time.Unix(sec, usec*1000)
		l.Latencies = append(l.Latencies, lat)
		l.ends = append(l.ends, end)
		if start := end.Add(-lat); l.FirstStart.IsZero() || start.Before(l.FirstStart) {
			l.FirstStart = start
		}
	}
	return sc.Err()
}

// EndedAfter counts the transactions that completed after t.
func (l txLog) EndedAfter(t time.Time) int {
	i, _ := slices.BinarySearchFunc(l.ends, t, func(e, t time.Time) int {
		if e.After(t) {
			return 1
		}
		return -1
	})
	return len(l.ends) - i
}

// percentile returns the q-quantile (0 < q <= 1) of sorted by the nearest-rank
// method, or 0 for an empty slice.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
