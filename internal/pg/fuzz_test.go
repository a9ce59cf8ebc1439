package pg

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

// frame is one message of a raw stream: its type, the whole message, and whether it is
// complete.
type frame struct {
	typ      byte
	msg      []byte
	complete bool
}

// splitFrames frames a stream of regular messages. It stops at an invalid length
// (invalid) or at a message cut short by the end of the stream (its frame is
// incomplete).
func splitFrames(b []byte) (frames []frame, invalid bool) {
	for len(b) >= headerLen {
		h, ok := parseHeader(b)
		if !ok {
			return frames, true
		}
		if len(b) < h.size {
			return append(frames, frame{typ: h.typ, msg: b}), false
		}
		frames = append(frames, frame{typ: h.typ, msg: b[:h.size], complete: true})
		b = b[h.size:]
	}
	if len(b) > 0 {
		frames = append(frames, frame{typ: b[0], msg: b})
	}
	return frames, false
}

// frontendType reports whether typ is a message a client may send after login.
func frontendType(typ byte) bool {
	switch typ {
	case msgBind, msgClose, msgCopyData, msgCopyDone, msgCopyFail, msgDescribe, msgExecute,
		msgFlush, msgFunctionCall, msgParse, msgQuery, msgSync, msgTerminate:
		return true
	}
	return false
}

// malformed reports whether a client stream breaks the protocol at the framing level
// before any Terminate: an invalid length or a message type no client may send.
func malformed(b []byte) bool {
	frames, invalid := splitFrames(b)
	for _, f := range frames {
		if f.typ == msgTerminate && f.complete {
			return false
		}
		if len(f.msg) < headerLen {
			break // its length is not known yet: waited for
		}
		if h, ok := parseHeader(f.msg); !frontendType(f.typ) && ok && (f.complete || h.size > clientBufSize) {
			// An incomplete message that fits the relay buffer is waited for; the
			// client's end of stream comes first.
			return true
		}
	}
	return invalid
}

// drain half-closes the client's side and reads everything motorpool sends until it
// closes the connection, failing the test if that takes until hangTimeout.
func drain(t *testing.T, conn net.Conn) []byte {
	t.Helper()
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(hangTimeout))
	out, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("motorpool neither answered nor closed the connection (got %q)", out)
	}
	return out
}

// errorsIn decodes the ErrorResponses of a well-framed server stream.
func errorsIn(t *testing.T, out []byte) (errs []*pgproto3.ErrorResponse, frames []frame) {
	t.Helper()
	frames, invalid := splitFrames(out)
	if invalid {
		t.Fatalf("motorpool sent an invalid message length: %q", out)
	}
	for _, f := range frames {
		if f.typ != msgErrorResponse || !f.complete {
			continue
		}
		var e pgproto3.ErrorResponse
		if err := e.Decode(f.msg[headerLen:]); err != nil {
			t.Fatalf("undecodable ErrorResponse %q: %v", f.msg, err)
		}
		errs = append(errs, &e)
	}
	return errs, frames
}

var relaySeeds = [][]pgproto3.FrontendMessage{
	{&pgproto3.Query{String: "SELECT 1"}},
	{&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "SELECT FAIL"}, &pgproto3.Query{String: "ROLLBACK"}},
	{&pgproto3.Parse{Name: "s", Query: "SELECT $1", ParameterOIDs: []uint32{23}}, &pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("1")}},
		&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}},
	{&pgproto3.Parse{Name: "s", Query: "SELECT FAIL"}, &pgproto3.Bind{PreparedStatement: "s"}, &pgproto3.Close{ObjectType: 'S', Name: "s"}, &pgproto3.Sync{}},
	{&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Flush{}},
	{&pgproto3.Query{String: "SET search_path = app"}, &pgproto3.Query{String: "RESET ALL"}, &pgproto3.Query{String: "DISCARD ALL"}},
	{&pgproto3.Query{String: "COPY t FROM STDIN"}, &pgproto3.CopyData{Data: []byte("1\n")}, &pgproto3.CopyDone{}},
	{&pgproto3.Describe{ObjectType: 'S', Name: "nope"}, &pgproto3.Sync{}, &pgproto3.Terminate{}},
	{&pgproto3.FunctionCall{Function: 1}, &pgproto3.Close{ObjectType: 'P'}, &pgproto3.Sync{}},
}

func encode(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		b, _ = m.Encode(b)
	}
	return b
}

// FuzzRelay sends arbitrary bytes, after a login, through motorpool to a fake server
// that answers like PostgreSQL. Whatever the bytes, motorpool neither panics nor
// hangs; it sends well-framed messages; a FATAL error it sends is 08P01, and a stream
// malformed at the framing level (an invalid length, a message type no client may
// send) gets one.
func FuzzRelay(f *testing.F) {
	for _, s := range relaySeeds {
		f.Add(encode(s...))
	}
	f.Add([]byte{'Q', 0, 0, 0, 2})
	f.Add(append(encode(&pgproto3.Query{String: "SELECT 1"}), 'p', 0, 0, 0, 4))
	f.Add([]byte{'B', 0, 0, 0, 9, 0, 's', 0, 0, 0})
	f.Add(encode(&pgproto3.CopyData{Data: make([]byte, 40000)}, &pgproto3.Query{String: "SELECT 1"}))
	srv := pgtest.NewServer(f, respondLogin)
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnvFor(t, envOptions{limit: 1, poolTimeout: "2s"}, srv)
		c := e.connect()
		if err := c.sendRaw(data); err != nil {
			return // motorpool hung up before reading everything
		}
		out := drain(t, c.conn)
		errs, _ := errorsIn(t, out)
		fatal := false
		for _, er := range errs {
			switch {
			case er.Severity == "FATAL" && er.Code == CodeProtocolViolation:
				fatal = true
			case er.Severity == "FATAL" && er.Code == CodeConnectionFailure:
				// The server hung up on what it was sent (PostgreSQL refuses oversized
				// messages with FATAL and closes): motorpool says so.
			case er.Severity == "FATAL":
				t.Fatalf("FATAL %s %s", er.Code, er.Message)
			case er.Code != "42601" && er.Code != CodeUndefinedPreparedStmt && er.Code != CodeDuplicatePreparedStmt:
				t.Fatalf("ERROR %s %s", er.Code, er.Message)
			}
		}
		if malformed(data) && !fatal {
			t.Fatalf("a malformed stream got no FATAL 08P01: %q", out)
		}
	})
}

// FuzzClientSession sends arbitrary bytes to motorpool from the connection's first
// byte: startup packets (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage,
// whatever else) and what follows. motorpool neither panics nor hangs, and an error
// it reports is one PostgreSQL would report for the same login.
func FuzzClientSession(f *testing.F) {
	login := startupBytes(codeProtocol30, kv("user", "app", "database", "db"))
	f.Add(login)
	f.Add(append(startupBytes(codeSSL, nil), login...))
	f.Add(append(startupBytes(codeGSSEnc, nil), append(startupBytes(codeSSL, nil), login...)...))
	f.Add(append(login, encode(relaySeeds[2]...)...))
	f.Add(startupBytes(codeProtocol32, kv("user", "app", "database", "db", "_pq_.x", "1", "options", "-c search_path=x")))
	f.Add(startupBytes(codeCancel, []byte{0, 0, 0, 1, 0, 0, 0, 2}))
	f.Add(startupBytes(codeProtocol30, kv("user", "app", "database", "nope")))
	f.Add(startupBytes(codeProtocol30, kv("user", "app", "replication", "database")))
	f.Add([]byte{0, 0, 0, 4})
	srv := pgtest.NewServer(f, respondLogin)
	known := map[string]bool{
		CodeProtocolViolation: true, CodeInvalidAuthorization: true, CodeFeatureNotSupported: true,
		CodeInvalidParameterValue: true, CodeInvalidCatalogName: true, "42601": true,
		CodeUndefinedPreparedStmt: true, CodeDuplicatePreparedStmt: true,
		CodeConnectionFailure: true, // the server hung up on what it was sent
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnvFor(t, envOptions{limit: 1, poolTimeout: "2s"}, srv)
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetWriteDeadline(time.Now().Add(hangTimeout))
		if _, err := conn.Write(data); err != nil {
			return
		}
		out := drain(t, conn)
		// Skip the one-byte answers to SSLRequest and GSSENCRequest, then frame.
		for len(out) > 0 && out[0] == 'N' && (len(out) == 1 || out[1] != 0) {
			out = out[1:]
		}
		frames, _ := splitFrames(out)
		for _, fr := range frames {
			if fr.typ != msgErrorResponse || !fr.complete {
				continue
			}
			var er pgproto3.ErrorResponse
			if err := er.Decode(fr.msg[headerLen:]); err != nil {
				t.Fatalf("undecodable ErrorResponse: %v", err)
			}
			if !known[er.Code] {
				t.Fatalf("%s %s %s", er.Severity, er.Code, er.Message)
			}
		}
	})
}

// FuzzPump has a fake server send arbitrary bytes in answer to a client's query, then
// close. motorpool never panics or hangs, relays only well-framed messages (the last
// may be cut short only if it was larger than the pump's buffer, so streamed), and a
// client left without its ReadyForQuery is told FATAL 08006 last.
func FuzzPump(f *testing.F) {
	msgs := func(ms ...pgproto3.BackendMessage) []byte {
		var b []byte
		for _, m := range ms {
			b, _ = m.Encode(b)
		}
		return b
	}
	f.Add(msgs(select1, readyI))
	f.Add(msgs(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("x")}}}, &pgproto3.DataRow{Values: [][]byte{[]byte("1")}}, select1, readyI))
	f.Add(msgs(select1, readyT, select1))
	f.Add(msgs(&pgproto3.ParameterStatus{Name: "TimeZone", Value: "UTC"}, &pgproto3.NoticeResponse{Message: "x"}, select1, readyI, &pgproto3.ReadyForQuery{TxStatus: 'I'}))
	f.Add(msgs(adminShutdown))
	f.Add(msgs(&pgproto3.CopyInResponse{}, &pgproto3.AuthenticationOk{}))
	f.Add([]byte{'D', 0, 0, 0, 2})
	f.Add([]byte{'D', 0, 1, 0, 0, 0, 1})
	f.Add(append(msgs(select1), 'Z', 0, 0, 0, 4))
	garbage := make(chan []byte, 1)
	srv := pgtest.NewServer(f, func(c *pgtest.Conn) {
		pgtest.Script{
			pgtest.Login(nil),
			pgtest.ExpectQuery("SELECT 1"),
			func(c *pgtest.Conn) error {
				select {
				case b := <-garbage:
					return c.SendRaw(b)
				case <-time.After(hangTimeout):
					return errors.New("no garbage")
				}
			},
		}.Run(c)
		c.Close()
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnvFor(t, envOptions{limit: 1, poolTimeout: "2s"}, srv)
		c := e.connect()
		garbage <- data
		c.send(&pgproto3.Query{String: "SELECT 1"})
		c.conn.SetReadDeadline(time.Now().Add(hangTimeout))
		var out []byte
		buf := make([]byte, 4096)
		ready := func() bool {
			frames, _ := splitFrames(out)
			for _, fr := range frames {
				if fr.typ == msgReadyForQuery && fr.complete {
					return true
				}
			}
			return false
		}
		for !ready() {
			n, err := c.conn.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("motorpool neither answered nor closed the connection (got %q)", out)
				}
				break
			}
		}
		if ready() {
			c.sendRaw([]byte{msgTerminate, 0, 0, 0, 4})
			out = append(out, drain(t, c.conn)...)
		}
		frames, invalid := splitFrames(out)
		if invalid {
			t.Fatalf("motorpool relayed an invalid length: %q", out)
		}
		if len(frames) > 0 && !frames[len(frames)-1].complete {
			if h, ok := parseHeader(append(frames[len(frames)-1].msg, 0, 0, 0, 0, 0)); !ok || h.size <= serverBufSize {
				t.Fatalf("motorpool relayed part of a message it could hold whole: %q", frames[len(frames)-1].msg)
			}
			return
		}
		if ready() {
			return
		}
		var last pgproto3.ErrorResponse
		if len(frames) == 0 {
			t.Fatal("a client owed an answer got nothing")
		}
		lf := frames[len(frames)-1]
		// Motorpool's 08006, or the server's own FATAL relayed as it was.
		if lf.typ != msgErrorResponse || last.Decode(lf.msg[headerLen:]) != nil || !serverErrorFatal(lf.msg) {
			t.Fatalf("a client owed an answer did not get a FATAL error last: %q", out)
		}
	})
}
