package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Process is a server process started by Spawn. Its methods are safe for
// concurrent use.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and err is set
	err  error         // the result of cmd.Wait; read only after done is closed
}

// Spawn starts cmd as the system user runAs and returns once it is running.
//
// When the caller is root and runAs is not empty, the process gets runAs's uid,
// gid and groups; otherwise it runs as the caller (runAs is then ignored: an
// unprivileged user cannot switch). The process is put in its own process group,
// so a terminal's ^C reaches only the test binary, and gets SIGKILL when the
// test binary dies, however it dies (Linux parent death signal).
func Spawn(cmd *exec.Cmd, runAs string) (*Process, error) {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if runAs != "" && os.Geteuid() == 0 {
		u, err := lookupUser(runAs)
		if err != nil {
			return nil, err
		}
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
	}
	cmd.SysProcAttr = attr
	var err error
	onSpawnThread(func() { err = cmd.Start() })
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the operating system's id of the process.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process exited, or nil while it is running.
func (p *Process) Err() error {
	select {
	case <-p.done:
		if p.err == nil {
			return errors.New("exit status 0")
		}
		return p.err
	default:
		return nil
	}
}

// Signal sends sig to the process. Signalling an exited process is not an error.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Stop sends sig and waits up to grace for the process to exit; then it sends
// SIGKILL to the whole process group and waits for the exit. It returns an error
// only when the process had to be killed.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) error {
	if err := p.Signal(sig); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("pid %d did not exit within %v of %v; killed", p.Pid(), grace, sig)
}

// spawn is the goroutine, locked to its OS thread for the life of the binary,
// that forks every server. The parent death signal fires when the forking
// *thread* exits, and the Go runtime may end an ordinary thread (when a goroutine
// exits while locked to it), which would kill a healthy server mid-test.
var spawn struct {
	once sync.Once
	reqs chan func()
}

func onSpawnThread(f func()) {
	spawn.once.Do(func() {
		spawn.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the binary
			for f := range spawn.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawn.reqs <- func() { defer close(done); f() }
	<-done
}
