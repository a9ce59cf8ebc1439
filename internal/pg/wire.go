package pg

import "encoding/binary"

// Message type bytes of the protocol, by direction.
// https://www.postgresql.org/docs/current/protocol-message-formats.html
const (
	// Frontend (client to server).
	msgBind         = 'B'
	msgClose        = 'C'
	msgCopyData     = 'd'
	msgCopyDone     = 'c'
	msgCopyFail     = 'f'
	msgDescribe     = 'D'
	msgExecute      = 'E'
	msgFlush        = 'H'
	msgFunctionCall = 'F'
	msgParse        = 'P'
	msgPassword     = 'p'
	msgQuery        = 'Q'
	msgSync         = 'S'
	msgTerminate    = 'X'

	// Backend (server to client).
	msgAuthentication       = 'R'
	msgBackendKeyData       = 'K'
	msgBindComplete         = '2'
	msgCloseComplete        = '3'
	msgCommandComplete      = 'C'
	msgCopyBothResponse     = 'W'
	msgCopyInResponse       = 'G'
	msgCopyOutResponse      = 'H'
	msgDataRow              = 'D'
	msgEmptyQueryResponse   = 'I'
	msgErrorResponse        = 'E'
	msgFunctionCallResponse = 'V'
	msgNegotiateProtocol    = 'v'
	msgNoData               = 'n'
	msgNoticeResponse       = 'N'
	msgNotification         = 'A'
	msgParameterDescription = 't'
	msgParameterStatus      = 'S'
	msgParseComplete        = '1'
	msgPortalSuspended      = 's'
	msgReadyForQuery        = 'Z'
	msgRowDescription       = 'T'
)

// Transaction status bytes carried by ReadyForQuery.
const (
	txIdle    = 'I'
	txInBlock = 'T'
	txFailed  = 'E'
)

const (
	// headerLen is the size of a regular message header: type byte and int32 length.
	headerLen = 5

	// maxStartupLen is the largest startup packet accepted, as PostgreSQL's
	// MAX_STARTUP_PACKET_LENGTH (10 000 bytes).
	maxStartupLen = 10000

	// maxMessageLen is the largest message length accepted from either side, the
	// largest PostgreSQL accepts (PQ_LARGE_MESSAGE_LIMIT, MaxAllocSize - 1); anything
	// larger is a corrupt or hostile stream, which the server would drop the
	// connection for.
	maxMessageLen = 1<<30 - 2

	// maxSmallMessage bounds the body of client messages other than those that carry
	// queries or data (PostgreSQL's PQ_SMALL_MESSAGE_LIMIT).
	maxSmallMessage = 10000
)

// longMessage reports whether a client message type may exceed maxSmallMessage, as
// PostgreSQL allows for Query, Parse, Bind, CopyData and FunctionCall.
func longMessage(typ byte) bool {
	switch typ {
	case msgQuery, msgParse, msgBind, msgCopyData, msgFunctionCall:
		return true
	}
	return false
}

// Startup packet codes (the int32 after the length in an untyped startup packet).
const (
	codeProtocol30 = 3<<16 | 0
	codeProtocol32 = 3<<16 | 2
	codeCancel     = 1234<<16 | 5678
	codeSSL        = 1234<<16 | 5679
	codeGSSEnc     = 1234<<16 | 5680
)

// header describes one message: its type and total length on the wire, header included.
type header struct {
	typ  byte
	size int // 1 + the int32 length field
}

// parseHeader decodes a message header from the first five bytes of b. It reports
// ok=false for a length field below 4 or above maxMessageLen.
func parseHeader(b []byte) (h header, ok bool) {
	n := int(int32(binary.BigEndian.Uint32(b[1:5])))
	if n < 4 || n > maxMessageLen {
		return header{typ: b[0]}, false
	}
	return header{typ: b[0], size: n + 1}, true
}

// appendHeader appends a message header for a body of bodyLen bytes.
func appendHeader(dst []byte, typ byte, bodyLen int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, typ), uint32(bodyLen+4))
}

// appendMsg appends a whole message with the given body.
func appendMsg(dst []byte, typ byte, body []byte) []byte {
	return append(appendHeader(dst, typ, len(body)), body...)
}

// cstring splits a NUL-terminated string off the front of b.
func cstring(b []byte) (s []byte, rest []byte, ok bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return nil, nil, false
}
