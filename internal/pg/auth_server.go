package pg

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
)

// Authentication request codes (the int32 after 'R').
const (
	authOK                = 0
	authCleartextPassword = 3
	authMD5Password       = 5
	authSASL              = 10
	authSASLContinue      = 11
	authSASLFinal         = 12
)

// serverAuth answers the authentication requests of a PostgreSQL server during startup.
type serverAuth struct {
	user, password string
	// cleartextOK allows sending the password in clear text; the dialer sets it only
	// over TLS or when the configuration explicitly allows it.
	cleartextOK bool
	scram       *scram.ClientConversation
}

// respond returns the message to send for one authentication request, nil when there
// is nothing to send (AuthenticationOk, SASLFinal).
func (a *serverAuth) respond(body []byte) ([]byte, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("authentication request too short")
	}
	code := binary.BigEndian.Uint32(body)
	switch code {
	case authOK:
		return nil, nil
	case authCleartextPassword:
		if !a.cleartextOK {
			return nil, fmt.Errorf("server asks for a cleartext password over an unencrypted connection; use sslmode=require or set server_cleartext_password")
		}
		return (&pgproto3.PasswordMessage{Password: a.password}).Encode(nil)
	case authMD5Password:
		if len(body) < 8 {
			return nil, fmt.Errorf("md5 authentication request too short")
		}
		return (&pgproto3.PasswordMessage{Password: md5Password(a.user, a.password, body[4:8])}).Encode(nil)
	case authSASL:
		var m pgproto3.AuthenticationSASL
		if err := m.Decode(body); err != nil {
			return nil, err
		}
		if !slices.Contains(m.AuthMechanisms, "SCRAM-SHA-256") {
			return nil, fmt.Errorf("server offers no supported SASL mechanism (%v)", m.AuthMechanisms)
		}
		// PostgreSQL ignores the SCRAM user name and uses the startup user.
		client, err := scram.SHA256.NewClient("", a.password, "")
		if err != nil {
			return nil, fmt.Errorf("scram: %w", err)
		}
		a.scram = client.NewConversation()
		first, err := a.scram.Step("")
		if err != nil {
			return nil, fmt.Errorf("scram: %w", err)
		}
		return (&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte(first)}).Encode(nil)
	case authSASLContinue:
		if a.scram == nil {
			return nil, fmt.Errorf("unexpected SASLContinue")
		}
		final, err := a.scram.Step(string(body[4:]))
		if err != nil {
			return nil, fmt.Errorf("scram: %w", err)
		}
		return (&pgproto3.SASLResponse{Data: []byte(final)}).Encode(nil)
	case authSASLFinal:
		if a.scram == nil {
			return nil, fmt.Errorf("unexpected SASLFinal")
		}
		if _, err := a.scram.Step(string(body[4:])); err != nil || !a.scram.Valid() {
			return nil, fmt.Errorf("scram: the server's signature is invalid")
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("unsupported authentication method %d requested by the server", code)
	}
}

// md5Password computes PostgreSQL's md5 password response: "md5" + md5(md5(password +
// user) + salt).
func md5Password(user, password string, salt []byte) string {
	return md5Salted(md5Secret(user, password), salt)
}

// md5Secret is what pg_authid stores for an md5 password: "md5" + md5(password + user).
func md5Secret(user, password string) string {
	h := md5.Sum([]byte(password + user))
	return "md5" + hex.EncodeToString(h[:])
}

// md5Salted hashes a stored md5 secret with a salt, as the client's response.
func md5Salted(secret string, salt []byte) string {
	h := md5.Sum(append([]byte(secret[3:]), salt...))
	return "md5" + hex.EncodeToString(h[:])
}
