package testenv

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// server is a running server that Shutdown must stop.
type server interface{ Close() error }

var live struct {
	mu      sync.Mutex // protects servers
	servers map[server]struct{}
}

func track(s server) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if live.servers == nil {
		live.servers = make(map[server]struct{})
	}
	live.servers[s] = struct{}{}
}

func untrack(s server) {
	live.mu.Lock()
	defer live.mu.Unlock()
	delete(live.servers, s)
}

// Main runs the tests of a package that uses testenv, then stops every server
// the package started and removes their directories, and exits with the tests'
// status. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without it the servers still die with the test binary (parent death signal),
// but their directories stay until the next run that uses testenv.
func Main(m *testing.M) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		Shutdown()
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}()
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops every server this package started that is still running and
// removes this binary's run directory. Programs (not tests) call it before they
// exit; tests get it from Main. Servers must not be used afterwards.
func Shutdown() {
	live.mu.Lock()
	servers := make([]server, 0, len(live.servers))
	for s := range live.servers {
		servers = append(servers, s)
	}
	live.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); s.Close() }()
	}
	wg.Wait()
	removeRunDir()
}
