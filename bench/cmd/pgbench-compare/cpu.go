package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks returns the kernel's clock ticks per second (getconf CLK_TCK), the
// unit of utime and stime in /proc/PID/stat; 100 if getconf fails.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

// cpuTicks returns utime+stime of process pid, all its threads included, in
// clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatTicks(string(b))
}

// parseStatTicks extracts utime (field 14) + stime (field 15) from a
// /proc/PID/stat line. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat line")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc stat line")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc stat line")
	}
	return utime + stime, nil
}

// cpuSample is a process's CPU time at a moment.
type cpuSample struct {
	At    time.Time
	Ticks int64
}

// cpuSampler records a process's CPU time every interval until stopped.
type cpuSampler struct {
	pid     int
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex // protects samples
	samples []cpuSample
}

func startCPUSampler(pid int, interval time.Duration) *cpuSampler {
	s := &cpuSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *cpuSampler) sample() {
	ticks, err := cpuTicks(s.pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, cpuSample{time.Now(), ticks})
	s.mu.Unlock()
}

// Stop takes a last sample and returns all of them, oldest first.
func (s *cpuSampler) Stop() []cpuSample {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// steadyCPU measures the pooler's CPU over the steady part of a run: from the
// first sample taken at or after the first transaction began (pgbench opens
// every connection before any transaction starts, so connection setup and
// authentication are left out) to the last sample, after pgbench exited. It
// returns the CPU time and the sample's time, which bounds the transactions to
// count.
func steadyCPU(samples []cpuSample, firstStart time.Time, ticksPerSec int64) (time.Duration, time.Time, bool) {
	if len(samples) < 2 {
		return 0, time.Time{}, false
	}
	last := samples[len(samples)-1]
	for _, s := range samples[:len(samples)-1] {
		if !s.At.Before(firstStart) {
			ticks := last.Ticks - s.Ticks
			return time.Duration(ticks * int64(time.Second) / ticksPerSec), s.At, true
		}
	}
	return 0, time.Time{}, false
}
