package pg

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// order returns the lru's ids, most recently used first.
func (l *lru) order() []uint64 {
	l.init()
	var ids []uint64
	for n := l.head.next; n != &l.head; n = n.next {
		ids = append(ids, n.id)
	}
	return ids
}

func TestLRU(t *testing.T) {
	t.Parallel()
	t.Run("the zero lru is empty and unbounded", func(t *testing.T) {
		var l lru
		assert.False(t, l.has(1))
		for id := uint64(1); id <= 1000; id++ {
			assert.Zero(t, l.add(id))
		}
		assert.Equal(t, 1000, l.len())
	})
	t.Run("beyond the limit the least recently used is evicted", func(t *testing.T) {
		l := lru{limit: 3}
		assert.Zero(t, l.add(1))
		assert.Zero(t, l.add(2))
		assert.Zero(t, l.add(3))
		assert.Equal(t, []uint64{3, 2, 1}, l.order())
		assert.Equal(t, uint64(1), l.add(4))
		assert.Equal(t, []uint64{4, 3, 2}, l.order())
		assert.False(t, l.has(1))
	})
	t.Run("has and a repeated add mark a statement used", func(t *testing.T) {
		l := lru{limit: 3}
		l.add(1)
		l.add(2)
		l.add(3)
		assert.True(t, l.has(1))
		assert.Zero(t, l.add(2), "adding a present id evicts nothing")
		assert.Equal(t, []uint64{2, 1, 3}, l.order())
		assert.Equal(t, uint64(3), l.add(4))
	})
	t.Run("remove and clear forget", func(t *testing.T) {
		l := lru{limit: 2}
		l.add(1)
		l.add(2)
		l.remove(1)
		l.remove(42)
		assert.Equal(t, []uint64{2}, l.order())
		assert.Zero(t, l.add(3), "removal made room")
		l.clear()
		assert.Zero(t, l.len())
		assert.Empty(t, l.order())
		assert.Zero(t, l.add(1))
		assert.Equal(t, 2, l.limit, "clear keeps the limit")
	})
	t.Run("a limit of one keeps the last", func(t *testing.T) {
		l := lru{limit: 1}
		for id := uint64(1); id < 5; id++ {
			assert.Equal(t, id-1, l.add(id))
		}
		assert.Equal(t, []uint64{4}, l.order())
	})
}

// TestLRUModel checks the lru against a plain slice on a long pseudo-random sequence.
func TestLRUModel(t *testing.T) {
	t.Parallel()
	l := lru{limit: 5}
	var model []uint64 // most recent first
	seed := uint64(1)
	for i := range 5000 {
		seed = seed*6364136223846793005 + 1442695040888963407
		id := seed>>60 + 1
		switch seed >> 58 % 3 {
		case 0:
			got := l.has(id)
			j := slices.Index(model, id)
			require.Equal(t, j >= 0, got, "step %d has(%d)", i, id)
			if j >= 0 {
				model = append([]uint64{id}, slices.Delete(model, j, j+1)...)
			}
		case 1:
			evict := l.add(id)
			var want uint64
			if j := slices.Index(model, id); j >= 0 {
				model = slices.Delete(model, j, j+1)
			}
			model = append([]uint64{id}, model...)
			if len(model) > 5 {
				want, model = model[5], model[:5]
			}
			require.Equal(t, want, evict, "step %d add(%d)", i, id)
		case 2:
			l.remove(id)
			if j := slices.Index(model, id); j >= 0 {
				model = slices.Delete(model, j, j+1)
			}
		}
		require.Equal(t, model, l.order(), "step %d", i)
	}
}

func TestStatements(t *testing.T) {
	t.Parallel()
	var s statements
	a := s.lookup([]byte("SELECT 1"), []byte{0, 0})
	b := s.lookup([]byte("SELECT 1"), []byte{0, 0})
	c := s.lookup([]byte("SELECT 1"), []byte{0, 1, 0, 0, 0, 23})
	d := s.lookup([]byte("SELECT 2"), []byte{0, 0})
	assert.Same(t, a, b, "the same text and types are one statement")
	assert.NotEqual(t, a.id, c.id, "parameter types tell statements apart")
	assert.NotEqual(t, a.id, d.id)
	assert.Equal(t, "mp_1", string(serverName(nil, a.id)))
	t.Run("text and types cannot run into each other", func(t *testing.T) {
		x := s.lookup([]byte("A\x00B"), []byte{})
		y := s.lookup([]byte("A"), []byte("B"))
		assert.NotEqual(t, x.id, y.id)
	})
}

func TestStatementsStartOverWhenFull(t *testing.T) {
	t.Parallel()
	var s statements
	first := s.lookup([]byte("q0"), nil)
	for i := 1; i < maxStatements; i++ {
		s.lookup(fmt.Appendf(nil, "q%d", i), nil)
	}
	assert.Same(t, first, s.lookup([]byte("q0"), nil), "still known while not full")
	again := s.lookup([]byte("new"), nil)
	assert.Equal(t, uint64(maxStatements+1), again.id)
	renamed := s.lookup([]byte("q0"), nil)
	assert.Greater(t, renamed.id, uint64(maxStatements), "a forgotten statement gets a new name, never an old one")
}
