package pg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
	"github.com/motorpool/motorpool/internal/proxy"
)

// TestLateCancelLeavesItsClientsStateAlone: a cancel that reaches the server only
// after the query ended keeps the server connection out of the pool until it is
// delivered (see cancelServer). Its client does not hold that connection any more and
// goes on with another; when the first is finally released, the client is still
// active in its transaction: SHOW CLIENTS says so, and a drain lets the transaction
// finish instead of cutting the client off as an idle one.
func TestLateCancelLeavesItsClientsStateAlone(t *testing.T) {
	t.Parallel()
	running, delivered := make(chan struct{}), make(chan struct{})
	committed := &pgproto3.CommandComplete{CommandTag: []byte("COMMIT")}
	e := scripted(t, envOptions{limit: 2}, pgtest.Script{
		pgtest.Login(nil),
		pgtest.ExpectQuery("SELECT pg_sleep(1)"), signal(running),
		pgtest.WaitCancel(hangTimeout),
		pgtest.Send(select1, readyI), // the query ended before the cancel took effect
	}, pgtest.Script{
		pgtest.Login(nil),
		pgtest.ExpectQuery("BEGIN"), pgtest.Send(begun, readyT),
		pgtest.ExpectQuery("COMMIT"), pgtest.Send(committed, readyI),
	})
	e.srv.HoldCancels(delivered)
	a := e.connect()
	a.send(&pgproto3.Query{String: "SELECT pg_sleep(1)"})
	wait(t, running)
	sendCancelTo(t, e.addr, keyBody(a.key))
	assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.untilReady()))
	awaitState(t, e, proxy.StateIdle) // between transactions, while its cancel is still on its way
	assert.Equal(t, 1, e.pool().Core().Stats().Active, "the server connection waits for the cancel")
	assert.Equal(t, "CommandComplete ReadyForQuery(T)", types(a.query("BEGIN")), "on a second server connection")
	close(delivered)
	e.awaitIdle(1) // the first one is back in the pool

	clients := e.px.Clients()
	require.Len(t, clients, 1)
	assert.Equal(t, proxy.StateActive, clients[0].State, "the client holds a server connection inside its transaction")
	drained := make(chan error, 1)
	go func() { drained <- e.px.Shutdown(context.Background()) }()
	assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(a.query("COMMIT")), "the drain lets the transaction finish")
	assert.Equal(t, "ErrorResponse(57P01)", types(a.untilEOF()), "then ends the client")
	assert.NoError(t, <-drained)
}

// awaitState waits until the env's only client is in state want.
func awaitState(t *testing.T, e *env, want proxy.ClientState) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for {
		cs := e.px.Clients()
		if len(cs) == 1 && cs[0].State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client is not %s: %+v", want, cs)
		}
		time.Sleep(time.Millisecond)
	}
}
