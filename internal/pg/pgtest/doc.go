// Package pgtest is a scripted fake PostgreSQL server for protocol tests, in the
// spirit of pgx's internal/pgmock: a [Server] listens on loopback, reads each
// connection's startup packet, records CancelRequests, and hands every other
// connection to the test's handler, which plays a [Script] of [Step]s: expect a
// message, send messages or raw bytes, close. [Respond] is a small PostgreSQL
// stand-in that answers whatever it is sent, for tests that need a server but do not
// care what it says.
//
// It works at the wire: messages are framed by hand ([Message]) so that a script can
// receive or send bytes pgproto3 would refuse to decode or encode.
package pgtest
