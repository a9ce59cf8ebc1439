package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/testenv"
)

// startupBytes encodes a StartupMessage with the given version and parameters.
func startupBytes(version uint32, params ...string) []byte {
	body := binary.BigEndian.AppendUint32(nil, version)
	for _, p := range params {
		body = append(append(body, p...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

// TestMalformedInputGetsAProtocolErrorAndHarmsNoOne sends what no driver would:
// garbage, oversized and truncated packets, absurd lengths. Each gets PostgreSQL's
// answer (an ErrorResponse with the SQLSTATE PostgreSQL uses, then the end of the
// connection) or a plain disconnect, promptly, without the proxy reading gigabytes;
// a client in the middle of a transaction meanwhile never notices.
func TestMalformedInputGetsAProtocolErrorAndHarmsNoOne(t *testing.T) {
	t.Parallel()
	e := start(t, setup{ClientAuth: "trust", ServerUser: testenv.TrustUser, PoolSize: 2, URLParams: "pool_timeout=10"})
	pgAddr := net.JoinHostPort(e.PG.Host, strconv.Itoa(e.PG.Port))
	mustExec(t, e.Direct(t), "CREATE TABLE sink (x text)", "GRANT ALL ON sink TO PUBLIC")
	user := testenv.TrustUser
	big := strings.Repeat("x", 10240)
	loggedIn := func(b []byte) func(t *testing.T, addr string) net.Conn {
		return func(t *testing.T, addr string) net.Conn {
			c := dialRaw(t, addr, user, e.DB, nil)
			c.conn.Write(b)
			return c.conn
		}
	}
	beforeLogin := func(b []byte) func(t *testing.T, addr string) net.Conn {
		return func(t *testing.T, addr string) net.Conn {
			conn, err := net.DialTimeout("tcp", addr, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			conn.Write(b)
			return conn
		}
	}
	tests := []struct {
		name string
		send func(t *testing.T, addr string) net.Conn
		// code is the SQLSTATE of the error PostgreSQL and motorpool send; "" when the
		// connection just ends; "*" when either is fine (a client that stopped in the
		// middle of a message may or may not hear that its server connection was lost).
		code string
		// direct is true when PostgreSQL gives the same answer. For the others it
		// closes the connection without a word (a "COMMERROR" it only logs), or answers
		// in the protocol the client asked for (2.0).
		direct bool
	}{
		{"an HTTP request", beforeLogin([]byte("GET / HTTP/1.1\r\nHost: db\r\n\r\n")), "08P01", false},
		{"a startup packet over 10 KiB", beforeLogin(startupBytes(3<<16, "user", user, "database", e.DB, "application_name", big)), "08P01", false},
		{"a startup length of 2^31-1", beforeLogin([]byte{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0}), "08P01", false},
		{"a negative startup length", beforeLogin([]byte{0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0}), "08P01", false},
		{"a startup length below 8", beforeLogin([]byte{0, 0, 0, 4}), "08P01", false},
		{"protocol 4.0", beforeLogin(startupBytes(4<<16, "user", user, "database", e.DB)), "0A000", true},
		{"protocol 2.0", beforeLogin(startupBytes(2<<16, "user", user, "database", e.DB)), "0A000", false},
		{"a startup packet without a user", beforeLogin(startupBytes(3<<16, "database", e.DB)), "28000", true},
		{"a startup packet without its final NUL", beforeLogin(append(binary.BigEndian.AppendUint32(nil, 14), 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'x')), "08P01", true},
		{"half a startup packet, then goodbye", beforeLogin([]byte{0, 0, 0, 40, 0, 3, 0, 0, 'u'}), "", true},
		{"a message length of 2^31-1", loggedIn([]byte{'Q', 0x7f, 0xff, 0xff, 0xff, 'S', 'E', 'L'}), "08P01", false},
		{"a message length below 4", loggedIn([]byte{'Q', 0, 0, 0, 3}), "08P01", false},
		{"a message length over PostgreSQL's 2^30-2", loggedIn([]byte{'Q', 0x3f, 0xff, 0xff, 0xff, 'S', 'E', 'L'}), "08P01", false},
		{"an unknown message type", loggedIn([]byte{'z', 0, 0, 0, 4}), "08P01", true},
		{"a Sync longer than PostgreSQL allows small messages", loggedIn(append([]byte{'S', 0, 0, 0x4e, 0x24}, make([]byte, 20000)...)), "08P01", false},
		{"a Parse without its NULs", loggedIn([]byte{'P', 0, 0, 0, 8, 'a', 'b', 'c', 'd', 'S', 0, 0, 0, 4}), "08P01", true},
		{"a Bind without its NULs", loggedIn([]byte{'B', 0, 0, 0, 6, 'a', 'b', 'S', 0, 0, 0, 4}), "08P01", true},
		{"a huge query cut short", loggedIn([]byte{'Q', 0x10, 0, 0, 0, 'S', 'E', 'L', 'E', 'C', 'T'}), "*", false},
		{"a huge Bind cut short", loggedIn(append(mustEncode(parse("s", "SELECT 1")), 'B', 0x10, 0, 0, 0, 0, 's', 0)), "*", false},
		{"a huge CopyData cut short", loggedIn(append(mustEncode(query("COPY (SELECT 1) TO STDOUT")), 'd', 0x10, 0, 0, 0, 'x')), "*", false},
		{"a huge CopyData into COPY FROM cut short", loggedIn(append(mustEncode(query("COPY sink FROM STDIN")), 'd', 0x10, 0, 0, 0, 'x')), "*", false},
	}

	// A client in a transaction runs throughout and must not notice anything.
	bystander := e.Connect(t, "")
	ctx := testCtx(t)
	tx, err := bystander.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	bystanderErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			if err := tx.QueryRow(ctx, "SELECT $1::int", i).Scan(&n); err != nil || n != i {
				bystanderErr <- fmt.Errorf("bystander: %d, %v", n, err)
				return
			}
		}
	}()

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := answerTo(t, tt.send(t, e.Addr))
			if tt.code != "*" && (tt.code != "" && (want == nil || want.Code != tt.code) || tt.code == "" && want != nil) {
				t.Fatalf("motorpool answered %v, want SQLSTATE %q", want, tt.code)
			}
			if tt.direct {
				ref := answerTo(t, tt.send(t, pgAddr))
				if (ref == nil) != (want == nil) || ref != nil && ref.Code != want.Code {
					t.Fatalf("motorpool answered %v; PostgreSQL answers %v", want, ref)
				}
			}
		})
	}
	t.Run("an unknown message type is worded as PostgreSQL words it", func(t *testing.T) {
		got := answerTo(t, loggedIn([]byte{'z', 0, 0, 0, 4})(t, e.Addr))
		if want := "invalid frontend message type 122"; got == nil || got.Message != want {
			t.Fatalf("motorpool answered %v, want the message %q", got, want)
		}
	})
	close(stop)
	wg.Wait()
	select {
	case err := <-bystanderErr:
		t.Fatal(err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("the bystander's transaction: %v", err)
	}
	// Both server connections are in service: none was left hanging by bad input.
	var txs []interface{ Commit(context.Context) error }
	for range 2 {
		tx, err := e.Connect(t, "").Begin(ctx)
		if err != nil {
			t.Fatalf("a pool of 2 cannot serve two transactions after the bad input: %v", err)
		}
		if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatalf("a pool of 2 cannot serve two transactions after the bad input: %v", err)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		tx.Commit(ctx)
	}
}

func mustEncode(m pgproto3.FrontendMessage) []byte {
	b, err := m.Encode(nil)
	if err != nil {
		panic(err)
	}
	return b
}

// answerTo reads what the peer says after bad input: its error, if any, which must
// be followed by the end of the connection.
func answerTo(t *testing.T, conn net.Conn) *wireError {
	t.Helper()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.CloseWrite() // nothing more is coming; a peer waiting for more bytes must give up
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	fe := pgproto3.NewFrontend(conn, conn)
	var got *wireError
	for {
		msg, err := fe.Receive()
		if err != nil {
			if !isEOF(err) {
				t.Fatalf("waiting for the end of the connection: %v", err)
			}
			return got
		}
		if m, ok := msg.(*pgproto3.ErrorResponse); ok && got == nil {
			got = pgErrorOf(m).(*wireError)
		}
	}
}
