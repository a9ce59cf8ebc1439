package pg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueue(t *testing.T) {
	t.Parallel()
	t.Run("the zero queue is empty", func(t *testing.T) {
		var q queue
		_, ok := q.front()
		assert.False(t, ok)
		assert.Zero(t, q.len())
	})
	t.Run("growth keeps order while the ring is wrapped", func(t *testing.T) {
		var q queue
		next, want := 0, 0
		push := func(n int) {
			for range n {
				next++
				q.push(expectation{sent: int64(next)})
			}
		}
		pop := func(n int) {
			for range n {
				e, ok := q.front()
				require.True(t, ok)
				want++
				require.Equal(t, int64(want), e.sent)
				q.pop()
			}
		}
		push(10)
		pop(7) // head is now 7 in a ring of 16
		push(13)
		assert.Equal(t, 16, q.len())
		assert.Len(t, q.buf, 16, "full but not grown")
		assert.NotZero(t, q.head, "wrapped")
		push(1) // grows while wrapped
		assert.Len(t, q.buf, 32)
		var seen []int64
		q.each(func(e expectation) { seen = append(seen, e.sent) })
		for i, s := range seen {
			assert.Equal(t, int64(want+1+i), s)
		}
		pop(17)
		assert.Zero(t, q.len())
	})
	t.Run("reset empties without shrinking", func(t *testing.T) {
		var q queue
		for range 40 {
			q.push(expectation{kind: expectSync})
		}
		q.reset()
		assert.Zero(t, q.len())
		assert.Len(t, q.buf, 64)
		q.push(expectation{kind: expectQuery})
		e, _ := q.front()
		assert.Equal(t, expectQuery, e.kind)
	})
}

func TestQueueUnsynced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pushes []expectKind
		pops   int
		want   bool
	}{
		{name: "nothing sent", want: false},
		{name: "a batch ended by Sync", pushes: []expectKind{expectParse, expectBind, expectExecute, expectSync}, want: false},
		{name: "a batch without Sync", pushes: []expectKind{expectParse, expectBind, expectExecute}, want: true},
		{name: "a batch without Sync, all answered", pushes: []expectKind{expectBind, expectExecute}, pops: 2, want: true},
		{name: "a simple query", pushes: []expectKind{expectQuery}, want: false},
		{name: "a Close answered by motorpool after Sync", pushes: []expectKind{expectSync, expectSynthetic}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q queue
			for _, k := range tt.pushes {
				q.push(expectation{kind: k})
			}
			for range tt.pops {
				q.pop()
			}
			assert.Equal(t, tt.want, q.unsynced())
			q.reset()
			assert.False(t, q.unsynced(), "after reset")
		})
	}
}

// TestQueueSteadyStateAllocatesNothing: pushes and pops within the ring's size
// reuse it.
func TestQueueSteadyStateAllocatesNothing(t *testing.T) {
	var q queue
	q.push(expectation{})
	q.pop()
	n := testing.AllocsPerRun(100, func() {
		for range 10 {
			q.push(expectation{kind: expectBind})
		}
		for range 10 {
			q.pop()
		}
	})
	assert.Zero(t, n)
}

func TestExpectKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  expectKind
		ends  []byte // server messages that complete it
		ready bool
	}{
		{expectParse, []byte{msgParseComplete}, false},
		{expectBind, []byte{msgBindComplete}, false},
		{expectClose, []byte{msgCloseComplete}, false},
		{expectDescribeStmt, []byte{msgRowDescription, msgNoData}, false},
		{expectDescribePortal, []byte{msgRowDescription, msgNoData}, false},
		{expectExecute, []byte{msgCommandComplete, msgEmptyQueryResponse, msgPortalSuspended}, false},
		{expectSync, nil, true},
		{expectQuery, nil, true},
		{expectSynthetic, nil, false},
	}
	all := []byte("123CDEHIGNASTVZdnstv")
	for _, tt := range tests {
		assert.Equal(t, tt.ready, tt.kind.endsAtReady(), "kind %d", tt.kind)
		for _, typ := range all {
			want := false
			for _, e := range tt.ends {
				want = want || e == typ
			}
			assert.Equal(t, want, tt.kind.completes(typ), "kind %d completed by %q", tt.kind, typ)
		}
	}
}
