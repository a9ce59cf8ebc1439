package pg

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// rawConn reads and writes a TCP or Unix socket with raw system calls, through the
// poller of the net.Conn it wraps (its locks, deadlines and readiness waits).
//
// Go's own Read and Write tell the scheduler that a system call began and ended. On a
// non-blocking socket the call never blocks, but when it is slow (a write that wakes the
// reader on the other end can take tens of microseconds on a virtual machine) the
// runtime's monitor takes the processor away, starts another thread to run it, and parks
// the first thread when the call returns: two extra context switches, and a monitor
// that keeps waking every 20 µs. A raw call skips that bookkeeping; waits for readiness
// still park the goroutine in the poller.
type rawConn struct {
	net.Conn
	raw syscall.RawConn

	// Read and write state, one reader and one writer at a time: rmu and wmu make
	// Read and Write safe for concurrent use, as net.Conn's are (the poller's own locks
	// are taken only after the state is set). The callbacks are made once so that a
	// call allocates nothing.
	rmu     sync.Mutex
	wmu     sync.Mutex
	rb      []byte
	rn      int
	rerr    error
	readFn  func(fd uintptr) bool
	wb      []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
}

// fastConn returns c wrapped to use raw system calls when it is a TCP or Unix socket,
// and c itself otherwise.
func fastConn(c net.Conn) net.Conn {
	var sc syscall.Conn
	switch t := c.(type) {
	case *net.TCPConn:
		sc = t
	case *net.UnixConn:
		sc = t
	default:
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	rc := &rawConn{Conn: c, raw: raw}
	rc.readFn = rc.readOnce
	rc.writeFn = rc.writeSome
	return rc
}

// SyscallConn exposes the socket, as the wrapped connection does.
func (c *rawConn) SyscallConn() (syscall.RawConn, error) { return c.raw, nil }

// Read reads like net.Conn's Read: at least one byte, io.EOF at end of stream.
func (c *rawConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rb, c.rn, c.rerr = b, 0, nil
	err := c.raw.Read(c.readFn)
	n, rerr := c.rn, c.rerr
	c.rb = nil
	if err != nil {
		return n, err // closed, or the deadline passed
	}
	return n, rerr
}

func (c *rawConn) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rb[0])), uintptr(len(c.rb)))
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false // wait for the poller
		case e != 0:
			c.rerr = c.opError("read", os.NewSyscallError("read", e))
		case n == 0:
			c.rerr = io.EOF
		default:
			c.rn = int(n)
		}
		return true
	}
}

// Write writes all of b like net.Conn's Write, waiting for room when the socket's
// buffer is full.
func (c *rawConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wb, c.wn, c.werr = b, 0, nil
	err := c.raw.Write(c.writeFn)
	n, werr := c.wn, c.werr
	c.wb = nil
	if err != nil {
		return n, err
	}
	return n, werr
}

func (c *rawConn) writeSome(fd uintptr) bool {
	for c.wn < len(c.wb) {
		rest := c.wb[c.wn:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false // wait for room
		case e != 0:
			c.werr = c.opError("write", os.NewSyscallError("write", e))
			return true
		}
		c.wn += int(n)
	}
	return true
}

func (c *rawConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
