package pg

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Prepared statements across transaction pooling.
//
// A client's named statements live in r.stmts (client name -> statement). Each
// distinct statement (query text and parameter types) has one server-side name,
// "mp_<id>", shared by every client. A server connection remembers which statements it
// has prepared (sc.prepared, least recently used evicted beyond the limit). When a
// client binds, describes or re-parses a statement the connection lacks, motorpool
// prepares it first and drops the ParseComplete. Requests motorpool answers itself
// (Parse of a statement the connection already has, Close of a statement) get
// synthesized responses, placed in order among the server's.
//
// The methods below run on the client goroutine with sc.mu held.

// maxUnnamedRetained is the largest buffer a client keeps for its unnamed Parse once a
// smaller one replaces it.
const maxUnnamedRetained = 64 << 10

var (
	parseComplete = []byte{msgParseComplete, 0, 0, 0, 4}
	closeComplete = []byte{msgCloseComplete, 0, 0, 0, 4}
)

// mapped handles the extended-protocol messages that name statements. It reports
// false for messages it leaves to the ordinary path.
func (r *relay) mapped(sc *ServerConn, msg []byte) (bool, error) {
	body := msg[headerLen:]
	switch msg[0] {
	case msgParse:
		return true, r.parse(sc, msg)
	case msgBind:
		portal, rest, ok := cstring(body)
		name, _, ok2 := cstring(rest)
		if !ok || !ok2 {
			return true, r.violation("invalid Bind message")
		}
		at, err := r.useStmt(sc, msg, expectBind, len(portal)+1, name)
		if at >= 0 {
			r.bound(portal, name)
		}
		return true, err
	case msgDescribe:
		if len(body) < 2 {
			return true, r.violation("invalid Describe message")
		}
		if body[0] != 'S' {
			return false, nil
		}
		name, _, ok := cstring(body[1:])
		if !ok {
			return true, r.violation("invalid Describe message")
		}
		_, err := r.useStmt(sc, msg, expectDescribeStmt, 1, name)
		return true, err
	case msgClose:
		if len(body) < 2 {
			return true, r.violation("invalid Close message")
		}
		if body[0] != 'S' {
			return false, nil
		}
		name, _, ok := cstring(body[1:])
		if !ok {
			return true, r.violation("invalid Close message")
		}
		if len(name) == 0 {
			return false, nil // the unnamed statement is the client's own on this connection
		}
		e := expectation{kind: expectSynthetic, synth: closeComplete}
		if st, ok := r.stmts[string(name)]; ok { // closing a statement that does not exist is no error
			e.stmtName, e.closed = string(name), st
			delete(r.stmts, e.stmtName)
		}
		sc.q.push(e)
		return true, nil
	}
	return false, nil
}

// parse handles a client's Parse.
func (r *relay) parse(sc *ServerConn, msg []byte) error {
	name, rest, ok := cstring(msg[headerLen:])
	query, types, ok2 := cstring(rest)
	if !ok || !ok2 || len(types) < 2 || len(types) != 2+4*int(binary.BigEndian.Uint16(types)) {
		return r.violation("invalid Parse message")
	}
	if len(name) == 0 {
		// The unnamed statement: relayed as is, and kept so a later Bind on another
		// server connection can prepare it again.
		r.keepUnnamed(msg)
		r.unnamedHere = true
		r.unnamedEffect = inspectQuery(query)
		sc.q.push(expectation{kind: expectParse})
		r.out = append(r.out, msg...)
		return nil
	}
	if _, exists := r.stmts[string(name)]; exists {
		r.fail(sc, &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: CodeDuplicatePreparedStmt,
			Message: "prepared statement \"" + string(name) + "\" already exists", File: "prepare.c", Routine: "StorePreparedStatement"})
		return nil
	}
	st := &clientStmt{stmtInfo: r.a.stmts.lookup(query, types), query: append([]byte(nil), query...), types: append([]byte(nil), types...)}
	if sc.tx == txFailed && sc.q.len() == 0 && sc.prepared.has(st.id) && !transactionExit(query) {
		// PostgreSQL refuses a Parse in a failed transaction, but for one that ends it;
		// motorpool must not answer it from the connection's statements.
		r.fail(sc, &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: CodeInFailedSQLTransaction,
			Message: "current transaction is aborted, commands ignored until end of transaction block", File: "postgres.c", Routine: "exec_parse_message"})
		return nil
	}
	if r.stmts == nil {
		r.stmts = make(map[string]*clientStmt)
	}
	key := string(name)
	r.stmts[key] = st
	if sc.prepared.has(st.id) {
		sc.q.push(expectation{kind: expectSynthetic, synth: parseComplete, stmt: st.stmtInfo, stmtName: key})
		return nil
	}
	r.prepare(sc, st, key)
	return nil
}

// useStmt handles a Bind or Describe of a statement: kind is its expectation, off the
// offset of the statement name in the body. The unnamed statement is prepared again
// if this connection does not have it; a named one is prepared if needed and renamed.
// It returns where in r.out the (renamed) message starts, or -1 when the request
// fails instead (an unknown statement).
func (r *relay) useStmt(sc *ServerConn, msg []byte, kind expectKind, off int, name []byte) (int, error) {
	if len(name) == 0 {
		if !r.unnamedHere && len(r.unnamed) == 0 {
			// The client has no unnamed statement on this connection and none to prepare
			// again: whatever the server has under that name is another client's.
			r.fail(sc, &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: CodeUndefinedPreparedStmt,
				Message: "unnamed prepared statement does not exist", File: "postgres.c", Routine: "exec_bind_message"})
			return -1, nil
		}
		if !r.unnamedHere {
			sc.q.push(expectation{kind: expectParse, drop: true})
			r.out = append(r.out, r.unnamed...)
			r.unnamedHere = true
		}
		sc.q.push(expectation{kind: kind})
		at := len(r.out)
		r.out = append(r.out, msg...)
		return at, nil
	}
	st := r.stmts[string(name)]
	if st == nil {
		r.fail(sc, &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: CodeUndefinedPreparedStmt,
			Message: "prepared statement \"" + string(name) + "\" does not exist", File: "prepare.c", Routine: "FetchPreparedStatement"})
		return -1, nil
	}
	if !sc.prepared.has(st.id) {
		r.prepare(sc, st, "")
	}
	sc.q.push(expectation{kind: kind, stmt: st.stmtInfo})
	body := msg[headerLen:]
	var nameBuf [24]byte
	newName := serverName(nameBuf[:0], st.id)
	at := len(r.out)
	r.out = appendHeader(r.out, msg[0], len(body)-len(name)+len(newName))
	r.out = append(r.out, body[:off]...)
	r.out = append(r.out, newName...)
	r.out = append(r.out, body[off+len(name):]...)
	return at, nil
}

// prepare sends a Parse of st under its server-side name, closing the least recently
// used statement first if the connection is at its limit. clientName is the client's
// name when this is the client's own Parse (its ParseComplete is relayed), "" when
// motorpool injects it (its ParseComplete is dropped).
func (r *relay) prepare(sc *ServerConn, st *clientStmt, clientName string) {
	var nameBuf [24]byte
	if evict := sc.prepared.add(st.id); evict != 0 {
		sc.q.push(expectation{kind: expectClose, drop: true, evicted: evict})
		old := serverName(nameBuf[:0], evict)
		r.out = appendHeader(r.out, msgClose, 1+len(old)+1)
		r.out = append(append(append(r.out, 'S'), old...), 0)
	}
	name := serverName(nameBuf[:0], st.id)
	sc.q.push(expectation{kind: expectParse, drop: clientName == "", stmt: st.stmtInfo, stmtName: clientName})
	r.out = appendHeader(r.out, msgParse, len(name)+1+len(st.query)+1+len(st.types))
	r.out = append(append(r.out, name...), 0)
	r.out = append(append(r.out, st.query...), 0)
	r.out = append(r.out, st.types...)
}

// deallocate handles a simple Query that is SQL DEALLOCATE [PREPARE] of a statement
// the client prepared through the protocol (as Rails drops statements): the server
// knows it as motorpool's mp_N, shared with other clients, so the query is sent as
// DEALLOCATE mp_N, after preparing mp_N if this connection lacks it, and the client's
// name is dropped at once. It returns the query to send and its note, or nil when
// the query is anything else. Called with sc.mu held.
func (r *relay) deallocate(sc *ServerConn, msg []byte) ([]byte, *stmtNote) {
	q := bytes.TrimSuffix(msg[headerLen:], []byte{0})
	for len(q) > 0 && (q[0] == ' ' || q[0] == '\t' || q[0] == '\r' || q[0] == '\n') {
		q = q[1:]
	}
	if !hasPrefixFold(q, "deallocate") {
		return nil, nil // the fast path: no allocation
	}
	name, ok := deallocateName(string(q))
	if !ok {
		return nil, nil
	}
	st := r.stmts[name]
	if st == nil {
		return nil, nil // a SQL PREPAREd statement, or none: the server answers
	}
	delete(r.stmts, name)
	if !sc.prepared.has(st.id) && sc.tx != txFailed {
		r.prepare(sc, st, "")
		sc.q.push(expectation{kind: expectSync, drop: true})
		r.out = append(r.out, syncMsg...)
	}
	var nameBuf [24]byte
	query := "DEALLOCATE " + string(serverName(nameBuf[:0], st.id))
	return appendQuery(nil, query), &stmtNote{kind: noteDeallocate, name: name, stmt: st}
}

// deallocateName returns the statement name of a query that is DEALLOCATE
// [PREPARE] name and nothing else, folded to lower case unless quoted, as
// PostgreSQL reads it.
func deallocateName(q string) (string, bool) {
	w, rest := firstWord(stripComments(q))
	if w != "DEALLOCATE" {
		return "", false
	}
	if w2, after := firstWord(rest); w2 == "PREPARE" {
		rest = after
	}
	rest = strings.TrimRight(strings.TrimSpace(rest), "; \t\r\n")
	if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' {
		return strings.ReplaceAll(rest[1:len(rest)-1], `""`, `"`), true
	}
	if rest == "" || strings.ToUpper(rest) == "ALL" || strings.ContainsAny(rest, " \t\r\n;\"'") {
		return "", false
	}
	return strings.ToLower(rest), true
}

// inClientTerms returns the server's ErrorResponse msg about statement st with the
// statement's server-side name (mp_N) replaced by the client's own name for it, as
// the client would read it directly ("bind message supplies 2 parameters, but
// prepared statement "s1" requires 1"), or nil when there is nothing to replace. It
// runs on errors only. c may be nil.
func (c *relay) inClientTerms(msg []byte, st *stmtInfo) []byte {
	if c == nil || st == nil {
		return nil
	}
	var nameBuf [24]byte
	quoted := `"` + string(serverName(nameBuf[:0], st.id)) + `"`
	if !bytes.Contains(msg, []byte(quoted)) {
		return nil
	}
	name := ""
	for n, cs := range c.stmts {
		if cs.stmtInfo == st && (name == "" || n < name) {
			name = n
		}
	}
	var e pgproto3.ErrorResponse
	if name == "" || e.Decode(msg[headerLen:]) != nil {
		return nil
	}
	r := strings.NewReplacer(quoted, `"`+name+`"`)
	e.Message, e.Detail, e.Hint = r.Replace(e.Message), r.Replace(e.Detail), r.Replace(e.Hint)
	out, err := e.Encode(nil)
	if err != nil {
		return nil
	}
	return out
}

// invalidParse is a Parse that fails on the server. motorpool sends it where the
// client's request must fail, so the server enters the same state PostgreSQL would be
// in (the transaction failed, messages skipped until Sync); the client sees the error
// motorpool substitutes for the server's.
var invalidParse = func() []byte {
	b, _ := (&pgproto3.Parse{Name: "mp_invalid", Query: "motorpool refused this request"}).Encode(nil)
	return b
}()

// fail makes the client's current request fail with e, as PostgreSQL would.
func (r *relay) fail(sc *ServerConn, e *pgproto3.ErrorResponse) {
	synth, _ := e.Encode(nil)
	sc.q.push(expectation{kind: expectParse, drop: true, synth: synth})
	r.out = append(r.out, invalidParse...)
}

// answerLocally answers, without a server connection, the requests of an unbound
// client that need none: a Parse of a statement some server has already accepted, a
// Close, and the errors of naming a statement that does not exist or already does. A
// client that prepares with Parse and Sync alone (libpq's PQprepare) then needs no
// server connection to do so, which keeps a single-threaded client with many
// connections (pgbench -M prepared) from waiting on itself.
func (r *relay) answerLocally(msg []byte) bool {
	body := msg[headerLen:]
	switch msg[0] {
	case msgParse:
		name, rest, ok := cstring(body)
		query, types, ok2 := cstring(rest)
		if !ok || !ok2 || len(name) == 0 {
			return false
		}
		if _, exists := r.stmts[string(name)]; exists {
			r.refuseLocally(CodeDuplicatePreparedStmt, "prepared statement \""+string(name)+"\" already exists")
			return true
		}
		info := r.a.stmts.lookup(query, types)
		if !info.valid.Load() {
			return false // a server must check it first
		}
		if r.stmts == nil {
			r.stmts = make(map[string]*clientStmt)
		}
		r.stmts[string(name)] = &clientStmt{stmtInfo: info, query: append([]byte(nil), query...), types: append([]byte(nil), types...)}
		r.reply(parseComplete)
		return true
	case msgBind, msgDescribe:
		var name []byte
		var ok bool
		if msg[0] == msgBind {
			_, rest, ok1 := cstring(body)
			name, _, ok = cstring(rest)
			ok = ok && ok1
		} else if len(body) > 1 && body[0] == 'S' {
			name, _, ok = cstring(body[1:])
		}
		if !ok || len(name) == 0 || r.stmts[string(name)] != nil {
			return false
		}
		r.refuseLocally(CodeUndefinedPreparedStmt, "prepared statement \""+string(name)+"\" does not exist")
		return true
	case msgClose:
		if len(body) < 2 {
			return false
		}
		name, _, ok := cstring(body[1:])
		if !ok || (body[0] == 'S' && len(name) == 0) {
			return false // the unnamed statement may still be on a server connection
		}
		if body[0] == 'S' {
			delete(r.stmts, string(name))
		}
		r.reply(closeComplete) // an unbound client has no open portal
		return true
	}
	return false
}

// keepUnnamed keeps a copy of the client's unnamed Parse, whatever its size: PostgreSQL
// keeps the statement until the next one replaces it, and a Bind in a later transaction
// may reach another server connection. A large buffer is not kept for small statements.
func (r *relay) keepUnnamed(msg []byte) {
	if cap(r.unnamed) > maxUnnamedRetained && len(msg) <= maxUnnamedRetained {
		r.unnamed = nil
	}
	r.unnamed = append(r.unnamed[:0], msg...)
}

// dropUnnamed forgets the client's unnamed statement (a simple query replaces it).
func (r *relay) dropUnnamed() {
	r.unnamedHere = false
	r.unnamed = r.unnamed[:0]
	if cap(r.unnamed) > maxUnnamedRetained {
		r.unnamed = nil
	}
	r.unnamedEffect = nil
}

// refuseLocally answers an unbound client's request with an error, then skips to Sync.
func (r *relay) refuseLocally(code, message string) {
	r.reply(appendError(nil, &Error{Severity: "ERROR", Code: code, Message: message}))
	r.skipToSync = true
}

// streamBind relays a Bind too large for the buffer: the statement name, near the
// front, is mapped as for any Bind, and the parameters stream through.
func (r *relay) streamBind(ctx context.Context, h header) error {
	portal, rest, ok := cstring(r.rd.buf[r.rd.r+headerLen : r.rd.w])
	name, _, ok2 := cstring(rest)
	for (!ok || !ok2) && r.rd.w-r.rd.r < len(r.rd.buf) { // the names may not have arrived yet
		if err := r.rd.fill(); err != nil {
			return err
		}
		portal, rest, ok = cstring(r.rd.buf[r.rd.r+headerLen : r.rd.w])
		name, _, ok2 = cstring(rest)
	}
	if !ok || !ok2 {
		return r.violation("invalid Bind message")
	}
	head := headerLen + len(portal) + 1 + len(name) + 1 // header, portal and name
	if r.server.Load() == nil && len(name) > 0 && r.stmts[string(name)] == nil {
		r.refuseLocally(CodeUndefinedPreparedStmt, "prepared statement \""+string(name)+"\" does not exist")
		r.flushReplies()
		return r.rd.stream(nil, h.size)
	}
	r.flushReplies()
	sc, err := r.lock(ctx)
	if err != nil {
		if err := r.rd.stream(nil, h.size); err != nil {
			return err
		}
		return r.refuse(msgBind, err)
	}
	g := locked(&sc.mu)
	defer g.unlock()
	if r.batchFailed { // skipped, as in handle
		g.unlock()
		return r.rd.stream(nil, h.size)
	}
	// Map the head alone, then give the mapped Bind the length of the whole.
	at, err := r.useStmt(sc, r.rd.buf[r.rd.r:r.rd.r+head], expectBind, len(portal)+1, name)
	if at >= 0 {
		r.bound(portal, name)
	}
	g.unlock()
	if err != nil {
		return err
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	r.bytesIn += len(r.out)
	if at < 0 { // the Bind fails on the server; its parameters are not needed
		sc.writeLocked(r.out)
		r.out = r.out[:0]
		return r.rd.stream(nil, h.size)
	}
	// The mapped head ends r.out; the whole Bind is it and the rest still to come.
	binary.BigEndian.PutUint32(r.out[at+1:], uint32(len(r.out)-at-1+h.size-head))
	sc.writeLocked(r.out)
	r.out = r.out[:0]
	r.rd.skip(head)
	r.bytesIn += h.size - head
	return r.streamTo(sc, h.size-head)
}
