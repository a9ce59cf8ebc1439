package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/motorpool/motorpool/internal/proxy"
)

// relay is one client connection after login: it reads the client's messages and
// writes them to the bound server connection. Only the client's goroutine runs its
// methods, except write and those documented otherwise.
type relay struct {
	a    *Adapter
	conn net.Conn
	rd   reader
	sess *proxy.Session

	// server is the bound server connection, nil when none. The client goroutine binds;
	// the server's pump unbinds when it releases the connection.
	server atomic.Pointer[ServerConn]

	// gone is set, under the bound server's mu, when the client has left or is being
	// ended; the pump then discards what the server sends. settings is the session
	// state the client expects; while bound it changes only under the server's mu.
	gone bool
	// serverFatal is set, under the bound server's mu, once a FATAL error from the
	// server was relayed to the client: the server is ending the connection, and the
	// client, told so in the server's words, is ended without a second error.
	serverFatal bool
	settings    settings
	startup     settings // the settings of the client's startup packet

	wmu  sync.Mutex // serializes writes to the client
	werr error      // first write error; later writes are dropped

	out        []byte // messages for the server, batched until the client stops sending
	replies    []byte // answers motorpool gives an unbound client itself, batched likewise
	skipToSync bool   // after an error answered while unbound, discard until Sync

	// Prepared statements, when mapStmts (see prepared.go): the client's named
	// statements, its last unnamed Parse, and whether the bound server connection
	// has that unnamed statement. While bound they change only under the server's mu.
	mapStmts    bool
	stmts       map[string]*clientStmt
	unnamed     []byte
	unnamedHere bool

	// Session state changed through the extended protocol, when mapStmts (see
	// effects.go): what the unnamed statement, the unnamed portal and named portals do
	// when executed, and the effect of the batch's executions, for its Sync.
	unnamedEffect *stmtNote
	portalEffect  *stmtNote
	portalEffects map[string]*stmtNote
	batchEffect   *stmtNote
	// batchFailed is set by the pump when the server failed an extended-protocol
	// batch whose Sync the client has yet to send: what the client sends until then is
	// skipped. Under the bound server's mu.
	batchFailed bool

	// probe, when set, makes the next bind run it (login; see Adapter.start).
	probe *stmtNote
	// sessionPID is the server process ID a session-mode client was given; key is the
	// BackendKeyData it was given.
	sessionPID uint32
	key        cancelKey
	// wait, once logged in, is the context of waits for a server connection, which
	// the client's cancel request ends.
	wait atomic.Pointer[waitCtx]

	bytesIn     int  // relayed to servers, not yet reported
	warnedDirty bool // told once that its session state does not survive pooling
	idle        *idleWait
	leave       leaveWatch // ends a wait for a server connection if the client hangs up

	closeOnce sync.Once
}

var errTerminate = errors.New("client sent Terminate")

// Write implements io.Writer for the pump: bytes for the client.
func (r *relay) Write(b []byte) (int, error) {
	r.write(b)
	return len(b), nil
}

// write sends b to the client. Errors are remembered and end the client's session
// through its reading goroutine; a dead client's output is dropped. Safe for concurrent
// use.
func (r *relay) write(b []byte) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.werr != nil {
		return
	}
	if _, err := r.conn.Write(b); err != nil {
		r.werr = err
		r.conn.Close()
	}
}

// abort tells the client about a fatal condition and closes its connection. Safe for
// concurrent use.
func (r *relay) abort(e *Error, cause error) {
	e.Err = cause
	r.write(appendError(nil, e))
	r.close()
}

func (r *relay) close() { r.closeOnce.Do(func() { r.conn.Close() }) }

// run relays the client's messages until it leaves.
func (r *relay) run(ctx context.Context) error {
	defer r.rd.release()
	r.idle = newIdleWait(r.conn)
	for {
		if r.rd.empty() {
			r.rd.release()
			if r.bytesIn > 0 {
				r.sess.ObserveTraffic(r.bytesIn, 0)
				r.bytesIn = 0
			}
			if err := r.idle.wait(); err != nil {
				return err
			}
		}
		if err := r.rd.fill(); err != nil {
			return err
		}
		if err := r.process(ctx); err != nil {
			return err
		}
	}
}

// serve relays the client's messages until it leaves, then settles its server
// connection. A panic (a bug) ends the client with an internal error and closes the
// server connection it holds, whose state is unknown then: its pool replaces it, and
// no other client is affected.
func (r *relay) serve(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			pe := proxy.Recovered(v)
			r.abort(Fatalf(CodeInternalError, "internal error in motorpool"), pe)
			if sc := r.server.Load(); sc != nil {
				sc.failFor(r, pe)
			}
			err = pe
		}
	}()
	err = r.run(ctx)
	r.finish()
	return err
}

// process handles the complete messages buffered, then sends the batch to the server.
func (r *relay) process(ctx context.Context) error {
	var sc *ServerConn // where r.out goes
	flush := func() {
		r.flushReplies()
		if len(r.out) > 0 {
			r.bytesIn += len(r.out)
			sc.send(r.out)
			r.out = r.out[:0]
		}
	}
	defer flush()
	for {
		h, ok, err := r.rd.peekHeader()
		if err == nil && ok && h.size > headerLen+maxSmallMessage && !longMessage(h.typ) {
			err = errMessageTooLong
		}
		if err != nil {
			return r.violation("invalid message length")
		}
		if !ok {
			return nil
		}
		if r.rd.w-r.rd.r < h.size {
			if h.size <= len(r.rd.buf) {
				return nil // wait for the rest
			}
			flush()
			if err := r.streamLarge(ctx, h); err != nil {
				return err
			}
			sc = nil
			continue // messages after it may be buffered already: the client may wait for them
		}
		msg := r.rd.buf[r.rd.r : r.rd.r+h.size]
		next, err := r.handle(ctx, sc, msg)
		r.rd.skip(h.size)
		if err != nil {
			return err
		}
		sc = next // handle has sent what was batched for another connection
	}
}

// handle routes one client message. It returns the server connection the message (and
// the batch it belongs to) goes to, or nil if it was consumed here.
func (r *relay) handle(ctx context.Context, cur *ServerConn, msg []byte) (*ServerConn, error) {
	typ := msg[0]
	if typ == msgTerminate {
		return nil, errTerminate
	}
	e, needsServer, err := expectFor(msg) // even while skipping to Sync, as PostgreSQL does
	if err != nil {
		return nil, r.violation(err.Error())
	}
	if r.skipToSync {
		if typ == msgSync {
			r.skipToSync = false
			r.batchEffect, r.batchFailed = nil, false // the batch failed: nothing of it took effect
			r.reply(readyIdle)
		}
		return cur, nil
	}
	if r.server.Load() == nil {
		// Nothing is bound, so nothing is owed: what needs no server is answered here.
		switch {
		case typ == msgFlush:
			r.flushReplies()
			return cur, nil
		case typ == msgSync:
			r.batchEffect, r.batchFailed = nil, false
			r.reply(readyIdle)
			return cur, nil
		case !needsServer:
			return cur, nil // stray copy data, ignored as PostgreSQL does
		case r.mapStmts && r.answerLocally(msg):
			return cur, nil
		}
	}
	r.flushReplies() // answers given so far precede what a server will send
	sc, err := r.lock(ctx)
	if err != nil {
		return cur, r.refuse(typ, err)
	}
	g := locked(&sc.mu)
	defer g.unlock()
	if testHookClient != nil {
		testHookClient(msg)
	}
	if cur != nil && cur != sc {
		// The batch so far was for a connection released meanwhile: impossible while
		// it owes responses, so the batch holds only messages without any.
		g.unlock()
		cur.send(r.out)
		r.out = r.out[:0]
		g.lock()
	}
	if r.batchFailed && typ != msgSync {
		// The server failed this batch before its Sync and skips every message up to
		// it, answering none: motorpool does the same (none is prepared, closed or
		// answered here either).
		g.unlock()
		return sc, nil
	}
	if !sc.settings.equal(&r.settings) {
		// The client changed settings while bound (RESET ALL): apply them again.
		sc.q.push(expectation{kind: expectQuery, drop: true})
		r.out = appendQuery(r.out, syncStatements(sc.settings, &r.settings))
		sc.settings.copyFrom(&r.settings)
	}
	if r.mapStmts {
		done, err := r.mapped(sc, msg)
		if done || err != nil {
			g.unlock()
			return sc, err
		}
		if typ == msgExecute {
			r.executed(msg)
		}
	} else if typ == msgParse && r.sess.Mode() != proxy.ModeSession {
		// Session mode resets the connection when the client leaves anyway.
		r.noteParse(sc, parseQuery(msg)) // a malformed Parse notes nothing
	}
	if e.kind != 0 {
		switch typ {
		case msgQuery:
			e.note = inspectQuery(msg[headerLen:])
			if r.mapStmts && e.note == nil {
				if q, n := r.deallocate(sc, msg); q != nil {
					msg, e.note = q, n
				}
			}
			r.dropUnnamed()
		case msgSync:
			if r.batchFailed {
				r.batchEffect.fail()
			}
			e.note, r.batchEffect, r.batchFailed = r.batchEffect, nil, false
		}
		if e.kind.endsAtReady() {
			e.sent = nanotime()
		}
		sc.q.push(e)
	}
	g.unlock()
	r.out = append(r.out, msg...)
	return sc, nil
}

// expectFor returns the expectation a client message creates, and whether the message
// needs a server connection.
func expectFor(msg []byte) (e expectation, needsServer bool, err error) {
	switch msg[0] {
	case msgQuery, msgFunctionCall:
		return expectation{kind: expectQuery}, true, nil
	case msgParse:
		return expectation{kind: expectParse}, true, nil
	case msgBind:
		return expectation{kind: expectBind}, true, nil
	case msgExecute:
		return expectation{kind: expectExecute}, true, nil
	case msgClose:
		return expectation{kind: expectClose}, true, nil
	case msgSync:
		return expectation{kind: expectSync}, true, nil
	case msgDescribe:
		if len(msg) > headerLen && msg[headerLen] == 'S' {
			return expectation{kind: expectDescribeStmt}, true, nil
		}
		return expectation{kind: expectDescribePortal}, true, nil
	case msgFlush, msgCopyData, msgCopyDone, msgCopyFail:
		return expectation{}, false, nil
	}
	return expectation{}, false, fmt.Errorf("invalid frontend message type %d", msg[0])
}

// streamLarge forwards a message too large for the buffer (COPY data, a huge query or
// bind) without holding it whole. Messages that name a prepared statement are read
// whole (up to maxInspectLen) when statements are mapped, except Bind, whose name is
// rewritten in its prefix while its parameters stream.
func (r *relay) streamLarge(ctx context.Context, h header) error {
	prefix := r.rd.buf[r.rd.r:r.rd.w]
	e, needsServer, err := expectFor(prefix)
	if err != nil {
		return r.violation(err.Error())
	}
	if r.skipToSync {
		return r.rd.stream(nil, h.size)
	}
	if r.mapStmts {
		switch h.typ {
		case msgBind:
			return r.streamBind(ctx, h)
		case msgParse, msgDescribe, msgClose:
			msg, err := r.rd.whole(h, maxInspectLen)
			if errors.Is(err, errMessageTooLong) {
				return r.violation("message too long")
			}
			if err != nil {
				return err
			}
			sc, err := r.handle(ctx, nil, msg)
			if err == nil && len(r.out) > 0 {
				r.bytesIn += len(r.out)
				sc.send(r.out)
				r.out = r.out[:0]
			}
			r.flushReplies()
			return err
		}
	}
	if !needsServer && r.server.Load() == nil {
		return r.rd.stream(nil, h.size)
	}
	sc, err := r.lock(ctx)
	if err != nil {
		if err := r.rd.stream(nil, h.size); err != nil {
			return err
		}
		return r.refuse(h.typ, err)
	}
	g := locked(&sc.mu)
	defer g.unlock()
	if r.batchFailed { // skipped, as in handle (a Sync is never this large)
		g.unlock()
		return r.rd.stream(nil, h.size)
	}
	if e.kind != 0 {
		sc.q.push(e)
	}
	g.unlock()
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if len(r.out) > 0 {
		sc.writeLocked(r.out)
		r.out = r.out[:0]
	}
	return r.streamTo(sc, h.size)
}

// streamTo relays the next n bytes of a message from the client to sc, whose wmu the
// caller holds. A client that stops in the middle leaves the server waiting for the
// rest of a message that never comes, deaf to cancels: the connection is out of step
// for good and is closed (its pump then destroys it).
func (r *relay) streamTo(sc *ServerConn, n int) error {
	if err := r.rd.stream(serverWriter{sc}, n); err != nil {
		sc.fail(fmt.Errorf("client stopped in the middle of a message: %w", err))
		return err
	}
	return nil
}

// lock returns the bound server connection with its mu held, binding one first if the
// client has none.
func (r *relay) lock(ctx context.Context) (*ServerConn, error) {
	for {
		sc := r.server.Load()
		if sc == nil {
			var err error
			if sc, err = r.bind(ctx); err != nil {
				return nil, err
			}
		}
		sc.mu.Lock()
		if sc.client == r {
			if r.sess.Mode() == proxy.ModeSession {
				r.sess.SetBetweenTransactions(false) // a request is on its way
			}
			return sc, nil
		}
		sc.mu.Unlock() // released by its pump meanwhile
	}
}

// bind acquires a server connection from the client's pool and brings its session
// state in line with the client's.
func (r *relay) bind(ctx context.Context) (*ServerConn, error) {
	if w := r.wait.Load(); w != nil {
		ctx = w.arm()
		if r.leave.wait == nil {
			r.leave = leaveWatch{conn: r.conn, raw: r.idle.raw, wait: w}
		}
		r.leave.start()
		defer r.leave.stop()
	}
	lease, err := r.sess.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	sc := lease.Backend().(*ServerConn)
	sc.mu.Lock()
	sc.client, sc.lease = r, lease
	r.unnamedHere = false
	var pre []byte
	if sc.dirty {
		pre = r.appendReset(sc, pre) // never dirty without a reset query: see release
	}
	q := syncStatements(sc.settings, &r.settings)
	if r.probe != nil {
		q = probeQuery(q, r.probe.keys)
	}
	if q != "" {
		sc.q.push(expectation{kind: expectQuery, drop: true, note: r.probe})
		pre = appendQuery(pre, q)
		sc.settings.copyFrom(&r.settings)
		r.probe = nil
	}
	sc.mu.Unlock()
	r.server.Store(sc)
	if len(pre) > 0 {
		sc.send(pre)
	}
	return sc, nil
}

// reply queues an answer motorpool gives an unbound client itself.
func (r *relay) reply(b []byte) { r.replies = append(r.replies, b...) }

// flushReplies sends the queued answers.
func (r *relay) flushReplies() {
	if len(r.replies) > 0 {
		r.write(r.replies)
		r.replies = r.replies[:0]
	}
}

// refuse reports an error for a message that could not get a server connection, the
// way PostgreSQL reports a failed statement: an ErrorResponse, then ReadyForQuery at
// once for a simple query, or at the next Sync for the extended protocol.
func (r *relay) refuse(typ byte, err error) error {
	if errors.Is(err, errClientGone) {
		return errClientGone
	}
	perr := r.a.acquireError(err)
	if perr.Fatal() {
		r.abort(perr, err)
		return err
	}
	r.reply(appendError(nil, perr))
	switch typ {
	case msgQuery, msgFunctionCall, msgSync:
		r.reply(readyIdle)
	default:
		r.skipToSync = true
	}
	return nil
}

// violation ends a client that broke the protocol.
func (r *relay) violation(what string) error {
	r.flushReplies() // answers to earlier messages come first
	err := Fatalf(CodeProtocolViolation, "%s", what)
	r.abort(err, nil)
	return err
}

// finish settles the bound server connection when the client leaves: a clean one goes
// back to its pool (reset first in session mode), one left inside a transaction is
// rolled back, one still busy is cancelled and drained by its pump.
func (r *relay) finish() {
	sc := r.server.Load()
	if sc == nil {
		return
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	sc.mu.Lock()
	g := locked(&sc.mu)
	defer g.unlock()
	if sc.client != r {
		g.unlock()
		return
	}
	r.gone = true
	busy := sc.q.len() > 0
	var out []byte
	if busy {
		out = append(out, copyFailMsg...) // ends a COPY from the client; ignored outside COPY
	}
	if sc.q.unsynced() {
		// An extended-protocol batch without its Sync: the server answers no more and
		// may hold the implicit transaction of its statements open. End it with an
		// error, which rolls that transaction back, as the server does when its client
		// disconnects.
		sc.q.push(expectation{kind: expectParse, drop: true})
		sc.q.push(expectation{kind: expectSync, drop: true})
		out = append(append(out, invalidParse...), syncMsg...)
	}
	switch {
	case busy:
		// Still busy: cancel the work and let the pump drain it; whatever state the
		// session is left in is reset by the next client.
		sc.dirty = true
		g.unlock()
		sc.writeLocked(out)
		r.a.cancelServer(sc, r)
		return
	case sc.tx != txIdle:
		sc.q.push(expectation{kind: expectQuery, drop: true})
		out = append(out, rollbackMsg...)
	}
	if r.sess.Mode() == proxy.ModeSession || sc.dirty {
		out = r.appendReset(sc, out)
	}
	if len(out) == 0 {
		lease := sc.unbindLocked()
		g.unlock()
		sc.release(r.sess, lease)
		return
	}
	g.unlock()
	sc.writeLocked(out)
}

// appendQuery appends a simple Query message.
func appendQuery(dst []byte, q string) []byte {
	dst = appendHeader(dst, msgQuery, len(q)+1)
	return append(append(dst, q...), 0)
}

// readyIdle is ReadyForQuery('I').
var readyIdle = []byte{msgReadyForQuery, 0, 0, 0, 5, txIdle}

// syncMsg, copyFailMsg and rollbackMsg are what motorpool sends for a client that
// left.
var (
	syncMsg     = []byte{msgSync, 0, 0, 0, 4}
	rollbackMsg = appendQuery(nil, "ROLLBACK")
	copyFailMsg = appendMsg(nil, msgCopyFail, []byte("client disconnected\x00"))
)

// serverWriter writes to a server connection whose wmu the caller holds.
type serverWriter struct{ sc *ServerConn }

func (w serverWriter) Write(b []byte) (int, error) {
	w.sc.writeLocked(b)
	return len(b), nil
}

var _ io.Writer = serverWriter{}

// send writes b to the server.
func (sc *ServerConn) send(b []byte) {
	sc.wmu.Lock()
	sc.writeLocked(b)
	sc.wmu.Unlock()
}

// writeLocked writes b to the server; the caller holds sc.wmu. A failure breaks the
// connection, and its pump then tells the bound client.
func (sc *ServerConn) writeLocked(b []byte) {
	if sc.broken.Load() {
		return
	}
	if _, err := sc.conn.Write(b); err != nil {
		sc.fail(err)
	}
}

// unbindLocked detaches the bound client and returns the lease. Called with sc.mu held.
func (sc *ServerConn) unbindLocked() proxy.Lease {
	c := sc.client
	lease := sc.lease
	sc.client, sc.lease = nil, proxy.Lease{}
	sc.leaverRollback = false
	c.server.CompareAndSwap(sc, nil)
	return lease
}

// appendReset appends to out the statements that reset sc for its next client, with
// their expectations, and forgets the session state they clear. Called with sc.mu held.
//
// The pool's reset_query runs first. Unless it is DISCARD ALL, RESET ALL and
// DEALLOCATE ALL follow it, so that motorpool's record of the connection's settings
// and prepared statements stays true whatever the query does. An empty reset_query
// resets nothing: a connection left dirty is then closed when released.
func (r *relay) appendReset(sc *ServerConn, out []byte) []byte {
	q := r.sess.Pool().ResetQuery
	if q == "" {
		return out
	}
	qs := []string{q}
	if !isDiscardAll(q) {
		qs = append(qs, "RESET ALL", "DEALLOCATE ALL")
	}
	for _, q := range qs {
		sc.q.push(expectation{kind: expectQuery, drop: true})
		out = appendQuery(out, q)
	}
	sc.settings.clear()
	sc.prepared.clear()
	sc.dirty = false
	return out
}

// isDiscardAll reports whether q is DISCARD ALL, in any case, with blanks or a
// semicolon around it.
func isDiscardAll(q string) bool {
	f := strings.Fields(strings.ToUpper(strings.TrimRight(strings.TrimSpace(q), "; \t\n")))
	return len(f) == 2 && f[0] == "DISCARD" && f[1] == "ALL"
}

// release returns the connection to its pool, or, while a cancel request for it is in
// flight, leaves that to the cancel. A dirty connection is reset by the next client to
// bind it (see bind), or, when its pool has no reset_query, closed instead: its state
// must not reach another client.
func (sc *ServerConn) release(s *proxy.Session, lease proxy.Lease) {
	sc.mu.Lock()
	if sc.dirty && s.Pool().ResetQuery == "" {
		sc.mu.Unlock()
		s.Discard(lease, errors.New("session state left behind and no reset_query to clear it"))
		return
	}
	if sc.cancels > 0 {
		sc.releaseAfterCancel, sc.pendingLease, sc.pendingSess = true, s.Detach(lease), s
		sc.mu.Unlock()
		return
	}
	sc.mu.Unlock()
	s.Release(lease)
}

// settleFromPump is called by the pump after it relayed a ReadyForQuery that left
// nothing owed: it applies the client's pool mode.
func (sc *ServerConn) settleFromPump() {
	sc.mu.Lock()
	g := locked(&sc.mu)
	defer g.unlock()
	c := sc.client
	if c == nil || sc.q.len() > 0 {
		g.unlock()
		return
	}
	if c.gone {
		if sc.tx != txIdle && !sc.leaverRollback {
			g.unlock()
			sc.rollBackLeaver(c)
			return
		}
		lease := sc.unbindLocked()
		clean := sc.tx == txIdle
		g.unlock()
		if clean {
			sc.release(c.sess, lease)
		} else {
			c.sess.Destroy(lease, errors.New("client left inside a transaction"))
		}
		return
	}
	switch c.sess.Mode().Decide(txState(sc.tx)) {
	case proxy.Release:
		lease := sc.unbindLocked()
		g.unlock()
		sc.release(c.sess, lease)
		if c.sess.Draining() {
			c.abort(Fatalf(CodeAdminShutdown, "terminating connection because motorpool is shutting down"), nil)
		}
	case proxy.Violation:
		g.unlock()
		c.abort(Fatalf(CodeFeatureNotSupported, "transaction blocks are not allowed in statement pooling mode"), nil)
	default:
		between := c.sess.Mode() == proxy.ModeSession && sc.tx == txIdle
		g.unlock()
		if between {
			c.sess.SetBetweenTransactions(true)
			if c.sess.Draining() {
				c.abort(Fatalf(CodeAdminShutdown, "terminating connection because motorpool is shutting down"), nil)
			}
		}
	}
}

// rollBackLeaver ends the transaction of c, a client that left while one of its
// statements ran (finish cancelled it; the pump has drained it), as finish does for a
// client that leaves between statements: the connection is settled again at the
// ROLLBACK's ReadyForQuery and goes back to its pool instead of being closed. If the
// ROLLBACK does not leave it idle, the connection is closed then.
func (sc *ServerConn) rollBackLeaver(c *relay) {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	sc.mu.Lock()
	if sc.client != c || sc.q.len() > 0 || sc.leaverRollback {
		sc.mu.Unlock() // lost meanwhile
		return
	}
	sc.leaverRollback = true
	sc.q.push(expectation{kind: expectQuery, drop: true})
	sc.mu.Unlock()
	sc.writeLocked(rollbackMsg)
}

func txState(b byte) proxy.TxState {
	switch b {
	case txInBlock:
		return proxy.TxActive
	case txFailed:
		return proxy.TxFailed
	}
	return proxy.TxIdle
}
