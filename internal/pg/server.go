package pg

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/proxy"
)

// ServerConn is one authenticated connection from motorpool to a PostgreSQL server.
// A goroutine, its pump, reads everything the server sends for as long as the
// connection lives and relays it to the client bound at that moment.
type ServerConn struct {
	conn net.Conn
	addr string
	pid  uint32
	key  []byte
	// params are the ParameterStatus values reported at startup. Read-only.
	params map[string]string

	// settings is the session state in effect. It is used by whoever holds the lease.
	settings *settings
	// prepared is the set of motorpool's named statements prepared on the connection.
	// Guarded by mu.
	prepared lru

	// broken is set once the connection has failed; it is never reused after that.
	broken atomic.Bool

	// wmu serializes writes to the server. A push of expectations and the write of the
	// messages they describe happen under one wmu hold, so the server receives messages
	// in the order the pump expects their responses. Lock order: wmu, then mu.
	wmu sync.Mutex

	mu     sync.Mutex  // protects the fields below, shared by the pump and the bound client
	client *relay      // bound client; nil while the connection sits in its pool
	lease  proxy.Lease // the bound client's hold on this connection
	q      queue       // responses owed by the server, in order
	tx     byte        // status from the last ReadyForQuery
	// txBegan is when the first client request of the transaction in progress was
	// sent (nanotime), 0 between transactions.
	txBegan int64
	err     error // why the connection failed
	// schemaChanged is set when the transaction in progress changed the schema (see
	// changesSchema): its end makes the change visible to other sessions.
	schemaChanged bool
	// dirty marks session state motorpool cannot carry to another client; the next
	// client to bind the connection resets it first.
	dirty bool
	// cancels counts cancel requests in flight for this connection's current query; a
	// release waits for them (releaseAfterCancel) so a late cancel cannot hit the
	// next client's query.
	cancels            int
	releaseAfterCancel bool
	// leaverRollback is set once motorpool has sent ROLLBACK for a client that left
	// while its statement ran inside a transaction (see settleFromPump).
	leaverRollback bool
	pendingLease   proxy.Lease
	pendingSess    *proxy.Session

	done chan struct{} // closed when the pump exits
}

// Dial connects to a PostgreSQL server, authenticates and starts the connection's pump.
// ctx bounds the whole login.
func Dial(ctx context.Context, cfg *proxy.Target) (*ServerConn, error) {
	sc, err := dialLogin(ctx, cfg)
	if err != nil {
		return nil, err
	}
	go sc.pump()
	return sc, nil
}

// dialLogin connects and authenticates to the first address that accepts, without
// starting the pump.
func dialLogin(ctx context.Context, cfg *proxy.Target) (*ServerConn, error) {
	var errs []error
	for _, addr := range cfg.Addresses {
		sc, err := dialOne(ctx, cfg, addr)
		if err == nil {
			return sc, nil
		}
		errs = append(errs, err)
		var se *ServerError
		if errors.As(err, &se) || ctx.Err() != nil {
			break // the server answered: another host will not change the verdict
		}
	}
	if len(errs) == 0 {
		return nil, errors.New("no server address configured")
	}
	return nil, errors.Join(errs...)
}

// errLoginTimeout is a server that accepted the connection but did not finish the
// login in time: the dial's deadline is the pool's connect_timeout.
var errLoginTimeout = errors.New("the server did not complete the login within connect_timeout")

func dialOne(ctx context.Context, cfg *proxy.Target, addr string) (*ServerConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network(addr), addr)
	if err != nil {
		return nil, err
	}
	conn = fastConn(conn)
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	sc, err := login(conn, cfg, addr)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			err = errLoginTimeout
		}
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	sc.conn.SetDeadline(time.Time{})
	return sc, nil
}

// login runs the startup exchange on a fresh connection.
func login(conn net.Conn, cfg *proxy.Target, addr string) (*ServerConn, error) {
	sc := &ServerConn{conn: conn, addr: addr, params: make(map[string]string), tx: txIdle, done: make(chan struct{})}
	if cfg.TLS != nil && network(addr) == "tcp" { // as libpq, no TLS on Unix sockets
		tlsConn, err := startTLS(conn, cfg, addr)
		if err != nil {
			return nil, err
		}
		if tlsConn != nil {
			sc.conn = tlsConn
		}
	}
	params := map[string]string{"user": cfg.User, "database": cfg.Database}
	for k, v := range cfg.Params {
		params[k] = v
	}
	startup, err := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params}).Encode(nil)
	if err != nil {
		return nil, err
	}
	if _, err := sc.conn.Write(startup); err != nil {
		return nil, err
	}
	_, encrypted := sc.conn.(*tls.Conn)
	auth := serverAuth{user: cfg.User, password: cfg.Password, cleartextOK: encrypted || cfg.AllowCleartext}
	rd := reader{conn: sc.conn, buf: make([]byte, 4096)}
	for {
		msg, err := readMessage(&rd)
		if err != nil {
			return nil, err
		}
		body := msg[headerLen:]
		switch msg[0] {
		case msgAuthentication:
			reply, err := auth.respond(body)
			if err != nil {
				return nil, err
			}
			if reply != nil {
				if _, err := sc.conn.Write(reply); err != nil {
					return nil, err
				}
			}
		case msgParameterStatus:
			var ps pgproto3.ParameterStatus
			if err := ps.Decode(body); err != nil {
				return nil, err
			}
			sc.params[ps.Name] = ps.Value
		case msgBackendKeyData:
			if len(body) < 8 {
				return nil, errors.New("BackendKeyData too short")
			}
			sc.pid = binary.BigEndian.Uint32(body)
			sc.key = append([]byte(nil), body[4:]...)
		case msgErrorResponse:
			var se ServerError
			if err := se.Decode(body); err != nil {
				return nil, err
			}
			return nil, &se
		case msgNoticeResponse, msgNegotiateProtocol:
		case msgReadyForQuery:
			if !rd.empty() {
				return nil, errors.New("server sent data after ReadyForQuery")
			}
			sc.settings = newServerSettings(cfg.Params, sc.params)
			return sc, nil
		default:
			return nil, fmt.Errorf("unexpected message %q during startup", msg[0])
		}
	}
}

// network returns "unix" for a socket path and "tcp" for host:port.
func network(addr string) string {
	if strings.HasPrefix(addr, "/") {
		return "unix"
	}
	return "tcp"
}

// startTLS sends an SSLRequest. It returns nil, nil when the server refuses and TLS is
// optional. The certificate is checked against addr's host, unless cfg.TLS names
// another.
func startTLS(conn net.Conn, cfg *proxy.Target, addr string) (*tls.Conn, error) {
	req := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), codeSSL)
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	var answer [1]byte
	if _, err := conn.Read(answer[:]); err != nil {
		return nil, err
	}
	switch answer[0] {
	case 'S':
		conf := cfg.TLS
		if conf.ServerName == "" {
			conf = conf.Clone()
			conf.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(conn, conf)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		return tc, nil
	case 'N':
		if cfg.TLSRequired {
			return nil, errors.New("server does not support TLS (sslmode requires it)")
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected answer %q to SSLRequest", answer[0])
}

// readMessage reads one whole message of at most maxStartupLen bytes beyond the
// header, for the login phases where messages are small.
func readMessage(rd *reader) ([]byte, error) {
	for {
		h, ok, err := rd.peekHeader()
		if err != nil {
			return nil, err
		}
		if ok {
			if h.size > maxInspectLen {
				return nil, errMessageTooLong
			}
			return rd.whole(h, maxInspectLen)
		}
		if err := rd.fill(); err != nil {
			return nil, err
		}
	}
}

// PID returns the server process ID.
func (sc *ServerConn) PID() uint32 { return sc.pid }

var _ proxy.ProcessIDer = (*ServerConn)(nil)

// Params returns the server's ParameterStatus values at login. The map must not be changed.
func (sc *ServerConn) Params() map[string]string { return sc.params }

// Usable reports whether the connection is still open and in sync.
func (sc *ServerConn) Usable() bool { return !sc.broken.Load() }

// closeWait bounds how long Close waits for the server to end a connection it
// said goodbye to.
const closeWait = time.Second

// Close closes the connection, telling the server goodbye, and waits for its pump.
// After Terminate it waits (up to closeWait) for the server to close its end, which
// PostgreSQL does once the backend has exited and freed its slot: until then the
// server still counts the connection (max_connections, pg_stat_activity), so the
// pool, and a database's budget, count it too.
func (sc *ServerConn) Close() error {
	if !sc.broken.Load() {
		sc.mu.Lock()
		if sc.err == nil {
			sc.err = errClosed // not the server's EOF the pump is about to see
		}
		sc.mu.Unlock()
		sc.conn.SetWriteDeadline(time.Now().Add(closeWait))
		if _, err := sc.conn.Write([]byte{msgTerminate, 0, 0, 0, 4}); err == nil {
			t := time.NewTimer(closeWait)
			select {
			case <-sc.done:
			case <-t.C:
			}
			t.Stop()
		}
	}
	sc.fail(errClosed)
	<-sc.done
	return nil
}

var errClosed = errors.New("server connection closed")

// fail marks the connection broken and closes its socket, which stops the pump.
func (sc *ServerConn) fail(err error) {
	sc.mu.Lock()
	if sc.err == nil {
		sc.err = err
	}
	sc.mu.Unlock()
	sc.broken.Store(true)
	sc.conn.Close()
}

// failFor fails the connection if client r still holds it. It closes the socket under
// mu, so that the pump cannot hand the connection to another client meanwhile.
func (sc *ServerConn) failFor(r *relay, err error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.client != r {
		return
	}
	if sc.err == nil {
		sc.err = err
	}
	sc.broken.Store(true)
	sc.conn.Close()
}

// Validate checks that the connection still answers, for the pool's check of a
// connection idle for a while: it sends an empty query and waits for its
// ReadyForQuery. A server host that vanished without closing its sockets (a network
// partition, a firewall that dropped the idle flow) shows here rather than at a
// client's query. A connection that does not answer before ctx ends is closed. It is
// called on an idle connection, which no client holds.
func (sc *ServerConn) Validate(ctx context.Context) error {
	n := &stmtNote{kind: noteProbe, params: map[string]string{}, done: make(chan struct{})}
	sc.wmu.Lock()
	sc.mu.Lock()
	if sc.broken.Load() {
		err := sc.err
		sc.mu.Unlock()
		sc.wmu.Unlock()
		return fmt.Errorf("connection lost: %w", err)
	}
	if sc.client != nil || sc.q.len() > 0 {
		sc.mu.Unlock()
		sc.wmu.Unlock()
		return errors.New("validation of a connection in use")
	}
	sc.q.push(expectation{kind: expectQuery, drop: true, note: n})
	sc.mu.Unlock()
	sc.writeLocked(emptyQueryMsg)
	sc.wmu.Unlock()
	select {
	case <-n.done:
		return n.err // an error answer, or the connection lost (see lost)
	case <-sc.done: // the pump is gone: it lost the connection before the query
		return fmt.Errorf("connection lost: %w", sc.Err())
	case <-ctx.Done():
		err := fmt.Errorf("no answer to a validation query: %w", ctx.Err())
		sc.fail(err)
		return err
	}
}

// emptyQueryMsg is the validation query: an empty statement.
var emptyQueryMsg = appendQuery(nil, ";")

// Err returns why the connection failed, or nil.
func (sc *ServerConn) Err() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.err
}
