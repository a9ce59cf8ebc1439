// Package proxy is motorpool's protocol-neutral front door.
//
// It owns the listeners, the client connections, the pools of server connections and
// the pool modes; protocol adapters (internal/pg, later MySQL and MongoDB) implement
// [Protocol] and speak the wire protocol on both sides. An adapter asks its client's
// [Session] for a server connection when the client needs one and reports where each
// unit of work ends; the session decides by the pool mode whether the server
// connection goes back to its pool:
//
//   - transaction (default): bound at the first message of a transaction, released
//     when the server is idle outside a transaction;
//   - session: bound for the client's whole life, reset and released when it leaves;
//   - statement: like transaction, but a transaction block is an error.
//
// Once a second the proxy also sizes its pools from their load, by the configuration's
// scaling rules and forecast (package scale), and records each decision with its
// reason ([Proxy.ScalingEvents]); see scaling.go.
package proxy
