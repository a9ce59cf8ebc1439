package proxy

import "context"

// Backend is one server connection held in a pool. Protocol adapters implement it.
type Backend interface {
	// Usable reports whether the connection may be handed out again: open, in sync,
	// and not failed. It must be cheap; pools call it on every acquire.
	Usable() bool
	// Close closes the connection. Pools call it once; it must not block for long.
	Close() error
}

// ProcessIDer is implemented by a Backend whose server names the connection by a
// process ID (PostgreSQL's backend PID), which the admin listings show. The ID is
// fixed at login, so PID may be called while another goroutine holds the connection.
type ProcessIDer interface {
	PID() uint32
}

// Validator is implemented by a Backend that can check with a round trip that its
// server still answers. A pool runs it on a connection that has sat idle longer than
// validateIdleAfter before handing it out, bounded by validation_timeout; one that
// fails is closed and another used. A server that vanished without closing its
// sockets (a partition, a firewall dropping idle flows) is found there, not by the
// client's query.
type Validator interface {
	Validate(ctx context.Context) error
}
