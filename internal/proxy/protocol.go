package proxy

import "context"

// Protocol is a wire protocol adapter: it speaks one database protocol on both sides
// of the proxy.
//
// Serve is called on its own goroutine for each accepted client connection and runs
// until the client leaves; many run at once. It must return promptly once ctx is done
// (the proxy also closes the client's connection then). Serve routes the client with
// [Client.Route], opens its [Session] and calls the session's methods from that
// goroutine, except Release and Destroy, which it may call from any goroutine (a
// server connection's reader). Dial is called by pools, on pool goroutines.
type Protocol interface {
	// Name is the protocol's name in logs and metrics: "postgres", "mysql", "mongodb".
	Name() string
	// Dial opens and authenticates a server connection to t.
	Dial(ctx context.Context, t *Target) (Backend, error)
	// Serve speaks with one client from its first byte to its last. The error, if
	// any, is for the log: the adapter has already told the client what it should
	// know.
	Serve(ctx context.Context, c *Client) error
}
