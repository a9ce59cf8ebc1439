package pg

import (
	"bytes"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/proxy"
)

// stmtNote is what the client relay noticed about a simple query, or an
// extended-protocol batch, that changes session state, for the pump to act on once
// the server has answered (see also effects.go).
type stmtNote struct {
	kind noteKind
	// name and sql: the setting and the statement, for noteSet; what, for noteDirty:
	// the kind of state, for the warning the client gets.
	name, sql, what string
	// failed is set by the pump when the query or batch reported an error.
	failed bool
	// next is the batch's next effect, in order (extended protocol).
	next *stmtNote

	// For noteDeallocate: the client's statement and its name, given back to the
	// client if the DEALLOCATE fails.
	stmt *clientStmt

	// For noteProbe: the settings whose values the query's one row reports (in column
	// order), the values read, the server's error, and done, closed at ReadyForQuery.
	keys   []string
	params map[string]string
	err    error
	done   chan struct{}
}

// fail marks n and the effects after it failed. n may be nil.
func (n *stmtNote) fail() {
	for ; n != nil; n = n.next {
		n.failed = true
	}
}

type noteKind uint8

const (
	// noteSet: SET name … outside a transaction block; the client keeps the setting on
	// every server connection it uses from now on.
	noteSet noteKind = iota + 1
	// noteReset: RESET name or RESET ALL (name "").
	noteReset
	// noteDirty: session state motorpool cannot carry between server connections
	// (temporary tables, session advisory locks, SQL PREPARE, WITH HOLD cursors, SET
	// inside a transaction block); the server connection is reset before reuse.
	noteDirty
	// noteDiscardAll: DISCARD ALL, which resets settings and drops every prepared
	// statement of the session.
	noteDiscardAll
	// noteDeallocateAll: DEALLOCATE ALL, which drops every prepared statement.
	noteDeallocateAll
	// noteDeallocate: SQL DEALLOCATE of a statement the client prepared through the
	// protocol, sent to the server under motorpool's name (see deallocate).
	noteDeallocate
	// noteProbe: motorpool's own query at login, which applies the client's settings
	// and reads back their values as the server normalised them.
	noteProbe
)

// noteParameter records a ParameterStatus the server sent while working for client c:
// the client changed a reported setting, which must follow it to other server
// connections. Called with sc.mu held.
func (sc *ServerConn) noteParameter(c *relay, msg []byte, internal bool) {
	if internal || c == nil {
		return
	}
	name, rest, ok := cstring(msg[headerLen:])
	if !ok {
		return
	}
	value, _, ok := cstring(rest)
	if !ok || !settable(string(name)) {
		return
	}
	base := sc.params[string(name)]
	v := setting{value: string(value)}
	c.settings.set(string(name), v, base)
	sc.settings.set(string(name), v, base)
}

// probeRow records the row of a login probe. Called with sc.mu held.
func (n *stmtNote) probeRow(msg []byte) {
	var row pgproto3.DataRow
	if row.Decode(msg[headerLen:]) != nil {
		return
	}
	for i, v := range row.Values {
		if i < len(n.keys) && v != nil {
			n.params[n.keys[i]] = string(v)
		}
	}
}

// probeError records the error of a login probe. Called with sc.mu held.
func (n *stmtNote) probeError(msg []byte) {
	var se ServerError
	if se.Decode(msg[headerLen:]) == nil && n.err == nil {
		se.Severity, se.SeverityUnlocalized = "FATAL", "FATAL"
		n.err = &se
	}
}

// probeQuery returns the login probe: the settings sync, then one row with the values
// of keys.
func probeQuery(sync string, keys []string) string {
	var b strings.Builder
	b.WriteString(sync)
	if len(keys) == 0 {
		b.WriteString(";")
		return b.String()
	}
	b.WriteString("SELECT ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("pg_catalog.current_setting(")
		b.WriteString(quoteLiteral(k))
		b.WriteString(")")
	}
	return b.String()
}

// applyNote acts on what a completed simple query did. It returns a warning for the
// client when the query created session state transaction pooling cannot keep.
// Called with sc.mu held.
func (sc *ServerConn) applyNote(c *relay, n *stmtNote) (warning []byte) {
	if n.kind == noteProbe {
		close(n.done)
		return nil
	}
	if n.kind == noteDeallocate {
		switch {
		case !n.failed:
			sc.prepared.remove(n.stmt.id)
		case c != nil && c.stmts[n.name] == nil:
			if c.stmts == nil {
				c.stmts = make(map[string]*clientStmt)
			}
			c.stmts[n.name] = n.stmt // PostgreSQL keeps it when DEALLOCATE fails
		}
		return nil
	}
	if n.failed && n.kind != noteDirty {
		return nil // rolled back; but a session lock, say, outlives the error
	}
	if n.kind == noteDiscardAll || n.kind == noteDeallocateAll {
		sc.prepared.clear()
		if c != nil {
			c.stmts = nil
		}
		if n.kind == noteDeallocateAll {
			return nil
		}
		n.kind = noteReset
	}
	if n.kind == noteDirty || sc.tx != txIdle {
		sc.dirty = true
		what := n.what
		switch n.kind {
		case noteSet:
			what = "SET inside a transaction block"
		case noteReset:
			what = "RESET inside a transaction block"
		}
		return c.warnDirty(what)
	}
	if c == nil {
		return nil
	}
	switch n.kind {
	case noteSet:
		v := setting{value: n.sql, sql: true}
		c.settings.set(n.name, v, "")
		sc.settings.set(n.name, v, "")
	case noteReset:
		if n.name == "" {
			// The server is back at its startup state: the pool's. The client is back
			// at its own startup settings, which the relay applies again before the
			// client's next statement.
			sc.settings.clear()
			c.settings.copyFrom(&c.startup)
			return nil
		}
		if _, ok := c.settings.vals[n.name]; ok {
			delete(c.settings.vals, n.name)
			c.settings.refresh()
		}
		if _, ok := sc.settings.vals[n.name]; ok {
			delete(sc.settings.vals, n.name)
			sc.settings.refresh()
		}
	}
	return nil
}

// warnDirty returns, the first time a transaction-pooled client creates session state
// that cannot follow it to another server connection, a WARNING saying so: the state
// lasts until its server connection is released, then the connection is reset.
// Called with the bound server's mu held.
func (c *relay) warnDirty(what string) []byte {
	if c == nil || c.gone || c.warnedDirty || c.sess.Mode() == proxy.ModeSession {
		return nil
	}
	c.warnedDirty = true
	b, _ := (&pgproto3.NoticeResponse{
		Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "01000",
		Message: "motorpool: " + what + " does not survive " + c.sess.Mode().String() + " pooling",
		Detail:  "This session state lasts only while this client holds its server connection; the connection is reset before its next use.",
		Hint:    "Use pool_mode: session for this client (a service matched by its user or application_name can have its own mode).",
	}).Encode(nil)
	return b
}

// settable reports whether a reported parameter is one a client can change (and so one
// motorpool carries between server connections).
func settable(name string) bool {
	switch name {
	case "server_version", "server_encoding", "integer_datetimes", "is_superuser",
		"session_authorization", "in_hot_standby", "scram_iterations",
		"default_transaction_read_only":
		return false
	}
	return true
}

// inspectQuery reports what a query (a simple Query's text, NUL-terminated, or a
// Parse's) does to its session that motorpool must follow or undo: nil for most
// queries, found on a fast path that allocates nothing.
//
// Each statement is read: its first words (SET, RESET, DISCARD, …) and, anywhere in
// it, the words that create session state (a temporary table, a session advisory
// lock, set_config, a WITH HOLD cursor). A state change in a query of several
// statements cannot be followed (they run in one implicit transaction, and a SET
// among them may or may not stand): the connection is marked for a reset.
//
// A backslash in a string literal escapes a quote only in a session with
// standard_conforming_strings off, which motorpool does not track; so a query with a
// backslash is also read that way, and if the two readings differ where it matters,
// the connection is marked for a reset: 'a\” ; SET … -- ' hides a SET from one of
// them.
func inspectQuery(q []byte) *stmtNote {
	if !mayChangeState(q) {
		return nil
	}
	text := strings.TrimRight(string(q), "\x00")
	stmts := splitSQL(text, false)
	n := inspectStatements(stmts)
	if strings.IndexByte(text, '\\') < 0 {
		return n
	}
	other := splitSQL(text, true)
	if sameStatements(stmts, other) {
		return n
	}
	if n == nil {
		n = inspectStatements(other)
	}
	if n == nil {
		return nil
	}
	return &stmtNote{kind: noteDirty, what: "a query whose statements depend on standard_conforming_strings"}
}

// inspectStatements is inspectQuery for a query split into statements.
//
// The statements of a query without transaction control run in one implicit
// transaction: its SETs and RESETs all stand, or (after an error) none does, as a
// batch's. They are chained in order, and followed at ReadyForQuery like a batch's
// (asyncpg's pool resets a connection it takes back with "SELECT
// pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;"). With transaction
// control among them, which of them stand is not known: the connection is marked for
// a reset.
func inspectStatements(stmts []sqlStatement) *stmtNote {
	if len(stmts) == 1 {
		return inspectSQL(stmts[0])
	}
	followable := !slices.ContainsFunc(stmts, transactionControl)
	var chain *stmtNote
	last := &chain
	for _, st := range stmts {
		n := inspectSQL(st)
		switch {
		case n == nil:
			continue
		case n.kind == noteDirty:
			return n
		case !followable || n.kind != noteSet && n.kind != noteReset:
			first, _ := firstWord(stripComments(st.text))
			return &stmtNote{kind: noteDirty, what: first + " in a multi-statement query"}
		}
		*last = n
		last = &n.next
	}
	return chain
}

// mayChangeState is inspectQuery's fast path: whether q's first word may start a
// statement that changes session state, or q may hold several statements or one of
// the words scanWords looks for.
func mayChangeState(q []byte) bool {
	i := 0
	for i < len(q) && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r') {
		i++
	}
	if i == len(q) || q[i] == 0 {
		return false
	}
	if q[i] == '-' || q[i] == '/' {
		return true // a leading comment: look closer
	}
	j := i
	for j < len(q) && q[j] > ' ' && q[j] != ';' && q[j] != '(' {
		j++
	}
	if stateKeyword(q[i:j]) {
		return true
	}
	for k := j; k < len(q); k++ {
		switch q[k] | 0x20 { // ASCII lower case
		case ';':
			if !blankTail(q[k+1:]) {
				return true
			}
		case 't':
			if hasPrefixFold(q[k:], "temp") {
				return true
			}
		case 'a':
			if hasPrefixFold(q[k:], "advisory") {
				return true
			}
		case 's':
			if hasPrefixFold(q[k:], "set_config") {
				return true
			}
		case 'h':
			if hasPrefixFold(q[k:], "hold") {
				return true
			}
		}
	}
	return false
}

// blankTail reports whether b holds only blanks, semicolons and NULs.
func blankTail(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';' && c != 0 {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether b starts with lower, ignoring ASCII case.
func hasPrefixFold(b []byte, lower string) bool {
	if len(b) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		if b[i]|0x20 != lower[i] && b[i] != lower[i] {
			return false
		}
	}
	return true
}

// stateKeyword reports whether a statement's first word may start one that changes
// session state.
func stateKeyword(w []byte) bool {
	for _, k := range [...]string{"SET", "RESET", "DISCARD", "DEALLOCATE", "PREPARE", "LISTEN", "LOAD", "CREATE", "DECLARE", "DO"} {
		if len(w) == len(k) && bytes.EqualFold(w, []byte(k)) {
			return true
		}
	}
	return false
}

// inspectSQL is inspectQuery's slow path for one statement: its first words, then
// the words anywhere in it that create session state.
func inspectSQL(st sqlStatement) *stmtNote {
	if st.words[0] == "DO" {
		return inspectDo(st.text)
	}
	if n := inspectStatement(st.text); n != nil {
		return n
	}
	return scanWords(st.words)
}

// scanWords looks through a statement's words for session state created anywhere in
// it: a temporary table (CREATE … TEMP, SELECT … INTO TEMP, a table in pg_temp), a
// session advisory lock, set_config (whose effect may outlive the transaction) or a
// WITH HOLD cursor.
func scanWords(words []string) *stmtNote {
	for i, w := range words {
		switch w {
		case "TEMP", "TEMPORARY":
			if (slices.Contains(words[:i], "CREATE") || i > 0 && words[i-1] == "INTO") && !onCommitDrop(words) {
				return &stmtNote{kind: noteDirty, what: "a temporary table"}
			}
		case "PG_TEMP":
			return &stmtNote{kind: noteDirty, what: "a temporary table"}
		case "PG_ADVISORY_LOCK", "PG_ADVISORY_LOCK_SHARED", "PG_TRY_ADVISORY_LOCK", "PG_TRY_ADVISORY_LOCK_SHARED":
			return &stmtNote{kind: noteDirty, what: "a session advisory lock"}
		case "SET_CONFIG":
			return &stmtNote{kind: noteDirty, what: "set_config"}
		case "HOLD":
			if i > 0 && words[i-1] == "WITH" && slices.Contains(words[:i], "DECLARE") {
				return &stmtNote{kind: noteDirty, what: "a WITH HOLD cursor"}
			}
		}
	}
	return nil
}

// inspectDo looks into a DO block, whose body is a string motorpool cannot follow:
// a statement in it that changes session state, directly or in a string it EXECUTEs,
// marks the connection dirty. Words are read through quotes, and a word starts a
// statement after a semicolon or after BEGIN, THEN, ELSE, LOOP or EXECUTE.
func inspectDo(text string) *stmtNote {
	var words []string
	starts := true
	dirty := false
	scanThroughQuotes(text, func(w string) {
		if w == ";" {
			starts = true
			return
		}
		w = strings.ToUpper(w)
		switch w {
		case "SET", "RESET", "DISCARD", "DEALLOCATE", "PREPARE", "LISTEN", "LOAD":
			dirty = dirty || starts
		}
		starts = w == "BEGIN" || w == "THEN" || w == "ELSE" || w == "LOOP" || w == "EXECUTE"
		words = append(words, w)
	})
	if dirty || scanWords(words) != nil {
		return &stmtNote{kind: noteDirty, what: "a DO block that changes session state"}
	}
	return nil
}

// transactionExit reports whether q is a single statement that PostgreSQL accepts in
// a failed transaction (IsTransactionExitStmt): COMMIT or END, ROLLBACK or ABORT (also
// TO SAVEPOINT), PREPARE TRANSACTION; not COMMIT PREPARED or ROLLBACK PREPARED.
func transactionExit(q []byte) bool {
	stmts := splitSQL(strings.TrimRight(string(q), "\x00"), false)
	if len(stmts) != 1 {
		return false
	}
	w := stmts[0].words
	second := ""
	if len(w) > 1 {
		second = w[1]
	}
	switch w[0] {
	case "COMMIT", "END", "ROLLBACK", "ABORT":
		return second != "PREPARED"
	case "PREPARE":
		return second == "TRANSACTION"
	}
	return false
}

// transactionControl reports whether a statement may end its query's implicit
// transaction or start a block: BEGIN, COMMIT, ROLLBACK and the like, and CALL and DO,
// whose code may commit.
func transactionControl(st sqlStatement) bool {
	switch st.words[0] {
	case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE", "CALL", "DO":
		return true
	}
	return false
}

// onCommitDrop reports whether a statement's words hold ON COMMIT DROP: a temporary
// table that ends with its transaction.
func onCommitDrop(words []string) bool {
	for i := 0; i+2 < len(words); i++ {
		if words[i] == "ON" && words[i+1] == "COMMIT" && words[i+2] == "DROP" {
			return true
		}
	}
	return false
}

// inspectStatement reads a statement's first words.
func inspectStatement(q string) *stmtNote {
	s := strings.TrimSpace(stripComments(strings.TrimRight(q, "\x00")))
	s = strings.TrimRight(s, "; \t\r\n")
	word, rest := firstWord(s)
	switch word {
	case "SET":
		if strings.ContainsRune(rest, ';') {
			return &stmtNote{kind: noteDirty, what: "SET in a multi-statement query"}
		}
		w2, after := firstWord(rest)
		switch w2 {
		case "LOCAL", "TRANSACTION", "CONSTRAINTS":
			return nil // ends with the transaction
		case "SESSION":
			w3, _ := firstWord(after)
			if w3 == "CHARACTERISTICS" || w3 == "AUTHORIZATION" {
				return &stmtNote{kind: noteDirty, what: "SET SESSION " + w3}
			}
			w2, after = firstWord(after)
		case "ROLE":
			return &stmtNote{kind: noteDirty, what: "SET ROLE"}
		}
		name := settingName(w2, after)
		if name == "" {
			return nil
		}
		return &stmtNote{kind: noteSet, name: name, sql: s}
	case "RESET":
		w2, after := firstWord(rest)
		if w2 == "ALL" || w2 == "" {
			return &stmtNote{kind: noteReset}
		}
		return &stmtNote{kind: noteReset, name: settingName(w2, after)}
	case "DISCARD":
		if w2, _ := firstWord(rest); w2 == "ALL" {
			return &stmtNote{kind: noteDiscardAll}
		}
	case "DEALLOCATE":
		w2, after := firstWord(rest)
		if w2 == "PREPARE" {
			w2, _ = firstWord(after)
		}
		if w2 == "ALL" {
			return &stmtNote{kind: noteDeallocateAll}
		}
	case "PREPARE", "LISTEN", "LOAD":
		return &stmtNote{kind: noteDirty, what: word}
	}
	return nil
}

// settingName returns the parameter a SET or RESET changes, from the word after SET
// (upper-cased, as firstWord returns it) and the text after that word: the word up to
// any '=', unquoted, or the parameter behind SQL's own forms (SET TIME ZONE is
// timezone). The name is what RESET takes, so it must be PostgreSQL's.
func settingName(word, rest string) string {
	next, _ := firstWord(rest)
	switch {
	case word == "TIME" && next == "ZONE":
		return "timezone"
	case word == "NAMES":
		return "client_encoding"
	case word == "SCHEMA":
		return "search_path"
	case word == "XML" && next == "OPTION":
		return "xmloption"
	}
	word, _, _ = strings.Cut(word, "=")
	return strings.ToLower(strings.Trim(strings.TrimRight(word, ";"), `"`))
}

// firstWord splits the first whitespace-delimited word, upper-cased, off s.
func firstWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t\r\n")
	i := strings.IndexAny(s, " \t\r\n")
	if i < 0 {
		return strings.ToUpper(s), ""
	}
	return strings.ToUpper(s[:i]), s[i:]
}

// stripComments removes leading -- and /* */ comments; block comments nest, as in
// PostgreSQL.
func stripComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			s = s[skipBlockComment(s, 0):]
		default:
			return s
		}
	}
}
