package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// waitGone waits for pid to exit; the deadline only bounds a broken run.
func waitGone(t *testing.T, pid int) {
	for deadline := time.Now().Add(time.Minute); processAlive(pid) && !isZombie(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	return strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z")
}

func TestStaleRunDirIsRemoved(t *testing.T) {
	stale, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", runDirPrefix, deadPid(t)))
	if err != nil {
		t.Fatal(err)
	}
	// A leftover "server" whose command line names the stale directory.
	leftover := exec.Command("sh", "-c", "sleep 600", filepath.Join(stale, "data"))
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	defer leftover.Process.Kill()
	live, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", runDirPrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(live)

	removeStaleRunDirs()

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale directory %s still exists (%v)", stale, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live directory %s was removed", live)
	}
	leftover.Wait()
	if leftover.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("leftover process ended with %v, want SIGKILL", leftover.ProcessState)
	}
}

// TestKilledBinaryLeavesNoServer kills (SIGKILL) a test binary that has started
// PostgreSQL and checks that the server dies with it and that the next run
// removes its directory.
func TestKilledBinaryLeavesNoServer(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") == "1" {
		helperStartPostgresAndHang()
		return
	}
	Require(t, "initdb", "postgres")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledBinaryLeavesNoServer$")
	cmd.Env = append(os.Environ(), "TESTENV_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var serverPid int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, _ := fmt.Sscanf(sc.Text(), "postgres %d %s", &serverPid, &dir); n == 2 {
			break
		}
	}
	if serverPid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper did not start postgres")
	}
	cmd.Process.Kill()
	cmd.Wait()

	waitGone(t, serverPid)
	removeStaleRunDirs()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("run directory %s survived (%v)", dir, err)
	}
}

func helperStartPostgresAndHang() {
	pg, err := StartPostgres(PGOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	root, _ := RunDir()
	fmt.Printf("postgres %d %s\n", pg.proc.Pid(), root)
	select {}
}
