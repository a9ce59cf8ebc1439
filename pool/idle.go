package pool

// idleStack holds the idle connections, the most recently released on top.
// Acquire takes the top (LIFO), so a small working set stays warm and
// connections beyond it age out through IdleTimeout; shrinking and reaping
// take from the bottom, the least recently used. Protected by Pool.mu.
type idleStack[C any] struct {
	s []*entry[C]
}

func (st *idleStack[C]) len() int { return len(st.s) }

func (st *idleStack[C]) push(e *entry[C]) { st.s = append(st.s, e) }

// pop removes and returns the top, or nil.
func (st *idleStack[C]) pop() *entry[C] {
	n := len(st.s) - 1
	if n < 0 {
		return nil
	}
	e := st.s[n]
	st.s[n] = nil
	st.s = st.s[:n]
	return e
}

// popOldest removes and returns the bottom, or nil.
func (st *idleStack[C]) popOldest() *entry[C] {
	if len(st.s) == 0 {
		return nil
	}
	e := st.s[0]
	n := copy(st.s, st.s[1:])
	st.s[n] = nil
	st.s = st.s[:n]
	return e
}

// filter keeps, in order, the entries for which keep returns true, calling it
// from the bottom up.
func (st *idleStack[C]) filter(keep func(*entry[C]) bool) {
	kept := st.s[:0]
	for _, e := range st.s {
		if keep(e) {
			kept = append(kept, e)
		}
	}
	clear(st.s[len(kept):])
	st.s = kept
}
