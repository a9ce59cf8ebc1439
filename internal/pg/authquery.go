package pg

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/proxy"
)

// authQueryTimeout bounds one auth_query lookup, login included.
const authQueryTimeout = 10 * time.Second

var _ proxy.AuthQuerier = (*Adapter)(nil)

// LookupSecret implements proxy.AuthQuerier: it logs in to t as the auth user, runs
// query with user as $1 and returns the second column of its first row (the stored
// password), or "" when there is no row. Like PgBouncer's auth_query.
func (a *Adapter) LookupSecret(ctx context.Context, t *proxy.Target, query, user string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, authQueryTimeout)
	defer cancel()
	sc, err := dialLogin(ctx, t)
	if err != nil {
		return "", fmt.Errorf("auth_query login: %w", err)
	}
	defer sc.conn.Close()
	if d, ok := ctx.Deadline(); ok {
		sc.conn.SetDeadline(d)
	}
	var out []byte
	out, _ = (&pgproto3.Parse{Query: query}).Encode(out)
	out, _ = (&pgproto3.Bind{Parameters: [][]byte{[]byte(user)}}).Encode(out)
	out, _ = (&pgproto3.Execute{}).Encode(out)
	out, _ = (&pgproto3.Sync{}).Encode(out)
	if _, err := sc.conn.Write(out); err != nil {
		return "", err
	}
	rd := reader{conn: sc.conn, buf: make([]byte, 4096)}
	secret, found := "", false
	var qerr error
	for {
		msg, err := readMessage(&rd)
		if err != nil {
			return "", err
		}
		switch msg[0] {
		case msgDataRow:
			var row pgproto3.DataRow
			if err := row.Decode(msg[headerLen:]); err != nil {
				return "", err
			}
			if !found && len(row.Values) >= 2 && row.Values[1] != nil {
				secret, found = string(row.Values[1]), true
			}
		case msgErrorResponse:
			var se ServerError
			if err := se.Decode(msg[headerLen:]); err != nil {
				return "", err
			}
			qerr = &se
		case msgReadyForQuery:
			if qerr != nil {
				return "", fmt.Errorf("auth_query: %w", qerr)
			}
			return secret, nil
		}
	}
}
