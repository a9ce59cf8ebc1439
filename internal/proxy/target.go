package proxy

import "crypto/tls"

// Target says how to reach and log in to a backend: what a pool's dial function
// needs. Protocol adapters interpret it.
type Target struct {
	// Addresses are host:port pairs tried in order until one accepts.
	Addresses []string
	// TLS, when set, is used to encrypt the connection. TLSRequired fails the dial
	// when the server refuses; otherwise a refusal falls back to plaintext.
	TLS         *tls.Config
	TLSRequired bool
	User        string
	Password    string
	Database    string
	// Params are session settings applied at login (application_name,
	// statement_timeout, …), in the protocol's own terms.
	Params map[string]string
	// AllowCleartext lets the adapter send a clear-text password over an unencrypted
	// connection when the server asks for one.
	AllowCleartext bool
}
