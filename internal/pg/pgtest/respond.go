package pgtest

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// FailMarker makes a Parse or Query fail in Respond when its text contains it.
// motorpool's own deliberately failing Parse ("motorpool refused this request") is
// refused too.
const FailMarker = "FAIL"

// Respond plays a minimal PostgreSQL until the connection closes or the client sends
// Terminate: every request gets the responses a server owes for it (ParseComplete,
// BindComplete, ParameterDescription and NoData, CommandComplete, CloseComplete,
// ReadyForQuery with the transaction status), a Parse or Query whose text contains
// FailMarker fails with a syntax error, and after an extended-protocol error
// everything up to Sync is discarded, as PostgreSQL does. BEGIN, COMMIT and ROLLBACK
// move the transaction status. Message bodies are not validated; an unknown message
// type gets FATAL 08P01 and the connection closes.
func Respond(c *Conn) error {
	status := byte('I')
	skip := false
	fail := func(extended bool) []byte {
		b, _ := (&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "42601", Message: "syntax error"}).Encode(nil)
		if status == 'T' {
			status = 'E'
		}
		skip = extended
		return b
	}
	for {
		m, err := c.Receive()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		if m.Type == 'X' {
			return nil
		}
		if skip && m.Type != 'S' {
			continue
		}
		var out []byte
		switch m.Type {
		case 'Q':
			q := m.Text()
			switch {
			case failing(q):
				out = fail(false)
				skip = false
			case strings.TrimSpace(q) == "":
				out = appendMsg(out, 'I', nil)
			default:
				out = appendMsg(out, 'C', []byte(tag(q, &status)+"\x00"))
			}
			out = appendMsg(out, 'Z', []byte{status})
		case 'P':
			_, rest, _ := cstring(m.Body)
			if q, _, _ := cstring(rest); failing(q) {
				out = fail(true)
			} else {
				out = appendMsg(out, '1', nil)
			}
		case 'B':
			out = appendMsg(out, '2', nil)
		case 'D':
			if len(m.Body) > 0 && m.Body[0] == 'S' {
				out = appendMsg(out, 't', []byte{0, 0})
			}
			out = appendMsg(out, 'n', nil)
		case 'E':
			out = appendMsg(out, 'C', []byte("SELECT 0\x00"))
		case 'C':
			out = appendMsg(out, '3', nil)
		case 'S':
			skip = false
			out = appendMsg(out, 'Z', []byte{status})
		case 'F':
			out = appendMsg(out, 'V', []byte{0xff, 0xff, 0xff, 0xff})
			out = appendMsg(out, 'Z', []byte{status})
		case 'H', 'd', 'c', 'f':
			// Flush has nothing to flush; copy messages outside COPY are ignored, as
			// PostgreSQL ignores them.
		default:
			b, _ := (&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "08P01", Message: "invalid frontend message type"}).Encode(nil)
			c.SendRaw(b)
			return nil
		}
		if len(out) > 0 {
			if err := c.SendRaw(out); err != nil {
				return nil // the peer left
			}
		}
	}
}

func failing(q string) bool {
	return strings.Contains(q, FailMarker) || strings.HasPrefix(q, "motorpool refused")
}

// tag returns the command tag of a successful simple query and moves the status.
func tag(q string, status *byte) string {
	w := strings.ToUpper(strings.TrimSpace(q))
	switch {
	case strings.HasPrefix(w, "BEGIN"), strings.HasPrefix(w, "START TRANSACTION"):
		*status = 'T'
		return "BEGIN"
	case strings.HasPrefix(w, "COMMIT"), strings.HasPrefix(w, "END"):
		tag := "COMMIT"
		if *status == 'E' {
			tag = "ROLLBACK"
		}
		*status = 'I'
		return tag
	case strings.HasPrefix(w, "ROLLBACK"), strings.HasPrefix(w, "ABORT"):
		*status = 'I'
		return "ROLLBACK"
	case strings.HasPrefix(w, "SET"), strings.HasPrefix(w, "RESET"):
		return strings.Fields(w)[0]
	case strings.HasPrefix(w, "DISCARD"):
		return "DISCARD ALL"
	}
	return "SELECT 0"
}

func appendMsg(dst []byte, typ byte, body []byte) []byte {
	n := len(body) + 4
	dst = append(dst, typ, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(dst, body...)
}
