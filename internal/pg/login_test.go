package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/proxy"
)

// rawLogin sends bytes to motorpool and returns what it answers until it closes the
// connection or sends ReadyForQuery, with the one-byte answers to SSLRequest and
// GSSENCRequest as "N".
func rawLogin(t *testing.T, e *env, packets ...[]byte) []string {
	t.Helper()
	conn, err := net.Dial("tcp", e.addr)
	require.NoError(t, err)
	defer conn.Close()
	var got []string
	for _, p := range packets {
		_, err := conn.Write(p)
		require.NoError(t, err)
		code := uint32(0)
		if len(p) >= 8 {
			code = uint32(p[4])<<24 | uint32(p[5])<<16 | uint32(p[6])<<8 | uint32(p[7])
		}
		if code == codeSSL || code == codeGSSEnc {
			var b [1]byte
			conn.SetReadDeadline(time.Now().Add(hangTimeout))
			_, err := io.ReadFull(conn, b[:])
			require.NoError(t, err)
			got = append(got, string(b[:]))
		}
	}
	for {
		typ, body, err := readRaw(conn)
		if err != nil {
			return got
		}
		m, err := decodeBackend(typ, body)
		require.NoError(t, err)
		s := types([]pgproto3.BackendMessage{m})
		switch m := m.(type) {
		case *pgproto3.NegotiateProtocolVersion:
			s = fmt.Sprintf("NegotiateProtocolVersion(%d.%d %v)", m.NewestMinorProtocol>>16, m.NewestMinorProtocol&0xffff, m.UnrecognizedOptions)
		case *pgproto3.ErrorResponse:
			s = fmt.Sprintf("%s %s %s", m.Severity, m.Code, m.Message)
		case *pgproto3.ParameterStatus, *pgproto3.BackendKeyData:
			continue
		}
		got = append(got, s)
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return got
		}
	}
}

// TestLogin: what motorpool answers to startup packets, as PostgreSQL answers them.
func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{}, respondLogin)
	login := startupBytes(codeProtocol30, kv("user", "app", "database", "db"))
	tests := []struct {
		name    string
		packets [][]byte
		want    []string
	}{
		{name: "protocol 3.0", packets: [][]byte{login},
			want: []string{"AuthenticationOk", "ReadyForQuery(I)"}},
		{name: "protocol 3.2 is negotiated down to 3.0", packets: [][]byte{startupBytes(codeProtocol32, kv("user", "app", "database", "db"))},
			want: []string{"NegotiateProtocolVersion(3.0 [])", "AuthenticationOk", "ReadyForQuery(I)"}},
		{name: "protocol options are declined", packets: [][]byte{startupBytes(codeProtocol30, kv("user", "app", "database", "db", "_pq_.compression", "on"))},
			want: []string{"NegotiateProtocolVersion(3.0 [_pq_.compression])", "AuthenticationOk", "ReadyForQuery(I)"}},
		{name: "SSLRequest without TLS configured is answered N", packets: [][]byte{startupBytes(codeSSL, nil), login},
			want: []string{"N", "AuthenticationOk", "ReadyForQuery(I)"}},
		{name: "GSSENCRequest is answered N", packets: [][]byte{startupBytes(codeGSSEnc, nil), startupBytes(codeSSL, nil), login},
			want: []string{"N", "N", "AuthenticationOk", "ReadyForQuery(I)"}},
		{name: "an unknown database", packets: [][]byte{startupBytes(codeProtocol30, kv("user", "app", "database", "nope"))},
			want: []string{"AuthenticationOk", `FATAL 3D000 database "nope" does not exist`}}, // after authentication, as PostgreSQL
		{name: "no user", packets: [][]byte{startupBytes(codeProtocol30, kv("database", "db"))},
			want: []string{"FATAL 28000 no PostgreSQL user name specified in startup packet"}},
		{name: "protocol 2", packets: [][]byte{startupBytes(2<<16, kv("user", "app"))},
			want: []string{"FATAL 0A000 unsupported frontend protocol 2.0: server supports 3.0 to 3.0"}},
		{name: "a replication connection", packets: [][]byte{startupBytes(codeProtocol30, kv("user", "app", "database", "db", "replication", "database"))},
			want: []string{"FATAL 0A000 replication connections are not supported by motorpool"}},
		{name: "replication off, spelled as PostgreSQL's booleans, is an ordinary connection", packets: [][]byte{startupBytes(codeProtocol30, kv("user", "app", "database", "db", "replication", "no"))},
			want: []string{"AuthenticationOk", "ReadyForQuery(I)"}},
		{name: "a physical replication connection", packets: [][]byte{startupBytes(codeProtocol30, kv("user", "app", "database", "db", "replication", "On"))},
			want: []string{"FATAL 0A000 replication connections are not supported by motorpool"}},
		{name: "an invalid replication value", packets: [][]byte{startupBytes(codeProtocol30, kv("user", "app", "database", "db", "replication", "bogus"))},
			want: []string{`FATAL 22023 invalid value for parameter "replication": "bogus"`}},
		{name: "an invalid startup length", packets: [][]byte{{0, 0, 0, 4, 0, 3, 0, 0}},
			want: []string{"FATAL 08P01 invalid length of startup packet"}},
		{name: "a startup packet without its terminator", packets: [][]byte{startupBytes(codeProtocol30, []byte("user\x00app\x00"))},
			want: []string{"FATAL 08P01 invalid startup packet layout: expected terminator as last byte"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, rawLogin(t, e, tt.packets...))
		})
	}
}

// TestRepeatedEncryptionRequest: an SSLRequest or GSSENCRequest is answered once;
// a second one is refused as PostgreSQL refuses it, not answered again and again
// until the login timeout.
func TestRepeatedEncryptionRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{}, respondLogin)
	for _, code := range []uint32{codeSSL, codeGSSEnc} {
		t.Run(fmt.Sprintf("%d.%d", code>>16, code&0xffff), func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", e.addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = conn.Write(append(startupBytes(code, nil), startupBytes(code, nil)...))
			require.NoError(t, err)
			var b [1]byte
			conn.SetReadDeadline(time.Now().Add(hangTimeout))
			_, err = io.ReadFull(conn, b[:])
			require.NoError(t, err)
			assert.Equal(t, "N", string(b[:]))
			typ, body, err := readRaw(conn)
			require.NoError(t, err, "the second request is answered with an error")
			m, err := decodeBackend(typ, body)
			require.NoError(t, err)
			require.IsType(t, &pgproto3.ErrorResponse{}, m)
			er := m.(*pgproto3.ErrorResponse)
			assert.Equal(t, "0A000", er.Code)
			assert.Equal(t, fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", code>>16, code&0xffff), er.Message)
			_, _, err = readRaw(conn)
			assert.ErrorIs(t, err, io.EOF)
		})
	}
}

// TestConsoleRefusalAfterAuthentication: a user who may not use the admin console
// learns it only with the right password, so admin user names cannot be told from
// others without one.
func TestConsoleRefusalAfterAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{top: "auth: { users: { app: { password: s3cret }, boss: { password: b0ss } } }\nadmin: { users: [boss] }\n"}, respondLogin)
	e.px.SetConsole(nopConsole{})
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	tests := []struct{ user, password, code string }{
		{"app", "wrong", "28P01"},
		{"nobody", "wrong", "28P01"},
		{"boss", "wrong", "28P01"},
		{"app", "s3cret", "28000"},
	}
	for _, tt := range tests {
		_, err := pgconn.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/motorpool?sslmode=disable", tt.user, tt.password, e.addr))
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe, "%s/%s", tt.user, tt.password)
		assert.Equal(t, tt.code, pe.Code, "%s/%s: %s", tt.user, tt.password, pe.Message)
	}
	conn, err := pgconn.Connect(ctx, fmt.Sprintf("postgres://boss:b0ss@%s/motorpool?sslmode=disable", e.addr))
	require.NoError(t, err)
	conn.Close(ctx)
}

type nopConsole struct{}

func (nopConsole) Exec(context.Context, string, string) (*proxy.ConsoleResult, error) {
	return &proxy.ConsoleResult{Tag: "SHOW"}, nil
}

// TestLoginWithPgconn logs in with pgx's pgconn, a real client library, by SCRAM and
// by MD5, and checks the refusal of a wrong password as pgconn reports it.
func TestLoginWithPgconn(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"scram-sha-256", "md5"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{top: fmt.Sprintf("auth: { type: %s, users: { app: { password: s3cret } } }\n", method)}, respondLogin)
			ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
			defer cancel()
			url := fmt.Sprintf("postgres://app:%%s@%s/db?sslmode=disable", e.addr)
			conn, err := pgconn.Connect(ctx, fmt.Sprintf(url, "s3cret"))
			require.NoError(t, err)
			_, err = conn.Exec(ctx, "SELECT 1").ReadAll()
			assert.NoError(t, err)
			assert.NoError(t, conn.Close(ctx))

			_, err = pgconn.Connect(ctx, fmt.Sprintf(url, "wrong"))
			var pe *pgconn.PgError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "28P01", pe.Code)
			assert.Equal(t, "FATAL", pe.Severity)
			assert.Equal(t, `password authentication failed for user "app"`, pe.Message)

			// A database that does not exist is told only to a client that knows the
			// password, as PostgreSQL does: others cannot probe database names.
			nodb := fmt.Sprintf("postgres://app:%%s@%s/nodb?sslmode=disable", e.addr)
			_, err = pgconn.Connect(ctx, fmt.Sprintf(nodb, "wrong"))
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "28P01", pe.Code)
			_, err = pgconn.Connect(ctx, fmt.Sprintf(nodb, "s3cret"))
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "3D000", pe.Code)
			assert.Equal(t, `database "nodb" does not exist`, pe.Message)
		})
	}
}

// pipeListener is a net.Listener of in-memory connections, for synctest bubbles.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (l *pipeListener) dial() net.Conn {
	mine, theirs := net.Pipe()
	l.conns <- theirs
	return mine
}

// TestLoginTimeout: a client that does not finish logging in within LoginTimeout is
// disconnected then, whether it sent nothing or stopped halfway through its startup
// packet; measured on synctest's clock.
func TestLoginTimeout(t *testing.T) {
	t.Parallel()
	for _, sent := range [][]byte{nil, startupBytes(codeProtocol30, kv("user", "app", "database", "db"))[:12]} {
		t.Run(fmt.Sprintf("after %d bytes", len(sent)), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg, err := config.Parse("t.yaml", []byte("auth: { type: trust }\ndatabases:\n  db: { url: \"postgresql://srv@127.0.0.1:1/db?sslmode=disable\" }\n"), nil)
				require.NoError(t, err)
				a := New(Config{LoginTimeout: 45 * time.Second})
				px, err := proxy.New(cfg, a, nil)
				require.NoError(t, err)
				ln := newPipeListener()
				served := make(chan error, 1)
				go func() { served <- px.Serve(ln) }()
				c := ln.dial()
				start := time.Now()
				if len(sent) > 0 {
					_, err := c.Write(sent)
					require.NoError(t, err)
				}
				_, err = c.Read(make([]byte, 1))
				assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe), "err: %v", err)
				assert.Equal(t, 45*time.Second, time.Since(start))
				px.Close()
				assert.ErrorIs(t, <-served, proxy.ErrClosed)
			})
		})
	}
}
