package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/pg"
)

// sslRequest is the SSLRequest packet.
var sslRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

// TestSecurityRequiredTLSIsRequiredBeforeAnyPassword: with tls.mode require, a
// plaintext client is refused (28000) before it is asked for a password, whether it
// asks for TLS or not: a client that ignores the 'S' and goes on in plaintext, or
// sends its startup packet right behind its SSLRequest (to have it read as if it had
// come encrypted, CVE-2021-23214's trick), gets no authentication request at all.
func TestSecurityRequiredTLSIsRequiredBeforeAnyPassword(t *testing.T) {
	t.Parallel()
	cert, key := selfSignedCert(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, setup{ClientAuth: "md5", Adapter: pg.Config{TLS: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, RequireTLS: true}})
	startup := startupBytes(3<<16, "user", appUser, "database", e.DB)
	dial := func(t *testing.T) net.Conn {
		conn, err := net.DialTimeout("tcp", e.Addr, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(time.Minute))
		return conn
	}
	t.Run("no SSLRequest", func(t *testing.T) {
		conn := dial(t)
		conn.Write(startup)
		fe := pgproto3.NewFrontend(conn, conn)
		msg, err := fe.Receive()
		if er, ok := msg.(*pgproto3.ErrorResponse); err != nil || !ok || er.Code != "28000" {
			t.Fatalf("first answer to a plaintext startup: %T %+v, %v; want ErrorResponse 28000", msg, msg, err)
		}
	})
	t.Run("the 'S' ignored", func(t *testing.T) {
		conn := dial(t)
		conn.Write(sslRequest)
		var s [1]byte
		if _, err := io.ReadFull(conn, s[:]); err != nil || s[0] != 'S' {
			t.Fatalf("answer to SSLRequest: %q, %v", s, err)
		}
		conn.Write(startup)
		if rest, _ := io.ReadAll(conn); len(rest) > 0 && rest[0] == 'R' {
			t.Fatalf("a plaintext startup after 'S' got an authentication request: %q", rest)
		}
	})
	t.Run("startup pipelined behind SSLRequest", func(t *testing.T) {
		conn := dial(t)
		conn.Write(append(append([]byte{}, sslRequest...), startup...))
		rest, _ := io.ReadAll(conn)
		if len(rest) == 0 || rest[0] != 'S' {
			t.Fatalf("answer to SSLRequest: %q", rest)
		}
		if len(rest) > 1 {
			t.Fatalf("the plaintext behind the SSLRequest was answered: %q", rest[1:])
		}
	})
}
