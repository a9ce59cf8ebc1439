// Package pg is motorpool's PostgreSQL protocol adapter.
//
// It speaks the PostgreSQL frontend/backend protocol version 3 on both sides of the
// proxy: it accepts and authenticates clients (SSLRequest, GSSENCRequest,
// StartupMessage, CancelRequest, SCRAM-SHA-256, MD5, trust), dials and authenticates
// server connections, and relays messages between them.
//
// The relay forwards raw bytes once message lengths are parsed; it decodes only the
// messages it must act on (ReadyForQuery for transaction boundaries, ParameterStatus,
// ErrorResponse, and the extended-protocol messages of named prepared statements).
// Memory is bounded: messages larger than the relay buffer are streamed through.
//
// Each server connection owns one goroutine, its pump, that reads everything the
// server sends and hands it to whichever client is bound at that moment. The client's
// own goroutine reads the client and writes to the server. Pool modes (when to bind and
// release a server connection) are decided by the proxy through the [Session]
// interface; this package only reports where transactions end.
//
// Protocol reference: https://www.postgresql.org/docs/current/protocol-flow.html
package pg
