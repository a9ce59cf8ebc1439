package pg

import (
	"net"
	"syscall"
)

// waitReadable blocks until c has bytes to read (or is closed), without holding a
// buffer, so an idle client costs its goroutine and socket only. Connections that do
// not expose their descriptor (TLS) return at once; their read blocks instead.
//
// It costs what a blocking read does: one non-blocking peek that finds nothing (the
// poller is edge-triggered, so data that arrived before we wait must be seen here),
// a park, and, once woken, the caller's read.
func waitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	first := true
	return rc.Read(func(fd uintptr) bool {
		if !first {
			return true // woken by the poller: the read that follows finds out
		}
		first = false
		var b [1]byte
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // nothing yet: park until the poller says readable
			}
			return true // data, end of stream or an error the next read reports
		}
	})
}
