package pg

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/proxy"
)

// authQueryTimeout bounds one auth_query lookup: the wait for a connection, a login
// if one is needed, and the query.
const authQueryTimeout = 10 * time.Second

var _ proxy.AuthQuerier = (*Adapter)(nil)

// LookupSecret implements proxy.AuthQuerier: as the auth user of t, it runs query with
// user as $1 and returns the second column of its first row (the stored password), or
// "" when there is no row. Like PgBouncer's auth_query.
//
// Lookups run on connections kept open per target (authPool): at most
// authQueryMaxConns per target at once, the others waiting until ctx ends or
// authQueryTimeout passes. A connection is kept only when its lookup ended with the
// server idle; when a kept one fails before the server answers (it was closed while
// idle), the lookup is run once more on a new connection.
func (a *Adapter) LookupSecret(ctx context.Context, t *proxy.Target, query, user string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, authQueryTimeout)
	defer cancel()
	p, err := a.authq.get(t)
	if err != nil {
		return "", err
	}
	c, err := p.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer p.done()
	if c != nil {
		secret, answered, err := c.lookup(ctx, query, user)
		if answered || ctx.Err() != nil {
			p.finish(c)
			return secret, err
		}
		c.close()
	}
	sc, err := dialLogin(ctx, t)
	if err != nil {
		return "", fmt.Errorf("auth_query login: %w", err)
	}
	c = &lookupConn{conn: sc.conn, rd: reader{conn: sc.conn}}
	secret, _, err := c.lookup(ctx, query, user)
	p.finish(c)
	return secret, err
}

// finish keeps c for the next lookup when its last one left it clean, and closes it
// otherwise.
func (p *authPool) finish(c *lookupConn) {
	if c.clean {
		p.put(c)
		return
	}
	c.close()
}

// lookup runs query for user on c. answered reports whether the server answered
// (ReadyForQuery came); c.clean whether c may be used again.
func (c *lookupConn) lookup(ctx context.Context, query, user string) (secret string, answered bool, err error) {
	c.clean = false
	if d, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			c.clean = false // the deadline may be cut from under the next lookup
		}
	}()
	var out []byte
	out, _ = (&pgproto3.Parse{Query: query}).Encode(out)
	out, _ = (&pgproto3.Bind{Parameters: [][]byte{[]byte(user)}}).Encode(out)
	out, _ = (&pgproto3.Execute{}).Encode(out)
	out, _ = (&pgproto3.Sync{}).Encode(out)
	if _, err := c.conn.Write(out); err != nil {
		return "", false, err
	}
	found := false
	var qerr error
	for {
		msg, err := readMessage(&c.rd)
		if err != nil {
			return "", false, err
		}
		switch msg[0] {
		case msgDataRow:
			var row pgproto3.DataRow
			if err := row.Decode(msg[headerLen:]); err != nil {
				return "", false, err
			}
			if !found && len(row.Values) >= 2 && row.Values[1] != nil {
				secret, found = string(row.Values[1]), true
			}
		case msgErrorResponse:
			var se ServerError
			if err := se.Decode(msg[headerLen:]); err != nil {
				return "", false, err
			}
			qerr = &se
		case msgReadyForQuery:
			c.clean = len(msg) > headerLen && msg[headerLen] == txIdle && c.rd.empty()
			c.rd.release()
			if qerr != nil {
				return "", true, fmt.Errorf("auth_query: %w", qerr)
			}
			return secret, true, nil
		}
	}
}
