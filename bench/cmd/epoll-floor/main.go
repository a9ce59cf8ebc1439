// Command epoll-floor is a measuring stick, not a proxy: it relays each client
// connection to a backend connection of its own, byte for byte, from one locked OS
// thread running a level-triggered epoll loop, as PgBouncer's libevent loop does.
// It parses nothing and pools nothing. bench/README.md compares its CPU per
// transaction with PgBouncer's and motorpool's under `pgbench -S` to tell what
// the Go runtime costs from what the relay's shape costs.
//
// With -raw (the default) every system call is made with RawSyscall, so the Go
// scheduler never learns of them; without it, with Syscall, as os and net do.
// Writes spin on EAGAIN, which is fine for pgbench's small messages and nothing
// else. Linux only.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:6440", "address to accept clients on")
	backend := flag.String("backend", "127.0.0.1:5432", "address each client is relayed to")
	raw := flag.Bool("raw", true, "make system calls with RawSyscall (false: Syscall)")
	flag.Parse()
	l, err1 := netip.ParseAddrPort(*listen)
	b, err2 := netip.ParseAddrPort(*backend)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(os.Stderr, "epoll-floor:", err)
		os.Exit(2)
	}
	if err := run(l, b, sys(*raw)); err != nil {
		fmt.Fprintln(os.Stderr, "epoll-floor:", err)
		os.Exit(1)
	}
}

// sys makes a system call the way the -raw flag says.
type sys bool

func (raw sys) call(trap, a1, a2, a3 uintptr) (int, unix.Errno) {
	if raw {
		r, _, e := unix.RawSyscall(trap, a1, a2, a3)
		return int(r), e
	}
	r, _, e := unix.Syscall(trap, a1, a2, a3)
	return int(r), e
}

func (raw sys) wait(epfd int, ev []unix.EpollEvent) (int, unix.Errno) {
	p := uintptr(unsafe.Pointer(&ev[0]))
	if raw {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), p, uintptr(len(ev)), ^uintptr(0), 0, 0)
		return int(r), e
	}
	r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), p, uintptr(len(ev)), ^uintptr(0), 0, 0)
	return int(r), e
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
}

func run(listen, backend netip.AddrPort, raw sys) error {
	if !listen.Addr().Is4() || !backend.Addr().Is4() {
		return errors.New("IPv4 addresses only")
	}
	runtime.LockOSThread()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(ln, sockaddr(listen)); err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	if err := unix.Listen(ln, 1024); err != nil {
		return err
	}
	epfd, err := unix.EpollCreate1(0)
	if err != nil {
		return err
	}
	watch := func(fd int) error {
		return unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
	}
	if err := watch(ln); err != nil {
		return err
	}
	var peer fds // each relayed socket's other end
	hangUp := func(fd int) {
		p := peer.get(fd)
		peer.set(fd, -1)
		peer.set(p, -1)
		unix.Close(fd)
		unix.Close(p)
	}
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for {
		n, e := raw.wait(epfd, events)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("epoll_pwait: %w", e)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == ln {
				c, s, err := accept(ln, backend)
				if err != nil {
					fmt.Fprintln(os.Stderr, "epoll-floor:", err)
					continue
				}
				peer.set(c, s)
				peer.set(s, c)
				if err := errors.Join(watch(c), watch(s)); err != nil {
					return err
				}
				continue
			}
			to := peer.get(fd)
			if to < 0 {
				continue // its peer hung up earlier in this batch
			}
			r, e := raw.call(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
			if e == unix.EAGAIN || e == unix.EINTR {
				continue
			}
			if e != 0 || r == 0 || !raw.writeAll(to, buf[:r]) {
				hangUp(fd)
			}
		}
	}
}

// fds maps a descriptor to another, -1 for none: a slice, not a map, so that the
// loop costs what a C program's would.
type fds []int

func (m fds) get(fd int) int {
	if fd < len(m) {
		return m[fd]
	}
	return -1
}

func (m *fds) set(fd, to int) {
	for fd >= len(*m) {
		*m = append(*m, -1)
	}
	(*m)[fd] = to
}

// accept takes one client and opens its backend connection (blocking: a floor
// measures the steady state, not connection set-up).
func accept(ln int, backend netip.AddrPort) (client, server int, err error) {
	client, _, err = unix.Accept4(ln, unix.SOCK_NONBLOCK)
	if err != nil {
		return -1, -1, err
	}
	server, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err == nil {
		err = unix.Connect(server, sockaddr(backend))
	}
	if err == nil {
		err = unix.SetNonblock(server, true)
	}
	if err != nil {
		unix.Close(client)
		if server >= 0 {
			unix.Close(server)
		}
		return -1, -1, fmt.Errorf("backend %s: %w", backend, err)
	}
	_ = unix.SetsockoptInt(client, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(server, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return client, server, nil
}

func (raw sys) writeAll(fd int, b []byte) bool {
	for len(b) > 0 {
		n, e := raw.call(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			b = b[n:]
		case unix.EAGAIN, unix.EINTR:
		default:
			return false
		}
	}
	return true
}
