package pg

import (
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// errClientGone ends the wait for a server connection of a client that hung up
// meanwhile. It is a disconnect (io.EOF), not an error worth a log line.
var errClientGone = fmt.Errorf("client hung up while waiting for a server connection: %w", io.EOF)

// leaveWatchAfter is how long a wait for a server connection lasts before the client's
// socket is watched: shorter waits are not worth a goroutine.
const leaveWatchAfter = 50 * time.Millisecond

// leaveWatch ends a client's wait for a server connection when the client hangs up
// meanwhile, as PgBouncer drops a waiting client that disconnects: its statement is
// never sent, and its place in line goes to the next client instead of to a dead one
// (a client that timed out and reconnected would otherwise wait twice). Only the
// client's goroutine calls start and stop. Clients on TLS are not watched (their
// socket cannot be peeked at through the encryption).
type leaveWatch struct {
	conn  net.Conn
	raw   syscall.RawConn
	wait  *waitCtx
	timer *time.Timer // runs watch; made on the first wait

	mu       sync.Mutex // protects the fields below
	active   bool       // a wait is under way
	watching bool       // watch is peeking at the socket; done closes when it stops
	done     chan struct{}
}

// start is called as a wait begins.
func (lw *leaveWatch) start() {
	if lw.raw == nil {
		return
	}
	lw.mu.Lock()
	lw.active = true
	lw.mu.Unlock()
	if lw.timer == nil {
		lw.timer = time.AfterFunc(leaveWatchAfter, lw.watch)
	} else {
		lw.timer.Reset(leaveWatchAfter)
	}
}

// stop is called when the wait ends; the client's socket is its goroutine's again.
func (lw *leaveWatch) stop() {
	if lw.raw == nil {
		return
	}
	lw.timer.Stop()
	lw.mu.Lock()
	lw.active = false
	watching, done := lw.watching, lw.done
	lw.watching = false
	lw.mu.Unlock()
	if watching {
		lw.conn.SetReadDeadline(aLongTimeAgo) // wakes the peek
		<-done
		lw.conn.SetReadDeadline(time.Time{})
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// watch peeks at the client's socket until the wait ends, and ends the wait if the
// client has hung up. Bytes the client sent are left for its goroutine to read; once
// some are there, a hang-up behind them cannot be seen and the watch stops.
func (lw *leaveWatch) watch() {
	lw.mu.Lock()
	if !lw.active || lw.watching {
		lw.mu.Unlock()
		return
	}
	lw.watching, lw.done = true, make(chan struct{})
	done := lw.done
	lw.mu.Unlock()
	defer close(done)
	gone := false
	lw.raw.Read(func(fd uintptr) bool {
		n, errno := peek(fd)
		switch errno {
		case syscall.EAGAIN:
			return false // nothing yet: park until readable (or the deadline stop sets)
		case 0:
			gone = n == 0 // end of stream; else bytes to read
		default:
			gone = true // reset
		}
		return true
	})
	if gone {
		lw.wait.cancel(errClientGone)
	}
}
