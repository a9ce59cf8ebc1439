package proxy

import (
	"errors"
	"fmt"

	"github.com/motorpool/motorpool/pool"
)

// Routing refusals. Adapters turn them into the client protocol's errors.
var (
	// ErrUnknownDatabase: no configured database has the name the client asked for.
	ErrUnknownDatabase = errors.New("unknown database")
	// ErrTooManyClients: max_client_connections is reached.
	ErrTooManyClients = errors.New("too many client connections")
	// ErrShuttingDown: the proxy is draining and takes no new sessions.
	ErrShuttingDown = errors.New("shutting down")
	// ErrNotAdmin: a user who is not in admin.users asked for the admin console.
	ErrNotAdmin = errors.New("not an admin user")
	// ErrDatabaseDisabled: the admin console's DISABLE refuses new clients of
	// the database until ENABLE.
	ErrDatabaseDisabled = errors.New("database disabled")
)

// OperatorError is implemented by an error that ended a client for a reason the
// operator must fix, not the client (an auth_query lookup that fails: a wrong auth
// user password, a broken query). The proxy logs it as a warning; other ends of
// clients are logged at debug level.
type OperatorError interface {
	error
	OperatorError()
}

// AcquireError says why a client got no server connection: its pool was exhausted,
// the database was unreachable, or the pool closed.
type AcquireError struct {
	Pool string // the pool's name
	pool.AcquireError
}

func (e *AcquireError) Error() string {
	switch e.Reason {
	case pool.FailExhausted:
		if e.Active < e.Max {
			// Not all of the pool was in use: the rest was still being opened.
			return fmt.Sprintf("pool %q: no server connection within %v: %d/%d in use and the others still being opened or checked (the database is slow to accept connections, or pool_timeout is shorter than connect_timeout)",
				e.Pool, e.Waited.Round(msRound), e.Active, e.Max)
		}
		return fmt.Sprintf("pool %q exhausted: %d/%d server %s in use and %d %s waiting; waited %v (raise connection_limit or pool_timeout)",
			e.Pool, e.Active, e.Max, plural(e.Max, "connection", "connections"), e.Waiting, plural(e.Waiting, "client", "clients"), e.Waited.Round(msRound))
	case pool.FailUnreachable:
		return fmt.Sprintf("database of pool %q unreachable after %v: %v", e.Pool, e.Waited.Round(msRound), e.Err)
	case pool.FailClosed:
		return fmt.Sprintf("pool %q is closed", e.Pool)
	}
	return fmt.Sprintf("pool %q: gave up waiting after %v: %v", e.Pool, e.Waited.Round(msRound), e.Err)
}

func (e *AcquireError) Unwrap() error { return &e.AcquireError }

// Unreachable reports whether the database could not be reached.
func (e *AcquireError) Unreachable() bool { return e.Reason == pool.FailUnreachable }

// Closed reports whether the pool was closed.
func (e *AcquireError) Closed() bool { return e.Reason == pool.FailClosed }

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
