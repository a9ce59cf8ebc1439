package pg

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueryAfterAnErrorInAPipelineIsSkipped: PostgreSQL skips a simple Query that
// arrives while it discards messages up to Sync; it answers only the Sync. The
// connection must stay in step: the next statement works.
func TestQueryAfterAnErrorInAPipelineIsSkipped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{limit: 1}, respondLogin)
	c := e.connect()
	c.send(
		&pgproto3.Parse{Query: "SELECT FAIL"},
		&pgproto3.Query{String: "SELECT 1"},
		&pgproto3.Sync{},
	)
	assert.Equal(t, "ErrorResponse(42601) ReadyForQuery(I)", types(c.untilReady()))
	assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.query("SELECT 2")), "the server connection is in step")
}

// TestUnknownMessageTypeWhileSkippingToSync: PostgreSQL checks every message's type,
// even those it discards after an error; an unknown one is FATAL 08P01, since message
// boundaries can no longer be trusted.
func TestUnknownMessageTypeWhileSkippingToSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{limit: 1}, respondLogin)
	for _, size := range []int{16, 3 * clientBufSize} { // read whole, streamed
		c := e.connect()
		b := encode(&pgproto3.Describe{ObjectType: 'S', Name: "nope"})
		b = appendMsg(b, msgPassword, make([]byte, size))
		require.NoError(t, c.sendRaw(b))
		msgs := c.untilEOF()
		assert.Equal(t, "ErrorResponse(26000) ErrorResponse(08P01)", types(msgs), "%d bytes", size)
	}
}
