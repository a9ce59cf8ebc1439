package testenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runDirPrefix starts the name of every test binary's directory in os.TempDir.
const runDirPrefix = "motorpool-testenv-"

// lockName is the file in a run directory that its owner keeps locked (flock)
// while it lives; the kernel releases the lock when the owner dies, which is how
// a later run tells a stale directory from a live one, even if the pid is reused.
const lockName = "owner.lock"

var runDir struct {
	once sync.Once
	path string
	lock *os.File // held open (and flocked) for the life of the binary
	err  error
}

// RunDir returns this binary's private directory under os.TempDir, creating it
// on first use after removing stale directories of dead test binaries. It is
// world-readable (mode 0755) so that servers running as other users can reach
// their subdirectories. Main removes it at the end of the run.
func RunDir() (string, error) {
	runDir.once.Do(func() {
		removeStaleRunDirs()
		runDir.path, runDir.lock, runDir.err = makeRunDir()
	})
	return runDir.path, runDir.err
}

func makeRunDir() (string, *os.File, error) {
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", runDirPrefix, os.Getpid()))
	if err != nil {
		return "", nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", nil, err
	}
	f, err := os.Create(filepath.Join(dir, lockName))
	if err != nil {
		return "", nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return "", nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return dir, f, nil
}

// removeRunDir deletes this binary's directory; servers must be stopped first.
func removeRunDir() {
	if runDir.path == "" {
		return
	}
	os.RemoveAll(runDir.path)
	runDir.lock.Close()
}

// removeStaleRunDirs kills the leftover servers of test binaries that died
// without cleaning up, and removes their directories (see isStale).
func removeStaleRunDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+"*"))
	for _, dir := range dirs {
		if isStale(dir) {
			killProcessesUsing(dir)
			os.RemoveAll(dir)
		}
	}
}

// isStale reports whether dir belongs to a dead test binary: the pid in its name
// is gone, or the pid was reused (the lock is free or missing) and the directory
// is over a minute old. A live binary creating its directory right now has a
// live pid and a young directory, so it is never mistaken for a dead one.
func isStale(dir string) bool {
	rest := strings.TrimPrefix(filepath.Base(dir), runDirPrefix)
	pid, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '-'), 0)])
	if err != nil {
		return false // not ours
	}
	if !processAlive(pid) {
		return true
	}
	st, err := os.Stat(dir)
	if err != nil || time.Since(st.ModTime()) < time.Minute {
		return false
	}
	f, err := os.Open(filepath.Join(dir, lockName))
	if err != nil {
		return true
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// processAlive reports whether a process with the given pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// killProcessesUsing sends SIGKILL to every process whose command line names a
// path inside dir: servers are always started with their data directory or
// configuration file on the command line.
func killProcessesUsing(dir string) {
	procs, _ := os.ReadDir("/proc")
	needle := []byte(dir + "/")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, needle) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TempDir returns a new directory that any user may read and write (mode 0777),
// for files shared with a server running as another user: configuration, auth
// files, sockets. It is removed by t.Cleanup.
func TempDir(t testing.TB) string {
	t.Helper()
	root, err := RunDir()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir, err := os.MkdirTemp(root, name+"-")
	if err == nil {
		err = os.Chmod(dir, 0o777)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// newServerDir creates a fresh directory for one server under the run directory,
// owned by runAs.
func newServerDir(kind, runAs string) (string, error) {
	root, err := RunDir()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(root, kind+"-")
	if err != nil {
		return "", err
	}
	return dir, mkdirFor(dir, runAs)
}
