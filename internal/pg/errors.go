package pg

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATE codes motorpool itself reports.
// https://www.postgresql.org/docs/current/errcodes-appendix.html
const (
	CodeConnectionException       = "08000"
	CodeConnectionFailure         = "08006"
	CodeUnableToConnect           = "08001" // sqlclient_unable_to_establish_sqlconnection
	CodeProtocolViolation         = "08P01"
	CodeFeatureNotSupported       = "0A000"
	CodeInvalidAuthorization      = "28000"
	CodeInvalidPassword           = "28P01"
	CodeInvalidCatalogName        = "3D000"
	CodeTooManyConnections        = "53300"
	CodeAdminShutdown             = "57P01"
	CodeCannotConnectNow          = "57P03"
	CodeQueryCanceled             = "57014"
	CodeInternalError             = "XX000"
	CodeInvalidParameterValue     = "22023"
	CodeActiveSQLTransaction      = "25001"
	CodeDuplicatePreparedStmt     = "42P05"
	CodeUndefinedPreparedStmt     = "26000"
	CodeObjectNotInPrerequisite   = "55000"
	CodeInvalidTransactionState   = "25000"
	CodeInFailedSQLTransaction    = "25P02"
	CodeProgramLimitExceeded      = "54000"
	CodeConfigurationLimitExceeds = "53400"
)

// Error is an error motorpool reports to a client in its own protocol. Fatal errors end
// the client's connection after they are sent.
type Error struct {
	Severity string // ERROR or FATAL
	Code     string // SQLSTATE
	Message  string
	Detail   string
	Hint     string
	Err      error // cause, not shown to the client
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s %s", e.Severity, e.Code, e.Message)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Fatal reports whether sending e ends the client's connection.
func (e *Error) Fatal() bool { return e.Severity == "FATAL" }

// Fatalf returns a FATAL error with the given SQLSTATE.
func Fatalf(code, format string, args ...any) *Error {
	return &Error{Severity: "FATAL", Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errorf returns an ERROR-level error with the given SQLSTATE.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Severity: "ERROR", Code: code, Message: fmt.Sprintf(format, args...)}
}

// ServerError is an ErrorResponse a PostgreSQL server sent. It is relayed to the client
// unchanged, with its own SQLSTATE.
type ServerError struct {
	pgproto3.ErrorResponse
}

// SQLState returns the error's SQLSTATE code, as pgconn.PgError's does.
func (e *ServerError) SQLState() string { return e.Code }

func (e *ServerError) Error() string {
	return fmt.Sprintf("server: %s %s %s", e.Severity, e.Code, e.Message)
}

// asClientError turns any error into what the client should see.
func asClientError(err error) *pgproto3.ErrorResponse {
	var se *ServerError
	if errors.As(err, &se) {
		r := se.ErrorResponse
		return &r
	}
	var pe *Error
	if !errors.As(err, &pe) {
		pe = &Error{Severity: "FATAL", Code: CodeInternalError, Message: "motorpool: " + err.Error()}
	}
	return &pgproto3.ErrorResponse{
		Severity:            pe.Severity,
		SeverityUnlocalized: pe.Severity,
		Code:                pe.Code,
		Message:             pe.Message,
		Detail:              pe.Detail,
		Hint:                pe.Hint,
	}
}

// appendError encodes err as an ErrorResponse.
func appendError(dst []byte, err error) []byte {
	b, encErr := asClientError(err).Encode(dst)
	if encErr != nil { // only on absurd field sizes; say something rather than nothing
		b, _ = (&pgproto3.ErrorResponse{Severity: "FATAL", Code: CodeInternalError, Message: "motorpool: unencodable error"}).Encode(dst)
	}
	return b
}

// isFatal reports whether err, once sent, must end the client connection.
func isFatal(err error) bool {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Fatal()
	}
	var se *ServerError
	if errors.As(err, &se) {
		return se.Severity == "FATAL" || se.Severity == "PANIC"
	}
	return true
}

// serverErrorCode returns the SQLSTATE of an ErrorResponse message (header
// included), or "" if it has none.
func serverErrorCode(msg []byte) string { return string(errorField(msg, 'C')) }

// serverErrorFatal reports whether an ErrorResponse message (header included)
// ends the server's session: severity FATAL or PANIC.
func serverErrorFatal(msg []byte) bool {
	v := errorField(msg, 'V') // not localized; since PostgreSQL 9.6
	if v == nil {
		v = errorField(msg, 'S')
	}
	return string(v) == "FATAL" || string(v) == "PANIC"
}

// errorField returns the value of field f of an ErrorResponse or NoticeResponse
// message (header included), or nil if it has none.
func errorField(msg []byte, f byte) []byte {
	for b := msg[headerLen:]; len(b) > 0 && b[0] != 0; {
		field := b[0]
		v, rest, ok := cstring(b[1:])
		if !ok {
			return nil
		}
		if field == f {
			return v
		}
		b = rest
	}
	return nil
}
