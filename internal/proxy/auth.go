package proxy

import "context"

// AuthMethod is how a client proves who it is.
type AuthMethod uint8

const (
	// AuthSCRAM is SCRAM-SHA-256 (the default).
	AuthSCRAM AuthMethod = iota
	// AuthMD5 is PostgreSQL's md5 challenge.
	AuthMD5
	// AuthTrust accepts the client without a password. Only when configured explicitly.
	AuthTrust
)

func (m AuthMethod) String() string {
	switch m {
	case AuthMD5:
		return "md5"
	case AuthTrust:
		return "trust"
	}
	return "scram-sha-256"
}

// Credentials are what motorpool knows of a user for client authentication. The zero
// value (with Method AuthSCRAM) describes an unknown user: authentication runs and
// fails, as PostgreSQL does, without revealing that the user does not exist.
type Credentials struct {
	Method AuthMethod
	// Password is the user's password in clear, when the configuration gives it.
	Password string
	// Secret is a stored verifier in PostgreSQL's pg_authid format
	// ("SCRAM-SHA-256$iterations:salt$storedkey:serverkey" or "md5<hex>").
	Secret string
	// Lookup, when set, fetches the stored verifier at login (auth_query). It returns ""
	// for an unknown user.
	Lookup func(ctx context.Context) (string, error)
}

// Known reports whether anything is known to check the user's password against.
func (c Credentials) Known() bool {
	return c.Password != "" || c.Secret != "" || c.Lookup != nil
}
