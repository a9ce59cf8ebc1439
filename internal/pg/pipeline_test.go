package pg

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
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
