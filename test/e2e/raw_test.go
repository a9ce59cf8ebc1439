package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawClient speaks the protocol message by message, for what drivers will not send:
// pipelines cut at chosen points, malformed packets, abrupt disconnects. It logs in
// with trust authentication only.
type rawClient struct {
	conn   net.Conn
	fe     *pgproto3.Frontend
	PID    uint32
	Secret []byte
	Params map[string]string // ParameterStatus at login
	// Negotiated is the NegotiateProtocolVersion received at login, if any.
	Negotiated *pgproto3.NegotiateProtocolVersion
	// Protocol is the version asked for in the StartupMessage; 0 is 3.0.
	Protocol uint32
}

// dialRaw connects to addr and logs in as user to db with extra startup parameters.
func dialRaw(t testing.TB, addr, user, db string, params map[string]string) *rawClient {
	t.Helper()
	c, err := tryDialRaw(addr, user, db, params)
	if err != nil {
		t.Fatalf("raw login to %s as %s: %v", addr, user, err)
	}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

func tryDialRaw(addr, user, db string, params map[string]string) (*rawClient, error) {
	return tryDialRawProtocol(addr, user, db, params, 0)
}

func tryDialRawProtocol(addr, user, db string, params map[string]string, protocol uint32) (*rawClient, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		return nil, err
	}
	c := &rawClient{conn: conn, fe: pgproto3.NewFrontend(conn, conn), Params: make(map[string]string), Protocol: protocol}
	if err := c.login(user, db, params); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *rawClient) login(user, db string, params map[string]string) error {
	p := map[string]string{"user": user, "database": db}
	for k, v := range params {
		p[k] = v
	}
	c.conn.SetDeadline(time.Now().Add(time.Minute))
	defer c.conn.SetDeadline(time.Time{})
	version := c.Protocol
	if version == 0 {
		version = pgproto3.ProtocolVersionNumber
	}
	c.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: version, Parameters: p})
	if err := c.fe.Flush(); err != nil {
		return err
	}
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.AuthenticationOk, *pgproto3.NoticeResponse:
		case *pgproto3.NegotiateProtocolVersion:
			n := *m
			n.UnrecognizedOptions = append([]string(nil), m.UnrecognizedOptions...)
			c.Negotiated = &n
		case *pgproto3.ParameterStatus:
			c.Params[m.Name] = m.Value
		case *pgproto3.BackendKeyData:
			c.PID, c.Secret = m.ProcessID, append([]byte(nil), m.SecretKey...)
		case *pgproto3.ErrorResponse:
			return pgErrorOf(m)
		case *pgproto3.ReadyForQuery:
			return nil
		default:
			return fmt.Errorf("unexpected %T during login (the raw client does trust only)", msg)
		}
	}
}

// pgErrorOf renders an ErrorResponse as an error carrying its SQLSTATE.
func pgErrorOf(m *pgproto3.ErrorResponse) error {
	return &wireError{Severity: m.Severity, Code: m.Code, Message: m.Message}
}

// wireError is an ErrorResponse read by a raw client.
type wireError struct{ Severity, Code, Message string }

func (e *wireError) Error() string { return e.Severity + " " + e.Code + " " + e.Message }

// round sends msgs, then reads until each Sync and Query has been answered with
// ReadyForQuery, and returns what the server said, one line per message.
func (c *rawClient) round(t testing.TB, msgs ...pgproto3.FrontendMessage) []string {
	t.Helper()
	out, err := c.tryRound(msgs...)
	if err != nil {
		t.Fatalf("after %q: %v", out, err)
	}
	return out
}

func (c *rawClient) tryRound(msgs ...pgproto3.FrontendMessage) ([]string, error) {
	c.send(msgs...)
	if err := c.fe.Flush(); err != nil {
		return nil, err
	}
	want := 0
	for _, m := range msgs {
		switch m.(type) {
		case *pgproto3.Sync, *pgproto3.Query:
			want++
		}
	}
	return c.readReady(want)
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	for _, m := range msgs {
		c.fe.Send(m)
	}
}

// readReady reads messages until n ReadyForQuery have arrived.
func (c *rawClient) readReady(n int) ([]string, error) {
	c.conn.SetReadDeadline(time.Now().Add(time.Minute))
	defer c.conn.SetReadDeadline(time.Time{})
	var out []string
	for n > 0 {
		msg, err := c.fe.Receive()
		if err != nil {
			return out, err
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			n--
		}
		if line := describe(msg); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// readError reads until an ErrorResponse or the end of the connection and returns
// the error, or nil if the connection ended without one.
func (c *rawClient) readError() (*wireError, error) {
	c.conn.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			if isEOF(err) {
				return nil, nil
			}
			return nil, err
		}
		if m, ok := msg.(*pgproto3.ErrorResponse); ok {
			return pgErrorOf(m).(*wireError), nil
		}
	}
}

func isEOF(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset") || errors.As(err, &ne) && !ne.Timeout()
}

// describe renders one backend message for a transcript; "" for those that vary
// between servers and do not matter (notices, parameter reports).
func describe(msg pgproto3.BackendMessage) string {
	switch m := msg.(type) {
	case *pgproto3.ParseComplete:
		return "ParseComplete"
	case *pgproto3.BindComplete:
		return "BindComplete"
	case *pgproto3.CloseComplete:
		return "CloseComplete"
	case *pgproto3.NoData:
		return "NoData"
	case *pgproto3.EmptyQueryResponse:
		return "EmptyQuery"
	case *pgproto3.PortalSuspended:
		return "PortalSuspended"
	case *pgproto3.ParameterDescription:
		return fmt.Sprintf("ParameterDescription %v", m.ParameterOIDs)
	case *pgproto3.RowDescription:
		var cols []string
		for _, f := range m.Fields {
			cols = append(cols, fmt.Sprintf("%s:%d", f.Name, f.DataTypeOID))
		}
		return "RowDescription " + strings.Join(cols, ",")
	case *pgproto3.DataRow:
		var vals []string
		for _, v := range m.Values {
			if v == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, string(v))
			}
		}
		return "DataRow " + strings.Join(vals, ",")
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(m.CommandTag)
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("Error %s %s: %s", m.Severity, m.Code, m.Message)
	case *pgproto3.ReadyForQuery:
		return fmt.Sprintf("Ready %c", m.TxStatus)
	case *pgproto3.CopyInResponse:
		return "CopyIn"
	case *pgproto3.CopyOutResponse:
		return "CopyOut"
	case *pgproto3.CopyData:
		return "CopyData " + string(m.Data)
	case *pgproto3.CopyDone:
		return "CopyDone"
	case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus, *pgproto3.NotificationResponse:
		return ""
	}
	return fmt.Sprintf("%T", msg)
}

// lastStatus returns the transaction status of the last ReadyForQuery in a transcript.
func lastStatus(lines []string) byte {
	for i := len(lines) - 1; i >= 0; i-- {
		if s, ok := strings.CutPrefix(lines[i], "Ready "); ok {
			return s[0]
		}
	}
	return 0
}
