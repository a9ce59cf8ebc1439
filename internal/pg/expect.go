package pg

// expectation says what the server owes for one message motorpool sent it, and what to
// do with that response. The relay pushes one for every message that gets a response,
// in the order the messages are sent; the pump pops them as responses arrive, so it
// always knows which request a server message answers.
type expectation struct {
	kind expectKind
	// drop discards the response instead of relaying it (messages motorpool injected).
	drop bool
	// synth is what the client gets instead of the server's response: for kind
	// expectSynthetic, emitted when reached (motorpool answered the request itself);
	// for other kinds, emitted instead of the server's ErrorResponse.
	synth []byte
	// stmt and stmtName, for Parse: the statement prepared on the server and the
	// client's name for it ("" when motorpool injected the Parse), undone when the
	// Parse fails or is skipped after an earlier error. stmt, for a Bind or a
	// Describe of a named statement: the statement, retired if the server refuses
	// its plan.
	stmt     *stmtInfo
	stmtName string
	// evicted, for motorpool's Close of a statement evicted from the connection, is that
	// statement's ID; closed, for a client's Close of a named statement, is the statement
	// the Close removed (under stmtName). Both are put back when the Close is skipped
	// after an earlier error: the server then still has the statement.
	evicted uint64
	closed  *clientStmt
	// note, when set, carries what motorpool must learn from the outcome of a simple
	// query that changes session state (see stmtNote).
	note *stmtNote
	// sent is when a client's Sync or Query was sent (monotonic nanoseconds), to time
	// the request; 0 for motorpool's own.
	sent int64
}

type expectKind uint8

const (
	expectParse          expectKind = iota + 1 // ParseComplete
	expectBind                                 // BindComplete
	expectClose                                // CloseComplete
	expectDescribeStmt                         // ParameterDescription, then RowDescription or NoData
	expectDescribePortal                       // RowDescription or NoData
	expectExecute                              // rows…, then CommandComplete, EmptyQueryResponse or PortalSuspended
	expectSync                                 // ReadyForQuery
	expectQuery                                // anything, then ReadyForQuery (simple query, function call)
	expectSynthetic                            // nothing from the server: emit synth when reached
)

// endsAtReady reports whether the expectation is met by ReadyForQuery.
func (k expectKind) endsAtReady() bool { return k == expectSync || k == expectQuery }

// completes reports whether server message typ is the last one owed for k (ErrorResponse
// and ReadyForQuery are handled by the pump).
func (k expectKind) completes(typ byte) bool {
	switch k {
	case expectParse:
		return typ == msgParseComplete
	case expectBind:
		return typ == msgBindComplete
	case expectClose:
		return typ == msgCloseComplete
	case expectDescribeStmt, expectDescribePortal:
		return typ == msgRowDescription || typ == msgNoData
	case expectExecute:
		return typ == msgCommandComplete || typ == msgEmptyQueryResponse || typ == msgPortalSuspended
	}
	return false
}

// queue is a FIFO of expectations: a growable ring that allocates nothing in steady state.
type queue struct {
	buf        []expectation
	head, size int
	last       expectKind // of the latest push, 0 after reset
}

// unsynced reports whether the latest request sent was an extended-protocol one that
// no Sync (or simple query) followed: the server will not send ReadyForQuery for it.
func (q *queue) unsynced() bool { return q.last != 0 && !q.last.endsAtReady() }

func (q *queue) len() int { return q.size }

func (q *queue) push(e expectation) {
	if q.size == len(q.buf) {
		n := max(16, 2*len(q.buf))
		nb := make([]expectation, n)
		for i := range q.size {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = e
	q.size++
	q.last = e.kind
}

// front returns the oldest expectation; ok is false when the queue is empty.
func (q *queue) front() (e expectation, ok bool) {
	if q.size == 0 {
		return expectation{}, false
	}
	return q.buf[q.head], true
}

func (q *queue) pop() {
	q.head = (q.head + 1) % len(q.buf)
	q.size--
}

// each calls fn for every expectation, oldest first.
func (q *queue) each(fn func(expectation)) {
	for i := range q.size {
		fn(q.buf[(q.head+i)%len(q.buf)])
	}
}

func (q *queue) reset() { q.head, q.size, q.last = 0, 0, 0 }
