package pg

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xdg-go/scram"

	"github.com/motorpool/motorpool/internal/proxy"
)

// Config configures the client-facing side of the PostgreSQL adapter.
type Config struct {
	// TLS is the server certificate configuration for clients that send an
	// SSLRequest. Nil answers 'N' (no TLS). Adapter.SetTLS replaces it.
	TLS *tls.Config
	// RequireTLS refuses clients that do not encrypt (FATAL 28000).
	// Adapter.SetTLS replaces it.
	RequireTLS bool
	// LoginTimeout bounds the time from accept to the end of authentication. Zero
	// means one minute.
	LoginTimeout time.Duration
	// MaxPreparedStatements is how many prepared statements motorpool keeps on each
	// server connection in transaction and statement mode; beyond it the least
	// recently used is closed. Zero means 200 (PgBouncer's default).
	MaxPreparedStatements int
}

// Adapter is motorpool's PostgreSQL protocol adapter. It implements proxy.Protocol.
type Adapter struct {
	cfg Config
	tls atomic.Pointer[clientTLS] // cfg.TLS and cfg.RequireTLS, until SetTLS

	stmts statements // every distinct prepared statement seen, by server-side name

	cancelMu sync.Mutex
	cancels  map[cancelKey]*relay // clients by the BackendKeyData motorpool gave them
	nextPID  atomic.Uint32

	authq authQueryConns // auth_query's server connections, by target

	wg sync.WaitGroup // cancel-forwarding goroutines
}

// New returns an adapter.
func New(cfg Config) *Adapter {
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = time.Minute
	}
	if cfg.MaxPreparedStatements <= 0 {
		cfg.MaxPreparedStatements = 200
	}
	a := &Adapter{cfg: cfg, cancels: make(map[cancelKey]*relay)}
	a.SetTLS(cfg.TLS, cfg.RequireTLS)
	a.nextPID.Store(1 << 30) // far from real process IDs, for tidiness only
	return a
}

// clientTLS is what the adapter offers clients that ask for TLS, and whether it
// refuses those that do not.
type clientTLS struct {
	conf    *tls.Config // nil answers SSLRequest with 'N'
	require bool
	binding scram.ChannelBinding // of conf's certificate, for SCRAM-SHA-256-PLUS
}

// SetTLS replaces Config.TLS and Config.RequireTLS for the clients that connect
// from now on; those already past their startup keep what they negotiated. A nil
// conf refuses TLS; with require, it then refuses every client. It is safe to call
// while the adapter serves (configuration reload).
func (a *Adapter) SetTLS(conf *tls.Config, require bool) {
	a.tls.Store(&clientTLS{conf: conf, require: require, binding: endPointBinding(conf)})
}

// Reloaded tells the adapter a new configuration is in force: the connections
// auth_query keeps, made with the old one's addresses, TLS and settings, are closed.
func (a *Adapter) Reloaded() { a.authq.reset() }

var _ proxy.Protocol = (*Adapter)(nil)

// Name implements proxy.Protocol.
func (a *Adapter) Name() string { return "postgres" }

// Dial implements proxy.Protocol: it opens and authenticates a server connection.
func (a *Adapter) Dial(ctx context.Context, t *proxy.Target) (proxy.Backend, error) {
	sc, err := Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	sc.prepared.limit = a.cfg.MaxPreparedStatements
	return sc, nil
}

// Close closes auth_query's connections and waits for the adapter's own goroutines
// (cancel forwarding) to finish; lookups after it fail. It is an io.Closer, which the
// proxy closes after its clients and pools. It may be called more than once.
func (a *Adapter) Close() error {
	a.authq.close()
	a.wg.Wait()
	return nil
}

// Serve implements proxy.Protocol: it speaks with one client from its first byte to
// its last.
func (a *Adapter) Serve(ctx context.Context, c *proxy.Client) error {
	conn := fastConn(c.Conn)
	r := &relay{a: a, conn: conn}
	r.rd.conn = conn
	defer r.close()
	c.Conn.SetDeadline(time.Now().Add(a.cfg.LoginTimeout))
	sp, err := a.negotiate(r)
	if err != nil {
		if errors.Is(err, errCancelRequest) {
			return nil
		}
		return r.refuseLogin(err)
	}
	stop := context.AfterFunc(ctx, func() { r.close() })
	defer stop()
	sess, err := a.login(ctx, r, c, sp)
	var con errConsole
	if errors.As(err, &con) {
		return a.serveConsole(ctx, r, con.user, con.console)
	}
	if err != nil {
		return r.refuseLogin(err)
	}
	defer sess.Close()
	defer a.unregister(r)
	r.conn.SetDeadline(time.Time{})
	w := newWaitCtx(ctx)
	defer w.stop()
	r.wait.Store(w)
	err = r.serve(ctx)
	if errors.Is(err, errTerminate) || isDisconnect(err) {
		return nil
	}
	return err
}

// refuseLogin sends a login failure to the client, when it is one the client should
// see, and returns it for the proxy's log.
func (r *relay) refuseLogin(err error) error {
	var pe *Error
	var se *ServerError
	if errors.As(err, &pe) || errors.As(err, &se) {
		r.write(appendError(nil, err))
	}
	return err
}

// negotiate reads startup packets until a StartupMessage: it answers SSLRequest and
// GSSENCRequest and serves a CancelRequest. The TLS settings are those current when
// the client's first packet is read, for all its packets.
//
// As PostgreSQL, it answers each request once, and a GSSENCRequest after a TLS
// handshake not at all: a repeated one is refused like an unknown protocol version
// (0A000) instead of being answered until the login timeout.
func (a *Adapter) negotiate(r *relay) (*startupParams, error) {
	ct := a.tls.Load()
	sslDone, gssDone := false, false
	for {
		p, err := readStartupPacket(r.conn)
		if err != nil {
			return nil, err
		}
		switch {
		case p.code == codeSSL && !sslDone:
			if err := a.startTLS(r, ct); err != nil {
				return nil, err
			}
			_, encrypted := r.conn.(*tlsClient)
			sslDone, gssDone = true, gssDone || encrypted
		case p.code == codeGSSEnc && !gssDone:
			if _, err := r.conn.Write([]byte{'N'}); err != nil {
				return nil, err
			}
			gssDone = true
		case p.code == codeCancel:
			a.handleCancel(p.body)
			return nil, errCancelRequest
		default:
			sp, err := parseStartup(p.code, p.body)
			if err != nil {
				return nil, err
			}
			if _, encrypted := r.conn.(*tlsClient); ct.require && !encrypted {
				return nil, Fatalf(CodeInvalidAuthorization, "SSL is required: connect with sslmode=require")
			}
			return sp, nil
		}
	}
}

// startTLS answers the client's SSLRequest: 'N' when ct offers no TLS, else 'S' and
// the handshake.
func (a *Adapter) startTLS(r *relay, ct *clientTLS) error {
	if ct.conf == nil {
		_, err := r.conn.Write([]byte{'N'})
		return err
	}
	if _, err := r.conn.Write([]byte{'S'}); err != nil {
		return err
	}
	tc := tls.Server(r.conn, ct.conf)
	if err := tc.Handshake(); err != nil {
		return err
	}
	c := &tlsClient{Conn: tc, binding: ct.binding}
	r.conn, r.rd.conn = c, c
	return nil
}

var zeroTime time.Time

func isDisconnect(err error) bool {
	var ne net.Error
	return err == nil || errors.Is(err, net.ErrClosed) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
