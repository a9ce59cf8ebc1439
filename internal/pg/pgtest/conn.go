package pgtest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"
)

// MaxBody bounds the messages Receive holds whole; larger ones need ReceiveLarge.
const MaxBody = 16 << 20

// Conn is one connection to the fake server, after its StartupMessage.
type Conn struct {
	net.Conn
	// PID and Secret are the BackendKeyData Login sends.
	PID, Secret uint32
	// Version is the protocol version of the StartupMessage; Params its parameters.
	Version uint32
	Params  map[string]string
	// Trace, when set, is called with every message Receive returns.
	Trace func(Message)

	srv *Server
	rd  *bufio.Reader
}

// Message is one frontend message as received: its type byte and its body (after the
// length).
type Message struct {
	Type byte
	Body []byte
}

// Text returns the first NUL-terminated string of the body: the query of a Query.
func (m Message) Text() string {
	s, _, _ := cstring(m.Body)
	return s
}

// Decode decodes the message with pgproto3.
func (m Message) Decode() (pgproto3.FrontendMessage, error) {
	var msg pgproto3.FrontendMessage
	switch m.Type {
	case 'Q':
		msg = &pgproto3.Query{}
	case 'P':
		msg = &pgproto3.Parse{}
	case 'B':
		msg = &pgproto3.Bind{}
	case 'D':
		msg = &pgproto3.Describe{}
	case 'E':
		msg = &pgproto3.Execute{}
	case 'C':
		msg = &pgproto3.Close{}
	case 'S':
		msg = &pgproto3.Sync{}
	case 'H':
		msg = &pgproto3.Flush{}
	case 'X':
		msg = &pgproto3.Terminate{}
	case 'd':
		msg = &pgproto3.CopyData{}
	case 'c':
		msg = &pgproto3.CopyDone{}
	case 'f':
		msg = &pgproto3.CopyFail{}
	case 'F':
		msg = &pgproto3.FunctionCall{}
	default:
		return nil, fmt.Errorf("pgtest: unknown frontend message type %q", m.Type)
	}
	if err := msg.Decode(m.Body); err != nil {
		return nil, err
	}
	return msg, nil
}

func (m Message) String() string {
	if m.Type == 'Q' {
		return fmt.Sprintf("Query(%q)", m.Text())
	}
	if len(m.Body) > 64 {
		return fmt.Sprintf("%c(%q…)", m.Type, m.Body[:64])
	}
	return fmt.Sprintf("%c(%q)", m.Type, m.Body)
}

// Server returns the server that accepted the connection.
func (c *Conn) Server() *Server { return c.srv }

func (c *Conn) reader() *bufio.Reader {
	if c.rd == nil {
		c.rd = bufio.NewReaderSize(c.Conn, 8192)
	}
	return c.rd
}

// header reads a message header and returns the type and body length.
func (c *Conn) header() (byte, int, error) {
	var h [5]byte
	if _, err := io.ReadFull(c.reader(), h[:]); err != nil {
		return 0, 0, err
	}
	n := int(int32(binary.BigEndian.Uint32(h[1:])))
	if n < 4 {
		return 0, 0, fmt.Errorf("pgtest: invalid message length %d", n)
	}
	return h[0], n - 4, nil
}

// Receive reads one message of at most MaxBody bytes.
func (c *Conn) Receive() (Message, error) {
	typ, n, err := c.header()
	if err != nil {
		return Message{}, err
	}
	if n > MaxBody {
		return Message{}, fmt.Errorf("pgtest: %q message of %d bytes: use ReceiveLarge", typ, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.reader(), body); err != nil {
		return Message{}, err
	}
	m := Message{Type: typ, Body: body}
	if c.Trace != nil {
		c.Trace(m)
	}
	return m, nil
}

// ReceiveLarge reads one message of any size, copying its body to w.
func (c *Conn) ReceiveLarge(w io.Writer) (typ byte, n int, err error) {
	typ, n, err = c.header()
	if err != nil {
		return 0, 0, err
	}
	_, err = io.CopyN(w, c.reader(), int64(n))
	return typ, n, err
}

// Expect reads one message and checks that it encodes exactly as want.
func (c *Conn) Expect(want pgproto3.FrontendMessage) error {
	got, err := c.Receive()
	if err != nil {
		return fmt.Errorf("pgtest: expecting %T: %w", want, err)
	}
	enc, err := want.Encode(nil)
	if err != nil {
		return err
	}
	if got.Type != enc[0] || !bytes.Equal(got.Body, enc[5:]) {
		return fmt.Errorf("pgtest: got %v, want %c(%q)", got, enc[0], enc[5:])
	}
	return nil
}

// ExpectQuery reads one message and checks that it is the Query sql.
func (c *Conn) ExpectQuery(sql string) error { return c.Expect(&pgproto3.Query{String: sql}) }

// Send encodes msgs and writes them in one piece.
func (c *Conn) Send(msgs ...pgproto3.BackendMessage) error {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			return err
		}
	}
	return c.SendRaw(b)
}

// SendRaw writes b as is.
func (c *Conn) SendRaw(b []byte) error {
	_, err := c.Conn.Write(b)
	return err
}

// DefaultParams are the ParameterStatus values Login reports when given none, as a
// PostgreSQL 17 server reports them.
var DefaultParams = map[string]string{
	"application_name":            "",
	"client_encoding":             "UTF8",
	"DateStyle":                   "ISO, MDY",
	"integer_datetimes":           "on",
	"IntervalStyle":               "postgres",
	"is_superuser":                "off",
	"server_encoding":             "UTF8",
	"server_version":              "17.0",
	"session_authorization":       "postgres",
	"standard_conforming_strings": "on",
	"TimeZone":                    "UTC",
}

// Login completes a trust login: AuthenticationOk, a ParameterStatus for each of
// params (DefaultParams when nil), BackendKeyData and ReadyForQuery.
func (c *Conn) Login(params map[string]string) error {
	if params == nil {
		params = DefaultParams
	}
	msgs := []pgproto3.BackendMessage{&pgproto3.AuthenticationOk{}}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		msgs = append(msgs, &pgproto3.ParameterStatus{Name: k, Value: params[k]})
	}
	msgs = append(msgs, &pgproto3.BackendKeyData{ProcessID: c.PID, SecretKey: binary.BigEndian.AppendUint32(nil, c.Secret)},
		&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return c.Send(msgs...)
}
