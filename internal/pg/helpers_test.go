package pg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/pg/pgtest"
	"github.com/motorpool/motorpool/internal/proxy"
)

// hangTimeout bounds every wait of a test on the network, only so that a hang fails
// the test instead of stalling the run.
const hangTimeout = 20 * time.Second

// env is motorpool in front of a fake PostgreSQL server: a proxy with the adapter,
// listening on loopback, whose one database is the fake server.
type env struct {
	t       testing.TB
	srv     *pgtest.Server
	adapter *Adapter
	px      *proxy.Proxy
	addr    string
	logs    *logRecorder
}

// envOptions configure newEnv.
type envOptions struct {
	mode     string // pool_mode; default transaction
	limit    int    // connection_limit; default 4
	database string // extra YAML lines for the database (indented by four spaces)
	top      string // extra top-level YAML
	// poolTimeout is the pool_timeout; default 10s.
	poolTimeout string
	adapter     Config
}

// newEnv starts a fake server whose connections run handle, and motorpool in front
// of it. Everything is closed when the test ends.
func newEnv(t testing.TB, o envOptions, handle func(*pgtest.Conn)) *env {
	t.Helper()
	srv := pgtest.NewServer(t, handle)
	return newEnvFor(t, o, srv)
}

func newEnvFor(t testing.TB, o envOptions, srv *pgtest.Server) *env {
	t.Helper()
	if o.mode == "" {
		o.mode = "transaction"
	}
	if o.limit == 0 {
		o.limit = 4
	}
	if o.poolTimeout == "" {
		o.poolTimeout = "10s"
	}
	top := o.top
	if !strings.Contains(top, "auth:") {
		top += "auth: { type: trust }\n"
	}
	yaml := fmt.Sprintf("%sdatabases:\n  db:\n    url: \"postgresql://srv:secret@127.0.0.1:%d/db?sslmode=disable\"\n"+
		"    pool_mode: %s\n    connection_limit: %d\n    min_connections: 0\n    pool_timeout: %s\n%s",
		top, srv.Port(), o.mode, o.limit, o.poolTimeout, o.database)
	cfg, err := config.Parse("test.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	logs := &logRecorder{}
	a := New(o.adapter)
	px, err := proxy.New(cfg, a, slog.New(logs))
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go px.Serve(ln)
	e := &env{t: t, srv: srv, adapter: a, px: px, addr: ln.Addr().String(), logs: logs}
	t.Cleanup(e.close)
	return e
}

// close shuts the proxy down, failing the test if that hangs or if a client handler
// panicked.
func (e *env) close() {
	done := make(chan struct{})
	go func() {
		e.px.Close()
		e.adapter.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(hangTimeout):
		buf := make([]byte, 1<<20)
		e.t.Errorf("proxy Close hangs:\n%s", buf[:runtime.Stack(buf, true)])
	}
	if p := e.logs.panics(); p != "" {
		e.t.Errorf("a client handler panicked: %s", p)
	}
}

// pool returns the proxy's pool of the database.
func (e *env) pool() *proxy.Pool {
	for _, p := range e.px.Pools() {
		if p.Database == "db" {
			return p
		}
	}
	e.t.Fatal("no pool")
	return nil
}

// awaitIdle waits until the pool holds n idle server connections: a client's
// answer reaches it before the pump releases the server connection it came from.
func (e *env) awaitIdle(n int) {
	e.t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for e.pool().Core().Stats().Idle != n {
		if time.Now().After(deadline) {
			e.t.Fatalf("the pool never held %d idle server connections", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// logRecorder is a slog handler that keeps what tests look for in the proxy's logs.
type logRecorder struct {
	mu     sync.Mutex
	panic  []string
	errors []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(r.Message, "panicked") {
		l.panic = append(l.panic, b.String())
	}
	if r.Level >= slog.LevelWarn {
		l.errors = append(l.errors, b.String())
	}
	return nil
}

// takePanics returns the panics logged so far and forgets them, for tests that cause
// them on purpose.
func (l *logRecorder) takePanics() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := strings.Join(l.panic, "\n")
	l.panic = nil
	return p
}

func (l *logRecorder) panics() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.panic, "\n")
}

// client is a PostgreSQL client speaking raw protocol to motorpool.
type client struct {
	t    testing.TB
	conn net.Conn
	key  pgproto3.BackendKeyData
	// params are the ParameterStatus values of the login.
	params map[string]string
}

// connect logs in to motorpool as user app to database db with extra startup params.
func (e *env) connect(params ...string) *client {
	e.t.Helper()
	c, msgs, err := e.tryConnect(params...)
	if err != nil {
		e.t.Fatalf("login: %v (got %v)", err, msgs)
	}
	return c
}

// tryConnect logs in and returns the login's messages; err is set if it did not end
// with ReadyForQuery.
func (e *env) tryConnect(params ...string) (*client, []pgproto3.BackendMessage, error) {
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		return nil, nil, err
	}
	c := &client{t: e.t, conn: conn, params: make(map[string]string)}
	e.t.Cleanup(func() { conn.Close() })
	p := map[string]string{"user": "app", "database": "db"}
	for i := 0; i+1 < len(params); i += 2 {
		p[params[i]] = params[i+1]
	}
	c.sendMsgs(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: p})
	var msgs []pgproto3.BackendMessage
	for {
		m, err := c.next()
		if err != nil {
			return c, msgs, err
		}
		msgs = append(msgs, m)
		switch m := m.(type) {
		case *pgproto3.ParameterStatus:
			c.params[m.Name] = m.Value
		case *pgproto3.BackendKeyData:
			c.key = *m
		case *pgproto3.ErrorResponse:
			return c, msgs, fmt.Errorf("%s %s %s", m.Severity, m.Code, m.Message)
		case *pgproto3.ReadyForQuery:
			return c, msgs, nil
		}
	}
}

// send writes messages to motorpool.
func (c *client) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	if err := c.sendMsgs(msgs...); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) sendMsgs(msgs ...pgproto3.FrontendMessage) error {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			return err
		}
	}
	return c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(hangTimeout))
	_, err := c.conn.Write(b)
	return err
}

// next reads one message.
func (c *client) next() (pgproto3.BackendMessage, error) {
	typ, body, err := readRaw(c.conn)
	if err != nil {
		return nil, err
	}
	return decodeBackend(typ, body)
}

// receive reads one message, failing the test on error.
func (c *client) receive() pgproto3.BackendMessage {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("receive: %v", err)
	}
	return m
}

// untilReady reads messages up to and including ReadyForQuery.
func (c *client) untilReady() []pgproto3.BackendMessage {
	c.t.Helper()
	var out []pgproto3.BackendMessage
	for {
		m := c.receive()
		out = append(out, m)
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return out
		}
	}
}

// query runs a simple query and returns its messages, ReadyForQuery included.
func (c *client) query(sql string) []pgproto3.BackendMessage {
	c.t.Helper()
	c.send(&pgproto3.Query{String: sql})
	return c.untilReady()
}

// untilEOF reads messages until motorpool closes the connection.
func (c *client) untilEOF() []pgproto3.BackendMessage {
	c.t.Helper()
	var out []pgproto3.BackendMessage
	for {
		m, err := c.next()
		if err != nil {
			if !isDisconnect(err) {
				c.t.Fatalf("receive: %v (after %v)", err, out)
			}
			return out
		}
		out = append(out, m)
	}
}

func (c *client) close() {
	c.sendMsgs(&pgproto3.Terminate{})
	c.conn.Close()
}

// readRaw reads one message's type and body, with a deadline against hangs.
func readRaw(conn net.Conn) (byte, []byte, error) {
	conn.SetReadDeadline(time.Now().Add(hangTimeout))
	var h [5]byte
	if _, err := io.ReadFull(conn, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(h[1:])))
	if n < 4 || n > 1<<30 {
		return 0, nil, fmt.Errorf("invalid message length %d", n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(conn, body); err != nil {
		return 0, nil, err
	}
	return h[0], body, nil
}

// decodeBackend decodes a server message into a fresh value.
func decodeBackend(typ byte, body []byte) (pgproto3.BackendMessage, error) {
	var m pgproto3.BackendMessage
	switch typ {
	case 'R':
		if len(body) < 4 {
			return nil, errors.New("short authentication message")
		}
		switch binary.BigEndian.Uint32(body) {
		case authOK:
			m = &pgproto3.AuthenticationOk{}
		case authMD5Password:
			m = &pgproto3.AuthenticationMD5Password{}
		case authSASL:
			m = &pgproto3.AuthenticationSASL{}
		case authSASLContinue:
			m = &pgproto3.AuthenticationSASLContinue{}
		case authSASLFinal:
			m = &pgproto3.AuthenticationSASLFinal{}
		default:
			return nil, fmt.Errorf("authentication type %d", binary.BigEndian.Uint32(body))
		}
	case 'S':
		m = &pgproto3.ParameterStatus{}
	case 'K':
		m = &pgproto3.BackendKeyData{}
	case 'Z':
		m = &pgproto3.ReadyForQuery{}
	case 'E':
		m = &pgproto3.ErrorResponse{}
	case 'N':
		m = &pgproto3.NoticeResponse{}
	case 'T':
		m = &pgproto3.RowDescription{}
	case 'D':
		m = &pgproto3.DataRow{}
	case 'C':
		m = &pgproto3.CommandComplete{}
	case '1':
		m = &pgproto3.ParseComplete{}
	case '2':
		m = &pgproto3.BindComplete{}
	case '3':
		m = &pgproto3.CloseComplete{}
	case 'n':
		m = &pgproto3.NoData{}
	case 't':
		m = &pgproto3.ParameterDescription{}
	case 'I':
		m = &pgproto3.EmptyQueryResponse{}
	case 's':
		m = &pgproto3.PortalSuspended{}
	case 'A':
		m = &pgproto3.NotificationResponse{}
	case 'v':
		m = &pgproto3.NegotiateProtocolVersion{}
	case 'G':
		m = &pgproto3.CopyInResponse{}
	case 'H':
		m = &pgproto3.CopyOutResponse{}
	case 'd':
		m = &pgproto3.CopyData{}
	case 'c':
		m = &pgproto3.CopyDone{}
	case 'V':
		m = &pgproto3.FunctionCallResponse{}
	default:
		return nil, fmt.Errorf("unknown message type %q", typ)
	}
	if err := m.Decode(body); err != nil {
		return nil, fmt.Errorf("decode %q: %w", typ, err)
	}
	return m, nil
}

// types renders messages as their type names, for compact assertions.
func types(msgs []pgproto3.BackendMessage) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(' ')
		}
		name := strings.TrimPrefix(fmt.Sprintf("%T", m), "*pgproto3.")
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			name += "(" + e.Code + ")"
		}
		if z, ok := m.(*pgproto3.ReadyForQuery); ok {
			name += "(" + string(z.TxStatus) + ")"
		}
		b.WriteString(name)
	}
	return b.String()
}

// errorCode returns the SQLSTATE of the last ErrorResponse in msgs, or "".
func errorCode(msgs []pgproto3.BackendMessage) string {
	code := ""
	for _, m := range msgs {
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			code = e.Code
		}
	}
	return code
}

// respondLogin is a fake server handler that logs in and answers everything.
func respondLogin(c *pgtest.Conn) {
	pgtest.Script{pgtest.Login(nil), pgtest.RespondAll()}.Run(c)
}

// serverLog collects what a fake server's connections did, for assertions from the
// test goroutine.
type serverLog struct {
	mu   sync.Mutex
	msgs []string
	errs []error
}

func (l *serverLog) add(s string) {
	l.mu.Lock()
	l.msgs = append(l.msgs, s)
	l.mu.Unlock()
}

func (l *serverLog) fail(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *serverLog) snapshot() ([]string, []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...), append([]error(nil), l.errs...)
}
