package pg

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/motorpool/motorpool/internal/proxy"
	"io"
	"time"
)

// pumpState is the pump's private state.
type pumpState struct {
	sc *ServerConn
	rd reader
	// out collects the bytes to send to the client when some messages of a chunk are
	// dropped or synthesized; otherwise the chunk is written straight from rd.buf.
	out []byte
	// obs holds what the current chunk answered, reported once sc.mu is released.
	obs answered
}

// answered is what a server said was done for its client: the durations of requests
// answered (simple queries, extended-protocol batches up to Sync) and of transactions
// ended, from their first request to the ReadyForQuery that ended them.
type answered struct {
	queries, transactions []time.Duration
}

// pump reads everything the server sends, for the connection's whole life, and relays
// it to the bound client. It exits when the connection fails or is closed. A panic (a
// bug) loses the connection, as a failure does, instead of the whole process.
func (sc *ServerConn) pump() {
	defer close(sc.done)
	defer func() {
		if v := recover(); v != nil {
			sc.lost(proxy.Recovered(v))
		}
	}()
	p := &pumpState{sc: sc, rd: reader{conn: sc.conn, buf: make([]byte, serverBufSize)}}
	for {
		err := p.rd.fill()
		if err == nil {
			err = p.relay()
		}
		if err != nil {
			sc.lost(err)
			return
		}
	}
}

// relay handles every complete message buffered, and streams a message too large for
// the buffer.
func (p *pumpState) relay() error {
	for {
		h, ok, err := p.rd.peekHeader()
		if err != nil {
			return fmt.Errorf("server sent a malformed message: %w", err)
		}
		if !ok {
			return nil
		}
		if p.rd.w-p.rd.r < h.size {
			if h.size <= len(p.rd.buf) {
				return nil // the rest is on its way
			}
			if err := p.streamLarge(h); err != nil {
				return err
			}
			continue // what followed it may already be buffered
		}
		if err := p.chunk(); err != nil {
			return err
		}
	}
}

// chunk relays the complete messages at the front of the buffer to the client bound
// now, up to the first point where the connection may change hands, then settles it.
func (p *pumpState) chunk() error {
	sc := p.sc
	start := p.rd.r
	p.out = p.out[:0]
	copying := false // whether output goes through p.out
	sc.mu.Lock()
	g := locked(&sc.mu)
	defer g.unlock()
	c := sc.client
	settle := false
	for !settle {
		h, ok, err := p.rd.peekHeader()
		if err != nil || !ok || p.rd.w-p.rd.r < h.size {
			break
		}
		msg := p.rd.buf[p.rd.r : p.rd.r+h.size]
		if testHookServer != nil {
			testHookServer(msg)
		}
		synth, forward, s, err := sc.route(c, msg, &p.obs)
		if err != nil {
			return err
		}
		settle = s
		if forward && msg[0] == msgErrorResponse && serverErrorFatal(msg) {
			c.serverFatal = true
		}
		if (len(synth) > 0 || !forward) && !copying {
			p.out = append(p.out, p.rd.buf[start:p.rd.r]...)
			copying = true
		}
		if copying {
			p.out = append(p.out, synth...)
			if forward {
				p.out = append(p.out, msg...)
			}
		}
		p.rd.skip(h.size)
	}
	gone := c == nil || c.gone
	g.unlock()

	if !gone {
		n := 0
		if copying {
			n = len(p.out)
			c.write(p.out)
		} else if p.rd.r > start {
			n = p.rd.r - start
			c.write(p.rd.buf[start:p.rd.r])
		}
		c.sess.ObserveTraffic(0, n)
		for _, d := range p.obs.queries {
			c.sess.ObserveQuery(d)
		}
		for _, d := range p.obs.transactions {
			c.sess.ObserveTransaction(d)
		}
	}
	p.obs.queries, p.obs.transactions = p.obs.queries[:0], p.obs.transactions[:0]
	if settle {
		sc.settleFromPump()
	}
	return nil
}

// streamLarge relays a message larger than the buffer without holding it whole.
func (p *pumpState) streamLarge(h header) error {
	sc := p.sc
	if h.typ == msgReadyForQuery {
		// Refused before routing: routing would count the request as answered, and the
		// client it owed would not be told the connection failed.
		return errors.New("oversized ReadyForQuery")
	}
	msg := p.rd.buf[p.rd.r:p.rd.w] // a prefix of the message
	sc.mu.Lock()
	g := locked(&sc.mu)
	defer g.unlock()
	c := sc.client
	synth, forward, _, err := sc.route(c, msg, nil)
	gone := c == nil || c.gone
	g.unlock()
	if err != nil {
		return err
	}
	var w io.Writer
	if !gone && forward {
		w = c
		if len(synth) > 0 {
			c.write(synth)
		}
	}
	return p.rd.stream(w, h.size)
}

// route decides what one server message does, under sc.mu: the bytes to emit before it
// (answers motorpool owes the client), whether to relay it, and whether the connection
// has answered everything it was sent (a point to settle it). msg may be only a
// prefix of a large message. What the server answered for the client goes to obs,
// if not nil.
func (sc *ServerConn) route(c *relay, msg []byte, obs *answered) (synth []byte, forward, settle bool, err error) {
	typ := msg[0]
	if !backendType(typ) {
		return nil, false, false, fmt.Errorf("server sent unknown message type %d", typ)
	}
	// Answers motorpool synthesized for requests it handled itself come first, in order.
	for {
		e, ok := sc.q.front()
		if !ok || e.kind != expectSynthetic {
			break
		}
		if c != nil && !c.gone {
			synth = append(synth, e.synth...)
		}
		sc.q.pop()
	}
	e, pending := sc.q.front()
	bound := c != nil && !c.gone

	switch typ {
	case msgNoticeResponse, msgNotification:
		// A notice the server sends on its own, with nothing asked, belongs to no
		// client in transaction mode: it must not reach whoever binds next. In session
		// mode it is the bound client's (LISTEN notifications).
		if !pending && (c == nil || c.sess.Mode() != proxy.ModeSession) {
			return synth, false, false, nil
		}
		return synth, bound && !e.drop, false, nil
	case msgParameterStatus:
		sc.noteParameter(c, msg, e.drop)
		return synth, bound && !e.drop, false, nil
	}
	if typ == msgCommandComplete && changesSchema(msg) && c != nil {
		// Statements prepared from now on must see the new schema: in this session
		// now, in others once its transaction commits (see the ReadyForQuery below).
		c.a.stmts.forgetAll()
		sc.schemaChanged = true
	}
	if pending && e.note != nil && e.note.kind == noteProbe {
		switch typ {
		case msgDataRow:
			e.note.probeRow(msg)
		case msgErrorResponse:
			e.note.probeError(msg)
		}
	}
	if !pending {
		// Nothing was asked: only a FATAL error (the server is going away) is legitimate.
		if typ == msgErrorResponse {
			return synth, bound, false, nil
		}
		return nil, false, false, fmt.Errorf("server sent %q with no request pending", typ)
	}
	forward = bound && !e.drop
	switch typ {
	case msgErrorResponse:
		if e.kind.endsAtReady() {
			e.note.fail()
			if e.drop {
				// motorpool's own statement failed (a settings sync, a reset): what the
				// session holds is no longer known, so it is reset before its next use.
				sc.dirty = true
			}
			if e.note != nil && e.note.kind == noteProbe {
				return synth, false, false, nil // the login fails with it (see start)
			}
			return synth, bound, false, nil // errors are relayed even for injected work
		}
		// An extended-protocol request failed: the server skips everything up to Sync.
		if (e.kind == expectBind || e.kind == expectDescribeStmt) && e.stmt != nil && c != nil &&
			serverErrorCode(msg) == CodeFeatureNotSupported {
			// The server refuses the statement's cached plan (cached plan must not
			// change result type: a table behind it changed). Clients that prepared
			// it keep getting that, as they would directly, until they prepare it
			// again: their new Parse then gets a new statement, not this one.
			c.a.stmts.retire(e.stmt)
		}
		if e.synth != nil {
			synth, forward = append(synth, e.synth...), false // motorpool's own error instead
		} else if renamed := c.inClientTerms(msg, e.stmt); renamed != nil && bound {
			synth, forward = append(synth, renamed...), false
		} else {
			forward = bound
		}
		// Undo what the skipped requests would have done, latest first (a Close and a
		// Parse of the same name in one pipeline). A simple query is skipped too; if it
		// was motorpool's own (a settings sync), the session is not what it thinks.
		var skipped []expectation
		for {
			e, ok := sc.q.front()
			if !ok || e.kind == expectSync {
				break
			}
			if e.kind == expectQuery && e.drop {
				sc.dirty = true
			}
			skipped = append(skipped, e)
			sc.q.pop()
		}
		for i := len(skipped) - 1; i >= 0; i-- {
			sc.unprepare(c, skipped[i])
		}
		// The batch's effects are rolled back with it. If its Sync is still to come,
		// the client's messages until then are skipped as the server skips them.
		if e, ok := sc.q.front(); ok {
			e.note.fail()
		} else if c != nil {
			c.batchFailed = true
		}
		return synth, forward, false, nil
	case msgReadyForQuery:
		if !e.kind.endsAtReady() {
			return nil, false, false, fmt.Errorf("ReadyForQuery out of turn (waiting for %d)", e.kind)
		}
		if len(msg) < headerLen+1 {
			return nil, false, false, errors.New("ReadyForQuery too short")
		}
		sc.tx = msg[headerLen]
		sc.q.pop()
		if sc.schemaChanged && sc.tx == txIdle && c != nil {
			c.a.stmts.forgetAll()
			sc.schemaChanged = false
		}
		if e.sent != 0 { // the client's request, not motorpool's own
			sc.answered(e.sent, obs)
		}
		if sc.tx == txIdle {
			sc.txBegan = 0 // also after motorpool's own ROLLBACK for a client that left
		}
		for n := e.note; n != nil; n = n.next {
			synth = append(synth, sc.applyNote(c, n)...)
		}
		return synth, forward, sc.q.len() == 0, nil
	}
	if e.kind == expectSync {
		return nil, false, false, fmt.Errorf("server sent %q before ReadyForQuery", typ)
	}
	if e.kind.completes(typ) {
		if e.stmt != nil && typ == msgParseComplete {
			e.stmt.valid.Store(true)
		}
		sc.q.pop()
	}
	return synth, forward, false, nil
}

// answered notes the ReadyForQuery that ends a client request sent at sent: the
// request's duration, and the transaction's when the server is idle again (a
// statement outside a transaction block is a transaction of its own). Called with
// sc.mu held.
func (sc *ServerConn) answered(sent int64, obs *answered) {
	now := nanotime()
	if sc.txBegan == 0 {
		sc.txBegan = sent
	}
	if obs != nil {
		obs.queries = append(obs.queries, time.Duration(now-sent))
	}
	if sc.tx == txIdle && obs != nil {
		obs.transactions = append(obs.transactions, time.Duration(now-sc.txBegan))
	}
}

// lost handles a server connection that failed: the bound client, if any, cannot go
// on with its session and is told so.
func (sc *ServerConn) lost(err error) {
	sc.mu.Lock()
	if sc.err == nil {
		sc.err = err
	}
	c := sc.client
	pending := sc.q.len() > 0 || sc.tx != txIdle
	sc.q.each(func(e expectation) {
		if e.note != nil && e.note.kind == noteProbe {
			e.note.err = Fatalf(CodeConnectionFailure, "server connection lost: %v", err)
			close(e.note.done)
		}
	})
	sc.q.reset()
	var lease proxy.Lease
	tell, told := false, false
	if c != nil {
		lease = sc.unbindLocked()
		tell = !c.gone && (pending || c.sess.Mode() == proxy.ModeSession)
		told = c.serverFatal
	}
	sc.mu.Unlock()
	sc.broken.Store(true)
	sc.conn.Close()
	if c == nil {
		return
	}
	switch {
	case told: // as a direct connection ends: the server's FATAL, then nothing
		c.close()
	case tell:
		c.abort(lostError(err), err)
	}
	c.sess.Destroy(lease, err)
}

// lostError is what the client of a lost server connection is told.
func lostError(err error) *Error {
	var pe *proxy.PanicError
	if errors.As(err, &pe) {
		return Fatalf(CodeInternalError, "internal error in motorpool; the server connection was closed")
	}
	return Fatalf(CodeConnectionFailure, "server connection lost")
}

// unprepare undoes what a request that failed or was skipped would have done: a Parse's
// statement on the server and the client's name for it, a Close's removal of a
// statement. Called with sc.mu held.
func (sc *ServerConn) unprepare(c *relay, e expectation) {
	switch {
	case e.evicted != 0:
		sc.prepared.restore(e.evicted)
		return
	case e.closed != nil:
		if c != nil {
			if _, taken := c.stmts[e.stmtName]; !taken {
				if c.stmts == nil {
					c.stmts = make(map[string]*clientStmt)
				}
				c.stmts[e.stmtName] = e.closed
			}
		}
		return
	}
	if e.kind != expectParse && e.kind != expectSynthetic {
		return
	}
	if e.stmt == nil {
		return
	}
	if e.kind == expectParse {
		sc.prepared.remove(e.stmt.id)
	}
	if e.stmtName != "" && c != nil {
		if st, ok := c.stmts[e.stmtName]; ok && st.stmtInfo == e.stmt {
			delete(c.stmts, e.stmtName)
		}
	}
}

// changesSchema reports whether a CommandComplete's tag is that of a statement that
// may change what other statements mean (a table's columns, a type, a function): CREATE,
// ALTER or DROP of anything, or a DO block, which may hold any of them.
func changesSchema(msg []byte) bool {
	tag := msg[headerLen:]
	switch {
	case len(tag) == 0:
		return false
	case tag[0] == 'C':
		return bytes.HasPrefix(tag, []byte("CREATE "))
	case tag[0] == 'A':
		return bytes.HasPrefix(tag, []byte("ALTER "))
	case tag[0] == 'D':
		return bytes.HasPrefix(tag, []byte("DROP ")) || bytes.HasPrefix(tag, []byte("DO\x00"))
	}
	return false
}

// backendType reports whether typ is a message a server may send after login.
func backendType(typ byte) bool {
	switch typ {
	case msgBindComplete, msgCloseComplete, msgCommandComplete, msgCopyData, msgCopyDone,
		msgCopyBothResponse, msgCopyInResponse, msgCopyOutResponse, msgDataRow,
		msgEmptyQueryResponse, msgErrorResponse, msgFunctionCallResponse, msgNoData,
		msgNoticeResponse, msgNotification, msgParameterDescription, msgParameterStatus,
		msgParseComplete, msgPortalSuspended, msgReadyForQuery, msgRowDescription,
		msgNegotiateProtocol, msgBackendKeyData:
		return true
	}
	return false
}
