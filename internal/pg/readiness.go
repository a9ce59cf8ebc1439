package pg

import (
	"net"
	"syscall"
	"unsafe"
)

// idleWait blocks until a connection has bytes to read (or is closed), without
// holding a buffer, so an idle client costs its goroutine and socket only. It is made
// once per connection and allocates nothing per wait.
//
// A wait costs what a blocking read does: one non-blocking peek that finds nothing
// (the poller is edge-triggered, so data that arrived before we wait must be seen
// here), a park, and, once woken, the caller's read. The peek is a raw system call,
// for the reason rawConn gives.
type idleWait struct {
	raw   syscall.RawConn // nil: the connection does not expose its descriptor (TLS)
	first bool
	check func(fd uintptr) bool
}

func newIdleWait(c net.Conn) *idleWait {
	w := &idleWait{}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	w.check = w.readable
	return w
}

// wait blocks until the connection is readable. Without a descriptor it returns at
// once, and the caller's read blocks instead.
func (w *idleWait) wait() error {
	if w.raw == nil {
		return nil
	}
	w.first = true
	return w.raw.Read(w.check)
}

func (w *idleWait) readable(fd uintptr) bool {
	if !w.first {
		return true // woken by the poller: the read that follows finds out
	}
	w.first = false
	// Nothing yet (EAGAIN): park until the poller says readable. Otherwise data, end
	// of stream or an error the next read reports.
	_, err := peek(fd)
	return err != syscall.EAGAIN
}

// peek looks at whether a non-blocking socket has a byte to read without taking it:
// 1 when it has, 0 at end of stream, EAGAIN when nothing has come yet, or another
// error. It is a raw system call, for the reason rawConn gives.
func peek(fd uintptr) (int, syscall.Errno) {
	var b [1]byte
	for {
		n, _, err := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		if err != syscall.EINTR {
			return int(n), err
		}
	}
}
