package pg

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xdg-go/scram"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
	"github.com/motorpool/motorpool/internal/proxy"
)

// Known MD5 values for user alice, password secret and salt 01 02 03 04, computed
// independently (Python hashlib): md5(password+user), then md5(that+salt).
const (
	aliceMD5Secret = "md54a0a68b43b6cd5cf266fa02f196e2371"
	aliceMD5Salted = "md598a0412b9c31436fc53776e863350083"
)

func TestMD5KnownValues(t *testing.T) {
	t.Parallel()
	assert.Equal(t, aliceMD5Secret, md5Secret("alice", "secret"))
	assert.Equal(t, aliceMD5Salted, md5Password("alice", "secret", []byte{1, 2, 3, 4}))
	assert.Equal(t, aliceMD5Salted, md5Salted(aliceMD5Secret, []byte{1, 2, 3, 4}))
}

func TestParseSCRAMSecret(t *testing.T) {
	t.Parallel()
	good, err := SCRAMSecret("secret")
	require.NoError(t, err)
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name   string
		secret string
		ok     bool
		iters  int
	}{
		{name: "a verifier SCRAMSecret made", secret: good, ok: true, iters: 4096},
		{name: "PostgreSQL's layout with other iterations", secret: "SCRAM-SHA-256$10000:c2FsdA==$" + key + ":" + key, ok: true, iters: 10000},
		{name: "an MD5 secret", secret: aliceMD5Secret},
		{name: "a clear-text password", secret: "secret"},
		{name: "empty", secret: ""},
		{name: "another mechanism", secret: "SCRAM-SHA-1$4096:c2FsdA==$" + key + ":" + key},
		{name: "no keys", secret: "SCRAM-SHA-256$4096:c2FsdA=="},
		{name: "no server key", secret: "SCRAM-SHA-256$4096:c2FsdA==$" + key},
		{name: "no salt", secret: "SCRAM-SHA-256$4096$" + key + ":" + key},
		{name: "zero iterations", secret: "SCRAM-SHA-256$0:c2FsdA==$" + key + ":" + key},
		{name: "negative iterations", secret: "SCRAM-SHA-256$-1:c2FsdA==$" + key + ":" + key},
		{name: "iterations not a number", secret: "SCRAM-SHA-256$x:c2FsdA==$" + key + ":" + key},
		{name: "salt not base64", secret: "SCRAM-SHA-256$4096:!!$" + key + ":" + key},
		{name: "short stored key", secret: "SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:" + key},
		{name: "short server key", secret: "SCRAM-SHA-256$4096:c2FsdA==$" + key + ":c2FsdA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, ok := parseSCRAMSecret(tt.secret)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.iters, sc.Iters)
				assert.Len(t, sc.StoredKey, 32)
				assert.Len(t, sc.ServerKey, 32)
			}
		})
	}
}

// FuzzSCRAMSecret parses arbitrary stored verifiers: no panic, and what is accepted
// has positive iterations and 32-byte keys and renders back to a verifier that parses
// the same.
func FuzzSCRAMSecret(f *testing.F) {
	good, _ := SCRAMSecret("secret")
	f.Add(good)
	f.Add("SCRAM-SHA-256$4096:c2FsdA==$a:b")
	f.Add("SCRAM-SHA-256$$:")
	f.Add(aliceMD5Secret)
	f.Fuzz(func(t *testing.T, s string) {
		sc, ok := parseSCRAMSecret(s)
		if !ok {
			return
		}
		if sc.Iters <= 0 || len(sc.StoredKey) != 32 || len(sc.ServerKey) != 32 {
			t.Fatalf("accepted %q: %+v", s, sc)
		}
		b64 := base64.StdEncoding.EncodeToString
		again, ok := parseSCRAMSecret(fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", sc.Iters, b64([]byte(sc.Salt)), b64(sc.StoredKey), b64(sc.ServerKey)))
		if !ok || again.Iters != sc.Iters || again.Salt != sc.Salt || string(again.StoredKey) != string(sc.StoredKey) || string(again.ServerKey) != string(sc.ServerKey) {
			t.Fatalf("round trip of %q: %+v", s, again)
		}
	})
}

// authConn runs the client side of authentication against relay.authenticate over an
// in-memory connection; the server side's result arrives on the channel.
type authConn struct {
	t    *testing.T
	conn net.Conn
	done chan error
}

func startAuth(t *testing.T, user string, creds proxy.Credentials) *authConn {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	deadline := time.Now().Add(hangTimeout)
	srv.SetDeadline(deadline)
	cli.SetDeadline(deadline)
	r := &relay{a: New(Config{}), conn: srv}
	r.rd.conn = srv
	done := make(chan error, 1)
	go func() {
		done <- r.authenticate(context.Background(), user, creds)
		srv.Close() // what refuseLogin and the proxy do after
	}()
	return &authConn{t: t, conn: cli, done: done}
}

func (a *authConn) receive() pgproto3.BackendMessage {
	a.t.Helper()
	typ, body, err := readRaw(a.conn)
	require.NoError(a.t, err)
	m, err := decodeBackend(typ, body)
	require.NoError(a.t, err)
	return m
}

func (a *authConn) send(m pgproto3.FrontendMessage) {
	a.t.Helper()
	b, err := m.Encode(nil)
	require.NoError(a.t, err)
	_, err = a.conn.Write(b)
	require.NoError(a.t, err)
}

// result returns the server side's verdict.
func (a *authConn) result() error {
	select {
	case err := <-a.done:
		return err
	case <-time.After(hangTimeout):
		a.t.Fatal("authentication hangs")
		return nil
	}
}

// scramLogin plays a SCRAM-SHA-256 client with password through the exchange and
// returns the server's verdict; on success it also checks the server's signature.
func scramLogin(t *testing.T, a *authConn, password string) error {
	t.Helper()
	sasl, ok := a.receive().(*pgproto3.AuthenticationSASL)
	require.True(t, ok, "AuthenticationSASL first")
	require.Equal(t, []string{"SCRAM-SHA-256"}, sasl.AuthMechanisms)
	client, err := scram.SHA256.NewClient("", password, "")
	require.NoError(t, err)
	conv := client.NewConversation()
	first, err := conv.Step("")
	require.NoError(t, err)
	a.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte(first)})
	cont, ok := a.receive().(*pgproto3.AuthenticationSASLContinue)
	require.True(t, ok, "AuthenticationSASLContinue")
	final, err := conv.Step(string(cont.Data))
	require.NoError(t, err)
	a.send(&pgproto3.SASLResponse{Data: []byte(final)})
	typ, body, err := readRaw(a.conn) // SASLFinal, or the end of the connection on refusal
	if err != nil {
		err := a.result()
		require.Error(t, err, "the connection ended without SASLFinal")
		return err
	}
	require.NoError(t, a.result())
	m, err := decodeBackend(typ, body)
	require.NoError(t, err)
	fin, ok := m.(*pgproto3.AuthenticationSASLFinal)
	require.True(t, ok, "AuthenticationSASLFinal")
	_, err = conv.Step(string(fin.Data))
	require.NoError(t, err, "the server proves it knows the verifier")
	require.True(t, conv.Valid())
	return nil
}

func TestClientSCRAM(t *testing.T) {
	t.Parallel()
	stored, err := SCRAMSecret("secret")
	require.NoError(t, err)
	lookup := func(s string, err error) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return s, err }
	}
	tests := []struct {
		name     string
		creds    proxy.Credentials
		password string
		code     string // SQLSTATE of the refusal, "" for success
	}{
		{name: "a clear-text password from the configuration", creds: proxy.Credentials{Password: "secret"}, password: "secret"},
		{name: "a wrong password", creds: proxy.Credentials{Password: "secret"}, password: "Secret", code: CodeInvalidPassword},
		{name: "a stored verifier", creds: proxy.Credentials{Secret: stored}, password: "secret"},
		{name: "a wrong password against a stored verifier", creds: proxy.Credentials{Secret: stored}, password: "secret ", code: CodeInvalidPassword},
		{name: "a non-ASCII password, SASLprep'd on both sides", creds: proxy.Credentials{Password: "pässwörd\u00A0"}, password: "pässwörd\u00A0"},
		{name: "a verifier looked up", creds: proxy.Credentials{Lookup: lookup(stored, nil)}, password: "secret"},
		{name: "an unknown user goes through the exchange and fails", creds: proxy.Credentials{}, password: "secret", code: CodeInvalidPassword},
		{name: "a lookup that finds no one", creds: proxy.Credentials{Lookup: lookup("", nil)}, password: "secret", code: CodeInvalidPassword},
		{name: "a lookup that finds only an MD5 secret", creds: proxy.Credentials{Lookup: lookup(aliceMD5Secret, nil)}, password: "secret", code: CodeInvalidPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := scramLogin(t, startAuth(t, "alice", tt.creds), tt.password)
			if tt.code == "" {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, tt.code, sqlstate(err), "err: %v", err)
			assert.Contains(t, err.Error(), `password authentication failed for user "alice"`)
		})
	}
	t.Run("a failed lookup is an authorization error", func(t *testing.T) {
		t.Parallel()
		a := startAuth(t, "alice", proxy.Credentials{Lookup: lookup("", errors.New("database down"))})
		assert.Equal(t, CodeInvalidAuthorization, sqlstate(a.result()))
	})
	t.Run("another SASL mechanism is a protocol violation", func(t *testing.T) {
		t.Parallel()
		a := startAuth(t, "alice", proxy.Credentials{Password: "secret"})
		a.receive()
		a.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("p=tls-server-end-point,,n=,r=abc")})
		assert.Equal(t, CodeProtocolViolation, sqlstate(a.result()))
	})
	t.Run("a malformed client-first message is a protocol violation", func(t *testing.T) {
		t.Parallel()
		a := startAuth(t, "alice", proxy.Credentials{Password: "secret"})
		a.receive()
		a.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("garbage")})
		assert.Equal(t, CodeProtocolViolation, sqlstate(a.result()))
	})
	t.Run("a message other than a password is a protocol violation", func(t *testing.T) {
		t.Parallel()
		a := startAuth(t, "alice", proxy.Credentials{Password: "secret"})
		a.receive()
		a.send(&pgproto3.Query{String: "SELECT 1"})
		err := a.result()
		assert.Equal(t, CodeProtocolViolation, sqlstate(err))
		assert.Contains(t, err.Error(), "expected password response")
	})
	t.Run("an oversized password message is refused unread", func(t *testing.T) {
		t.Parallel()
		a := startAuth(t, "alice", proxy.Credentials{Password: "secret"})
		a.receive()
		_, err := a.conn.Write(binary.BigEndian.AppendUint32([]byte{msgPassword}, 1<<20))
		require.NoError(t, err)
		assert.Equal(t, CodeProtocolViolation, sqlstate(a.result()))
	})
}

// md5Response computes the client's MD5 answer independently of the code under test.
func md5Response(user, password string, salt [4]byte) string {
	h := md5.Sum([]byte(password + user))
	inner := hex.EncodeToString(h[:])
	h = md5.Sum(append([]byte(inner), salt[:]...))
	return "md5" + hex.EncodeToString(h[:])
}

func TestClientMD5(t *testing.T) {
	t.Parallel()
	stored, _ := SCRAMSecret("secret")
	tests := []struct {
		name     string
		creds    proxy.Credentials
		password string
		ok       bool
	}{
		{name: "a clear-text password from the configuration", creds: proxy.Credentials{Method: proxy.AuthMD5, Password: "secret"}, password: "secret", ok: true},
		{name: "a wrong password", creds: proxy.Credentials{Method: proxy.AuthMD5, Password: "secret"}, password: "wrong"},
		{name: "a stored MD5 secret", creds: proxy.Credentials{Method: proxy.AuthMD5, Secret: aliceMD5Secret}, password: "secret", ok: true},
		{name: "an unknown user", creds: proxy.Credentials{Method: proxy.AuthMD5}, password: "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := startAuth(t, "alice", tt.creds)
			req, ok := a.receive().(*pgproto3.AuthenticationMD5Password)
			require.True(t, ok)
			a.send(&pgproto3.PasswordMessage{Password: md5Response("alice", tt.password, req.Salt)})
			err := a.result()
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, CodeInvalidPassword, sqlstate(err), "err: %v", err)
			}
		})
	}
	// A SCRAM verifier cannot check an MD5 answer: the user is asked for SCRAM, as
	// PostgreSQL and PgBouncer do with md5 configured, so that auth_query on
	// PostgreSQL 14 and later (SCRAM verifiers by default) lets anyone in.
	for _, tc := range []struct {
		name  string
		creds proxy.Credentials
	}{
		{"a SCRAM verifier in the configuration", proxy.Credentials{Method: proxy.AuthMD5, Secret: stored}},
		{"a SCRAM verifier from auth_query", proxy.Credentials{Method: proxy.AuthMD5, Lookup: func(context.Context) (string, error) { return stored, nil }}},
	} {
		t.Run(tc.name+" asks for SCRAM", func(t *testing.T) {
			t.Parallel()
			assert.NoError(t, scramLogin(t, startAuth(t, "alice", tc.creds), "secret"))
			assert.Equal(t, CodeInvalidPassword, sqlstate(scramLogin(t, startAuth(t, "alice", tc.creds), "wrong")))
		})
	}
	t.Run("each login gets a fresh salt", func(t *testing.T) {
		t.Parallel()
		salts := map[[4]byte]bool{}
		for range 8 {
			a := startAuth(t, "alice", proxy.Credentials{Method: proxy.AuthMD5, Password: "secret"})
			salts[a.receive().(*pgproto3.AuthenticationMD5Password).Salt] = true
		}
		assert.Greater(t, len(salts), 1)
	})
}

func TestClientTrust(t *testing.T) {
	t.Parallel()
	a := startAuth(t, "alice", proxy.Credentials{Method: proxy.AuthTrust})
	assert.NoError(t, a.result())
}

// dialTo dials a fake server as user srv with password secret.
func dialTo(t *testing.T, handle func(*pgtest.Conn), allowCleartext bool) (*ServerConn, error) {
	t.Helper()
	srv := pgtest.NewServer(t, handle)
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	sc, err := Dial(ctx, &proxy.Target{Addresses: []string{srv.Addr()}, User: "srv", Password: "secret", Database: "db", AllowCleartext: allowCleartext})
	if sc != nil {
		t.Cleanup(func() { sc.Close() })
	}
	return sc, err
}

// authRequest encodes an Authentication message with the given code and data.
func authRequest(code uint32, data []byte) []byte {
	return appendMsg(nil, msgAuthentication, append(binary.BigEndian.AppendUint32(nil, code), data...))
}

// finishLogin sends what follows a successful authentication.
func finishLogin(c *pgtest.Conn) error {
	return c.Send(&pgproto3.AuthenticationOk{}, &pgproto3.ParameterStatus{Name: "server_version", Value: "17.0"},
		&pgproto3.BackendKeyData{ProcessID: c.PID, SecretKey: binary.BigEndian.AppendUint32(nil, c.Secret)}, readyI)
}

var wrongPassword = &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "28P01", Message: `password authentication failed for user "srv"`}

// scramServer plays PostgreSQL's side of SCRAM-SHA-256 for a user whose password is
// password, using xdg-go/scram's server.
func scramServer(password string) func(*pgtest.Conn) {
	client, _ := scram.SHA256.NewClient("", password, "")
	creds := client.GetStoredCredentials(scram.KeyFactors{Salt: "0123456789abcdef", Iters: 4096})
	return func(c *pgtest.Conn) {
		srv, _ := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
		conv := srv.NewConversation()
		c.SendRaw(authRequest(authSASL, []byte("SCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00")))
		m, err := c.Receive()
		if err != nil {
			return
		}
		var first pgproto3.SASLInitialResponse
		if first.Decode(m.Body) != nil || first.AuthMechanism != "SCRAM-SHA-256" {
			c.Send(wrongPassword)
			return
		}
		out, err := conv.Step(string(first.Data))
		if err != nil {
			c.Send(wrongPassword)
			return
		}
		c.SendRaw(authRequest(authSASLContinue, []byte(out)))
		if m, err = c.Receive(); err != nil {
			return
		}
		out, err = conv.Step(string(m.Body))
		if err != nil || !conv.Valid() {
			c.Send(wrongPassword)
			return
		}
		c.SendRaw(authRequest(authSASLFinal, []byte(out)))
		if finishLogin(c) == nil {
			pgtest.WaitClose()(c)
		}
	}
}

// TestServerAuthentication: motorpool logs in to servers with SCRAM-SHA-256 (checked
// against xdg-go/scram's server, which checks motorpool's proof), with MD5 (a known
// salt and answer), and with a clear-text password only where allowed; a refusal is
// the server's own error.
func TestServerAuthentication(t *testing.T) {
	t.Parallel()
	t.Run("SCRAM-SHA-256", func(t *testing.T) {
		t.Parallel()
		sc, err := dialTo(t, scramServer("secret"), false)
		require.NoError(t, err)
		assert.Equal(t, "17.0", sc.Params()["server_version"])
		assert.True(t, sc.Usable())
	})
	t.Run("SCRAM-SHA-256 with a wrong password is the server's 28P01", func(t *testing.T) {
		t.Parallel()
		_, err := dialTo(t, scramServer("other"), false)
		var se *ServerError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "28P01", se.Code)
	})
	t.Run("a server whose SCRAM signature is wrong is refused", func(t *testing.T) {
		t.Parallel()
		_, err := dialTo(t, func(c *pgtest.Conn) {
			c.SendRaw(authRequest(authSASL, []byte("SCRAM-SHA-256\x00\x00")))
			m, err := c.Receive()
			if err != nil {
				return
			}
			var first pgproto3.SASLInitialResponse
			first.Decode(m.Body)
			nonce := strings.TrimPrefix(string(first.Data)[strings.Index(string(first.Data), "r="):], "r=")
			c.SendRaw(authRequest(authSASLContinue, []byte("r="+nonce+"server,s=c2FsdA==,i=4096")))
			if _, err := c.Receive(); err != nil {
				return
			}
			c.SendRaw(authRequest(authSASLFinal, []byte("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")))
			finishLogin(c)
		}, false)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "signature")
	})
	t.Run("MD5 with a known salt", func(t *testing.T) {
		t.Parallel()
		got := make(chan string, 1)
		_, err := dialTo(t, func(c *pgtest.Conn) {
			c.SendRaw(authRequest(authMD5Password, []byte{1, 2, 3, 4}))
			m, err := c.Receive()
			if err != nil {
				return
			}
			got <- m.Text()
			if m.Text() != md5Response("srv", "secret", [4]byte{1, 2, 3, 4}) {
				c.Send(wrongPassword)
				return
			}
			if finishLogin(c) == nil {
				pgtest.WaitClose()(c)
			}
		}, false)
		require.NoError(t, err)
		assert.Equal(t, md5Response("srv", "secret", [4]byte{1, 2, 3, 4}), <-got)
	})
	t.Run("a clear-text password is not sent over plain TCP unless allowed", func(t *testing.T) {
		t.Parallel()
		ask := func(c *pgtest.Conn) {
			c.SendRaw(authRequest(authCleartextPassword, nil))
			m, err := c.Receive()
			if err != nil || m.Text() != "secret" {
				return
			}
			if finishLogin(c) == nil {
				pgtest.WaitClose()(c)
			}
		}
		_, err := dialTo(t, ask, false)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cleartext")
		_, err = dialTo(t, ask, true)
		assert.NoError(t, err)
	})
	t.Run("unsupported methods are refused", func(t *testing.T) {
		t.Parallel()
		for _, req := range [][]byte{
			authRequest(7, nil), // GSSAPI
			authRequest(authSASL, []byte("SCRAM-SHA-256-PLUS\x00\x00")), // channel binding only
			authRequest(authSASLContinue, []byte("r=x")),                // out of order
			authRequest(authMD5Password, []byte{1, 2}),                  // short salt
			{msgAuthentication, 0, 0, 0, 6, 0, 0},                       // short request
		} {
			_, err := dialTo(t, func(c *pgtest.Conn) { c.SendRaw(req); pgtest.WaitClose()(c) }, false)
			assert.Error(t, err, "%q", req)
		}
	})
}

// TestDialRefusalCarriesItsSQLState: a server that refuses the login (here: no
// connection slot left) fails the dial with an error whose SQLState the monitor
// reads to say what to do, through whatever wraps it.
func TestDialRefusalCarriesItsSQLState(t *testing.T) {
	t.Parallel()
	_, err := dialTo(t, func(c *pgtest.Conn) {
		c.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "53300", Message: "sorry, too many clients already"})
	}, false)
	var coded interface{ SQLState() string }
	require.ErrorAs(t, err, &coded)
	assert.Equal(t, "53300", coded.SQLState())
}
