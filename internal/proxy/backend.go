package proxy

// Backend is one server connection held in a pool. Protocol adapters implement it.
type Backend interface {
	// Usable reports whether the connection may be handed out again: open, in sync,
	// and not failed. It must be cheap; pools call it on every acquire.
	Usable() bool
	// Close closes the connection. Pools call it once; it must not block for long.
	Close() error
}
