package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/motorpool/motorpool/internal/testenv"
)

// maxIdleClientBytes is the floor issue 4 sets: resident memory per idle client.
const maxIdleClientBytes = 16 << 10

// vmRSS returns a process's resident set size in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) < 2 || f[1] != "kB" {
				t.Fatalf("unexpected VmRSS line %q", line)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// raiseFileLimit lifts this process's open file limit to its hard limit (the daemon
// inherits it).
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < need {
		t.Fatalf("open file limit %d is below the %d this test needs (ulimit -n)", lim.Cur, need)
	}
}

// TestIdleClientsCostAtMost16KiBEach holds 2,000 logged-in idle clients on a
// motorpool process and measures how much its resident memory grew per client.
func TestIdleClientsCostAtMost16KiBEach(t *testing.T) {
	const clients = 2000
	raiseFileLimit(t, 2*clients+200)
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	cfg := filepath.Join(t.TempDir(), "motorpool.yaml")
	writeConfig(t, cfg, setup{ClientAuth: "trust", ServerUser: testenv.TrustUser, PoolSize: 2, MaxClients: clients + 100}, p, db)
	d := startDaemon(t, cfg)

	// Warm up: the pool, its baseline and the relay buffers exist before measuring.
	for range 20 {
		c := dialRaw(t, d.Addr, testenv.TrustUser, db, nil)
		c.round(t, query("SELECT 1"))
		c.conn.Close()
	}
	warm := dialRaw(t, d.Addr, testenv.TrustUser, db, nil)
	warm.round(t, query("SELECT 1"))
	before := vmRSS(t, d.pid())

	conns := make([]*rawClient, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < clients; i += 8 {
				c, err := tryDialRaw(d.Addr, testenv.TrustUser, db, nil)
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.conn.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	after := vmRSS(t, d.pid())
	per := float64(after-before) / clients
	t.Logf("motorpool RSS %.1f MiB before, %.1f MiB with %d idle clients: %.0f bytes (%.2f KiB) per idle client",
		float64(before)/(1<<20), float64(after)/(1<<20), clients, per, per/1024)
	if per > maxIdleClientBytes {
		t.Errorf("each idle client costs %.2f KiB of resident memory; the floor is %d KiB", per/1024, maxIdleClientBytes>>10)
	}
	// The clients are really logged in and served.
	for _, i := range []int{0, clients / 2, clients - 1} {
		if got := conns[i].round(t, query("SELECT 1")); lastStatus(got) != 'I' {
			t.Fatalf("client %d: %v", i, got)
		}
	}
}
