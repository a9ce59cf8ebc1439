package pg

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/motorpool/motorpool/internal/proxy"
)

// maxAuthMessageLen bounds messages read during authentication.
const maxAuthMessageLen = 16 << 10

// authenticate runs the client's authentication exchange for user with creds, ending
// with AuthenticationOk. A failure returns the error to send (28P01, 28000).
func (r *relay) authenticate(ctx context.Context, user string, creds proxy.Credentials) error {
	switch creds.Method {
	case proxy.AuthTrust:
		return nil
	case proxy.AuthMD5:
		if creds.Password == "" {
			s, err := secret(ctx, creds)
			if err != nil {
				return err
			}
			if _, ok := parseSCRAMSecret(s); ok {
				// A SCRAM verifier cannot check an MD5 answer: as PostgreSQL and
				// PgBouncer, use SCRAM for this user even though md5 is configured
				// (auth_query returns SCRAM verifiers from PostgreSQL 14 on).
				return r.authSCRAM(ctx, user, proxy.Credentials{Secret: s})
			}
			creds.Secret, creds.Lookup = s, nil // looked up once
		}
		return r.authMD5(ctx, user, creds)
	}
	return r.authSCRAM(ctx, user, creds)
}

func passwordFailed(user string) *Error {
	return Fatalf(CodeInvalidPassword, "password authentication failed for user %q", user)
}

// secret returns the stored verifier for the user, looking it up if need be.
func secret(ctx context.Context, creds proxy.Credentials) (string, error) {
	if creds.Secret != "" || creds.Lookup == nil {
		return creds.Secret, nil
	}
	s, err := creds.Lookup(ctx)
	if err != nil {
		return "", &lookupFailed{cause: err}
	}
	return s, nil
}

// lookupFailed is a failed lookup of a user's verifier (auth_query). The client, who
// has proved nothing yet, is told only that the lookup failed (As); the log gets the
// cause (Error). It does not unwrap, so that an error PostgreSQL sent the lookup
// (naming the auth user, the query's functions, the server's source files; not FATAL)
// is not relayed to the client as a server's errors are.
type lookupFailed struct{ cause error }

func (e *lookupFailed) Error() string { return e.client().Error() + ": " + e.cause.Error() }

// OperatorError makes the proxy log the failure as a warning: the operator must fix
// the lookup, and the client cannot.
func (e *lookupFailed) OperatorError() {}

var _ proxy.OperatorError = (*lookupFailed)(nil)

func (e *lookupFailed) client() *Error {
	return Fatalf(CodeInvalidAuthorization, "authentication lookup failed")
}

// As makes the error the client sees, for errors.As.
func (e *lookupFailed) As(target any) bool {
	if p, ok := target.(**Error); ok {
		*p = e.client()
		return true
	}
	return false
}

func (r *relay) authMD5(ctx context.Context, user string, creds proxy.Credentials) error {
	var salt [4]byte
	rand.Read(salt[:])
	r.write(appendMsg(nil, msgAuthentication, append(binary.BigEndian.AppendUint32(nil, authMD5Password), salt[:]...)))
	msg, err := r.readAuth(msgPassword)
	if err != nil {
		return err
	}
	var pm pgproto3.PasswordMessage
	if err := pm.Decode(msg[headerLen:]); err != nil {
		return Fatalf(CodeProtocolViolation, "invalid password packet")
	}
	stored := md5Secret(user, creds.Password)
	if creds.Password == "" {
		s, err := secret(ctx, creds)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(s, "md5") || len(s) != 35 {
			return passwordFailed(user) // unknown user
		}
		stored = s
	}
	if !hmac.Equal([]byte(md5Salted(stored, salt[:])), []byte(pm.Password)) {
		return passwordFailed(user)
	}
	return nil
}

func (r *relay) authSCRAM(ctx context.Context, user string, creds proxy.Credentials) error {
	stored, known, err := r.a.verifier(ctx, user, creds)
	if err != nil {
		return err
	}
	srv, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return stored, nil })
	if err != nil {
		return err
	}
	cb := r.channelBinding()
	mechs := "SCRAM-SHA-256\x00\x00"
	if cb.IsSupported() {
		mechs = "SCRAM-SHA-256-PLUS\x00" + mechs // as PostgreSQL over TLS
	}
	r.write(appendMsg(nil, msgAuthentication, append(binary.BigEndian.AppendUint32(nil, authSASL), mechs...)))

	msg, err := r.readAuth(msgPassword)
	if err != nil {
		return err
	}
	var first pgproto3.SASLInitialResponse
	if err := first.Decode(msg[headerLen:]); err != nil {
		return Fatalf(CodeProtocolViolation, "expected SASL response with mechanism SCRAM-SHA-256")
	}
	plus := first.AuthMechanism == "SCRAM-SHA-256-PLUS" && cb.IsSupported()
	if first.AuthMechanism != "SCRAM-SHA-256" && !plus {
		return Fatalf(CodeProtocolViolation, "client selected an invalid SASL authentication mechanism")
	}
	if err := checkBindFlag(first.Data, plus, cb.IsSupported()); err != nil {
		return err
	}
	conv := srv.NewConversation()
	if plus {
		conv = srv.NewConversationWithChannelBinding(cb)
	}
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		return Fatalf(CodeProtocolViolation, "malformed SCRAM message: %v", err)
	}
	r.write(appendMsg(nil, msgAuthentication, append(binary.BigEndian.AppendUint32(nil, authSASLContinue), serverFirst...)))

	if msg, err = r.readAuth(msgPassword); err != nil {
		return err
	}
	serverFinal, err := conv.Step(string(msg[headerLen:]))
	if serverFinal == scram.ErrChannelBindingsDontMatch {
		return Fatalf(CodeInvalidAuthorization, "SCRAM channel binding check failed")
	}
	if err != nil || !conv.Valid() || !known {
		return passwordFailed(user)
	}
	r.write(appendMsg(nil, msgAuthentication, append(binary.BigEndian.AppendUint32(nil, authSASLFinal), serverFinal...)))
	return nil
}

// checkBindFlag checks the client's gs2 channel-binding flag (data's first byte)
// against the mechanism it chose, as PostgreSQL does: "p" only with
// SCRAM-SHA-256-PLUS, which needs it, and "y" (the client thinks the server cannot
// bind) refused when the server offered binding, since then PLUS was stripped on the
// way (a downgrade).
func checkBindFlag(data []byte, plus, offered bool) error {
	var flag byte
	if len(data) > 0 {
		flag = data[0]
	}
	switch {
	case flag == 'p' && !plus:
		e := Fatalf(CodeProtocolViolation, "malformed SCRAM message")
		e.Detail = "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data."
		return e
	case flag != 'p' && plus:
		e := Fatalf(CodeProtocolViolation, "malformed SCRAM message")
		e.Detail = "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data."
		return e
	case flag == 'y' && offered:
		e := Fatalf(CodeInvalidAuthorization, "SCRAM channel binding negotiation error")
		e.Detail = "The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding."
		return e
	}
	return nil
}

// readAuth reads one message during authentication, which must be of type want.
func (r *relay) readAuth(want byte) ([]byte, error) {
	for {
		h, ok, err := r.rd.peekHeader()
		if err != nil {
			return nil, Fatalf(CodeProtocolViolation, "invalid message length")
		}
		if ok {
			if h.typ != want {
				return nil, Fatalf(CodeProtocolViolation, "expected password response, got message type %d", h.typ)
			}
			if h.size > maxAuthMessageLen {
				return nil, Fatalf(CodeProtocolViolation, "invalid message length")
			}
			return r.rd.whole(h, maxAuthMessageLen)
		}
		if err := r.rd.fill(); err != nil {
			return nil, err
		}
	}
}

// verifier returns the SCRAM credentials to check user against, and whether they
// are real (false: a mock for an unknown user, which always fails).
func (a *Adapter) verifier(ctx context.Context, user string, creds proxy.Credentials) (scram.StoredCredentials, bool, error) {
	if creds.Password != "" {
		return scramFromPassword(user, creds.Password), true, nil
	}
	s, err := secret(ctx, creds)
	if err != nil {
		return scram.StoredCredentials{}, false, err
	}
	if sc, ok := parseSCRAMSecret(s); ok {
		return sc, true, nil
	}
	return mockVerifier(user), false, nil
}

// verifiers caches SCRAM credentials derived from clear-text passwords: deriving costs
// 4096 HMAC rounds.
var verifiers sync.Map // user + "\x00" + password -> scram.StoredCredentials

// scramFromPassword derives user's SCRAM credentials from a clear-text password. The
// salt is user's mock salt: the salt a client is shown does not change when the user
// is added to or removed from the configuration, and is not shared by users who have
// the same password.
func scramFromPassword(user, password string) scram.StoredCredentials {
	key := user + "\x00" + password
	if v, ok := verifiers.Load(key); ok {
		return v.(scram.StoredCredentials)
	}
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil { // SASLprep refused the password: derive from the raw bytes
		client, _ = scram.SHA256.NewClientUnprepped("", password, "")
	}
	sc := client.GetStoredCredentials(scram.KeyFactors{Salt: mockSalt(user), Iters: 4096})
	verifiers.Store(key, sc)
	return sc
}

// mockSecret is this process's secret behind the salts of mockVerifier, and random
// keys no proof matches.
var mockSecret = func() (m struct{ salt, storedKey, serverKey []byte }) {
	m.salt, m.storedKey, m.serverKey = make([]byte, 32), make([]byte, 32), make([]byte, 32)
	rand.Read(m.salt)
	rand.Read(m.storedKey)
	rand.Read(m.serverKey)
	return m
}()

// mockSalt is user's salt when it has no verifier of its own: the same for every
// login of user, different for another user, as PostgreSQL's scram_mock_salt, so that
// the salt, sent before any proof, does not tell unknown users from known ones.
func mockSalt(user string) string {
	h := hmac.New(sha256.New, mockSecret.salt)
	h.Write([]byte(user))
	return string(h.Sum(nil)[:16])
}

// mockVerifier is a verifier no password matches (no one knows a preimage of its
// StoredKey), so an unknown user goes through the same exchange as a known one.
func mockVerifier(user string) scram.StoredCredentials {
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: mockSalt(user), Iters: 4096},
		StoredKey:  mockSecret.storedKey,
		ServerKey:  mockSecret.serverKey,
	}
}

// parseSCRAMSecret parses PostgreSQL's stored SCRAM verifier:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
func parseSCRAMSecret(s string) (scram.StoredCredentials, bool) {
	rest, ok := strings.CutPrefix(s, "SCRAM-SHA-256$")
	if !ok {
		return scram.StoredCredentials{}, false
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return scram.StoredCredentials{}, false
	}
	iterStr, saltB64, ok := strings.Cut(iterSalt, ":")
	storedB64, serverB64, ok2 := strings.Cut(keys, ":")
	if !ok || !ok2 {
		return scram.StoredCredentials{}, false
	}
	iters, err := strconv.Atoi(iterStr)
	salt, err1 := base64.StdEncoding.DecodeString(saltB64)
	stored, err2 := base64.StdEncoding.DecodeString(storedB64)
	server, err3 := base64.StdEncoding.DecodeString(serverB64)
	if err != nil || err1 != nil || err2 != nil || err3 != nil || iters <= 0 || len(stored) != 32 || len(server) != 32 {
		return scram.StoredCredentials{}, false
	}
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: iters}, StoredKey: stored, ServerKey: server}, true
}

// SCRAMSecret renders a password as a stored SCRAM-SHA-256 verifier, for configuration
// files that should not hold clear-text passwords.
func SCRAMSecret(password string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	sc := client.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: 4096})
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", sc.Iters, b64(salt), b64(sc.StoredKey), b64(sc.ServerKey)), nil
}
