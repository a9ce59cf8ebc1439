package pg

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/proxy"
)

// consoleParams are the ParameterStatus values the admin console reports.
var consoleParams = map[string]string{
	"server_version":              "15.0 (motorpool)",
	"server_encoding":             "UTF8",
	"client_encoding":             "UTF8",
	"DateStyle":                   "ISO, MDY",
	"TimeZone":                    "UTC",
	"integer_datetimes":           "on",
	"standard_conforming_strings": "on",
	"application_name":            "",
}

// serveConsole runs an admin console session: simple queries only, each answered by
// the proxy's Console as a table, with its column types and NULLs.
func (a *Adapter) serveConsole(ctx context.Context, r *relay, user string, con proxy.Console) error {
	var out []byte
	for _, k := range sortedKeys(consoleParams) {
		out, _ = (&pgproto3.ParameterStatus{Name: k, Value: consoleParams[k]}).Encode(out)
	}
	out = appendMsg(out, msgBackendKeyData, []byte{0, 0, 0, 0, 0, 0, 0, 0})
	r.write(append(out, readyIdle...))
	r.conn.SetDeadline(zeroTime)
	skip := false
	for {
		msg, err := readMessage(&r.rd)
		if err != nil {
			if isDisconnect(err) {
				return nil
			}
			return err
		}
		switch typ := msg[0]; {
		case typ == msgTerminate:
			return nil
		case typ == msgQuery:
			q, _, _ := cstring(msg[headerLen:])
			r.write(append(runConsole(ctx, con, user, string(q)), readyIdle...))
		case typ == msgSync:
			if skip {
				skip = false
				r.write(readyIdle)
			}
		case skip:
		default:
			r.write(appendError(nil, Errorf(CodeFeatureNotSupported, "the admin console supports the simple query protocol only")))
			skip = true
		}
		r.rd.shrink(clientBufSize)
	}
}

// consoleTypes are the PostgreSQL types of a proxy.ConsoleResult's column types: OID
// and size.
var consoleTypes = map[string]struct {
	oid  uint32
	size int16
}{
	"integer": {23, 4},
	"bigint":  {20, 8},
	"numeric": {1700, -1},
}

// runConsole runs each statement of a query string and encodes the results.
func runConsole(ctx context.Context, con proxy.Console, user, query string) []byte {
	var out []byte
	ran := false
	for _, stmt := range strings.Split(query, ";") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		ran = true
		res, err := con.Exec(ctx, user, stmt)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				pe = Errorf(CodeFeatureNotSupported, "%s", err.Error())
			}
			return appendError(out, pe)
		}
		out = appendResult(out, res)
	}
	if !ran {
		out = append(out, msgEmptyQueryResponse, 0, 0, 0, 4)
	}
	return out
}

// appendResult encodes a console result: RowDescription, DataRows and
// CommandComplete. Columns are text unless res.Types says otherwise (text format
// either way); a cell is NULL where res.Nulls says so, or where its row is short.
func appendResult(dst []byte, res *proxy.ConsoleResult) []byte {
	types, nulls := res.Types, res.Nulls
	if len(res.Columns) > 0 {
		rd := pgproto3.RowDescription{}
		for i, c := range res.Columns {
			f := pgproto3.FieldDescription{Name: []byte(c), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}
			if i < len(types) {
				if t, ok := consoleTypes[types[i]]; ok {
					f.DataTypeOID, f.DataTypeSize = t.oid, t.size
				}
			}
			rd.Fields = append(rd.Fields, f)
		}
		dst, _ = rd.Encode(dst)
		for r, row := range res.Rows {
			dr := pgproto3.DataRow{Values: make([][]byte, len(res.Columns))}
			for i := range res.Columns {
				if i < len(row) && !(r < len(nulls) && i < len(nulls[r]) && nulls[r][i]) {
					dr.Values[i] = []byte(row[i])
				}
			}
			dst, _ = dr.Encode(dst)
		}
	}
	tag := res.Tag
	if tag == "" {
		tag = "SHOW"
	}
	dst, _ = (&pgproto3.CommandComplete{CommandTag: []byte(tag)}).Encode(dst)
	return dst
}
