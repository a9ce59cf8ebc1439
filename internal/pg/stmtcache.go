package pg

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// statements names the distinct prepared statements (query text and parameter types)
// motorpool has seen, so that clients preparing the same statement share it on a
// server connection under one server-side name.
type statements struct {
	mu   sync.Mutex
	ids  map[string]*stmtInfo // query + "\x00" + raw parameter types
	next uint64
}

// stmtInfo is one distinct statement.
type stmtInfo struct {
	id  uint64
	key string // in statements.ids
	// valid is set once a server has prepared the statement: a client's Parse of it
	// can then be answered without a server connection.
	valid atomic.Bool
	// effect is what executing the statement does to session state (see
	// inspectQuery), nil for most; a template, copied for each execution.
	effect *stmtNote
}

// maxStatements bounds the registry; when it is full it starts over (IDs keep
// increasing, so a forgotten statement simply gets a new name).
const maxStatements = 100_000

// lookup returns a statement, registering it if new.
func (s *statements) lookup(query, types []byte) *stmtInfo {
	key := make([]byte, 0, len(query)+1+len(types))
	key = append(append(append(key, query...), 0), types...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.ids[string(key)]; ok {
		return st
	}
	if s.ids == nil || len(s.ids) >= maxStatements {
		s.ids = make(map[string]*stmtInfo)
	}
	s.next++
	k := string(key)
	st := &stmtInfo{id: s.next, key: k, effect: inspectQuery(query)}
	s.ids[k] = st
	return st
}

// retire forgets st, whose plan a server refused: the next Parse of its text gets a
// new statement, with a new server-side name. Clients that hold st keep it.
func (s *statements) retire(st *stmtInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids[st.key] == st {
		delete(s.ids, st.key)
	}
}

// forgetAll forgets every statement, after a change to the schema: a statement a
// client prepares from now on is planned afresh, as it would be directly, instead of
// sharing one planned before the change (with its parameter types and result columns).
// Clients that hold a statement keep it, as its server-side name stays valid.
func (s *statements) forgetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.ids)
}

// serverName is the name a statement has on server connections.
func serverName(dst []byte, id uint64) []byte {
	return strconv.AppendUint(append(dst, "mp_"...), id, 10)
}

// clientStmt is a named prepared statement of one client.
type clientStmt struct {
	*stmtInfo
	query []byte // without its NUL
	types []byte // the parameter type count and OIDs, as in Parse
}

// lru is the set of statements prepared on one server connection, least recently used
// first out. Its zero value is empty; capacity is set by the adapter.
type lru struct {
	pos   map[uint64]*lruNode
	head  lruNode // sentinel: head.next is the most recently used
	limit int
}

type lruNode struct {
	id         uint64
	prev, next *lruNode
}

func (l *lru) init() {
	if l.pos == nil {
		l.pos = make(map[uint64]*lruNode)
		l.head.next, l.head.prev = &l.head, &l.head
	}
}

// has reports whether id is prepared, and marks it used.
func (l *lru) has(id uint64) bool {
	l.init()
	n, ok := l.pos[id]
	if ok {
		l.unlink(n)
		l.pushFront(n)
	}
	return ok
}

// add records id as prepared and returns a statement to close to stay within the
// limit, or 0.
func (l *lru) add(id uint64) (evict uint64) {
	l.init()
	if n, ok := l.pos[id]; ok {
		l.unlink(n)
		l.pushFront(n)
		return 0
	}
	n := &lruNode{id: id}
	l.pos[id] = n
	l.pushFront(n)
	if l.limit > 0 && len(l.pos) > l.limit {
		old := l.head.prev
		l.unlink(old)
		delete(l.pos, old.id)
		return old.id
	}
	return 0
}

// restore records id as prepared again, as the least recently used, when its eviction
// did not happen after all. It does not evict: the set is back to its size before the
// add that evicted id once that add is undone too.
func (l *lru) restore(id uint64) {
	l.init()
	if _, ok := l.pos[id]; ok {
		return
	}
	n := &lruNode{id: id, prev: l.head.prev, next: &l.head}
	l.head.prev.next = n
	l.head.prev = n
	l.pos[id] = n
}

// remove forgets id.
func (l *lru) remove(id uint64) {
	l.init()
	if n, ok := l.pos[id]; ok {
		l.unlink(n)
		delete(l.pos, id)
	}
}

// clear forgets everything (after DISCARD ALL or DEALLOCATE ALL).
func (l *lru) clear() {
	l.pos = nil
	l.init()
}

func (l *lru) len() int { return len(l.pos) }

func (l *lru) unlink(n *lruNode) { n.prev.next, n.next.prev = n.next, n.prev }

func (l *lru) pushFront(n *lruNode) {
	n.prev, n.next = &l.head, l.head.next
	l.head.next.prev = n
	l.head.next = n
}
