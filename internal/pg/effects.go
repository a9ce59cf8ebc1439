package pg

// Session state changed through the extended query protocol.
//
// A simple query's effect is known when it is sent (see inspectQuery). A prepared
// statement's is known only when a portal made from it is executed: it may run later,
// in another transaction, many times or never. So each statement carries the effect
// of its text (stmtInfo.effect for named ones, relay.unnamedEffect for the unnamed
// one), Bind passes it to the portal, and Execute adds it to the batch, whose Sync's
// expectation then carries it like a simple query's note: at ReadyForQuery a SET or
// RESET outside a transaction block is tracked (it follows the client to other server
// connections), and other state marks the connection for a reset, with a warning. An
// error anywhere in the batch rolls the batch back, and the effect with it (but state
// that outlives a rollback still marks the connection). The methods below run on the
// client goroutine.

// bound records the effect of the statement a Bind made a portal from, after the
// Bind was accepted.
func (r *relay) bound(portal, stmt []byte) {
	eff := r.unnamedEffect
	if len(stmt) > 0 {
		eff = nil
		if st := r.stmts[string(stmt)]; st != nil {
			eff = st.effect
		}
	}
	switch {
	case len(portal) == 0:
		r.portalEffect = eff
	case eff != nil:
		if r.portalEffects == nil {
			r.portalEffects = make(map[string]*stmtNote)
		}
		r.portalEffects[string(portal)] = eff
	case r.portalEffects != nil:
		delete(r.portalEffects, string(portal))
	}
}

// executed adds the effects of the portal an Execute runs to the batch's, in order.
func (r *relay) executed(msg []byte) {
	portal, _, ok := cstring(msg[headerLen:])
	if !ok {
		return // the server refuses it
	}
	eff := r.portalEffect
	if len(portal) > 0 {
		eff = r.portalEffects[string(portal)]
	}
	if eff == nil {
		return
	}
	last := &r.batchEffect
	for *last != nil {
		last = &(*last).next
	}
	for ; eff != nil; eff = eff.next { // a copy: eff is the statement's, for every execution
		n := *eff
		n.next = nil
		*last = &n
		last = &n.next
	}
}

// noteParse looks at a statement about to be prepared on sc when statements are not
// mapped in transaction or statement mode (prepared_statements: false), for session
// state it creates when executed. Its effect is not tracked: the connection is marked
// dirty, so it is reset before its next client (even the same one), and the client is
// warned once.
// Called with sc.mu held.
func (r *relay) noteParse(sc *ServerConn, query []byte) {
	n := inspectQuery(query)
	if n == nil {
		return
	}
	sc.dirty = true
	what := n.what
	switch n.kind {
	case noteSet, noteReset:
		what = "SET or RESET in a statement that is not mapped"
	case noteDiscardAll, noteDeallocateAll:
		what = "DISCARD or DEALLOCATE in a statement that is not mapped"
	}
	if w := r.warnDirty(what); w != nil {
		sc.q.push(expectation{kind: expectSynthetic, synth: w})
	}
}

// parseQuery returns the query text of a Parse message (nil if it is malformed).
func parseQuery(msg []byte) []byte {
	_, rest, _ := cstring(msg[headerLen:])
	query, _, _ := cstring(rest)
	return query
}
