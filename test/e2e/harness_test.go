package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
)

// Client credentials every test proxy knows (auth.users).
const (
	appUser     = "app"
	appPassword = "app-secret"
)

// motorpoolBin is the motorpool executable built by TestMain, for the tests that need a
// separate process (signals, reload from file, TLS from file, memory).
var motorpoolBin string

func TestMain(m *testing.M) {
	dir, err := testenv.RunDir()
	if err == nil {
		motorpoolBin = filepath.Join(dir, "motorpool")
		err = buildBinary(motorpoolBin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build motorpool: %v\n", err)
		os.Exit(1)
	}
	testenv.Main(m) // stops the servers and removes the run directory, binary included
}

// buildBinary builds ./cmd/motorpool without the race detector: the memory test
// measures the real thing.
func buildBinary(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-o", out, "github.com/motorpool/motorpool/cmd/motorpool")
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, b)
	}
	return nil
}

// ctxFor returns a context that ends with the test, or after limit. The limit only
// keeps a broken run from hanging; no test asserts how fast anything is.
func ctxFor(t testing.TB, limit time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

func testCtx(t testing.TB) context.Context { return ctxFor(t, 2*time.Minute) }

// setup describes a motorpool for one test. The zero value is a transaction-mode
// pool of 2 server connections, logged in as scram_user, on a fresh database of the
// shared PostgreSQL, with SCRAM client authentication for app/app-secret.
type setup struct {
	Mode     string // pool_mode; "" is transaction
	PoolSize int    // connection_limit; 0 is 2
	// ClientAuth is auth.type; "" is scram-sha-256.
	ClientAuth string
	// ServerUser and ServerPassword are the URL's; "" is scram_user. ServerUser "-"
	// leaves the URL without a user: server connections log in as the client.
	ServerUser, ServerPassword string
	// URLParams are appended to the database URL ("pool_timeout=1&...").
	URLParams string
	// DBYAML is extra YAML under the database (indented by the caller with 4 spaces).
	DBYAML string
	// TopYAML is extra top-level YAML.
	TopYAML string
	// MaxClients is max_client_connections; 0 is the default.
	MaxClients int
	// Adapter configures pg.New.
	Adapter pg.Config
	// PG is the server; nil is the shared one.
	PG *testenv.PG
	// Database is the database name (clients and server alike); "" creates one.
	Database string
	// ServerAddr overrides the server's host:port in the URL (a database that is down).
	ServerAddr string
}

// env is a running in-process motorpool in front of a PostgreSQL.
type env struct {
	t     testing.TB
	PG    *testenv.PG
	DB    string
	Addr  string // host:port of the proxy
	Proxy *proxy.Proxy
}

var dbSeq atomic.Int64

// newDatabase creates a fresh database on pg for t, dropped at the end of the test.
func newDatabase(t testing.TB, p *testenv.PG) string {
	t.Helper()
	base := strings.ToLower(t.Name())
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, base)
	if len(base) > 40 {
		base = base[:40]
	}
	return p.CreateDatabase(t, fmt.Sprintf("e2e_%s_%d", base, dbSeq.Add(1)))
}

// yamlFor renders the configuration of s for a motorpool listening on listen.
func (s setup) yamlFor(p *testenv.PG, db, listen string) string {
	mode := s.Mode
	if mode == "" {
		mode = "transaction"
	}
	size := s.PoolSize
	if size == 0 {
		size = 2
	}
	auth := s.ClientAuth
	if auth == "" {
		auth = "scram-sha-256"
	}
	user, pw := s.ServerUser, s.ServerPassword
	if user == "" {
		user, pw = testenv.ScramUser, testenv.ScramPassword
	}
	u := url.URL{Scheme: "postgresql", Host: net.JoinHostPort(p.Host, strconv.Itoa(p.Port)), Path: "/" + db}
	if s.ServerAddr != "" {
		u.Host = s.ServerAddr
	}
	switch {
	case user == "-":
	case pw == "":
		u.User = url.User(user)
	default:
		u.User = url.UserPassword(user, pw)
	}
	q := "connection_limit=" + strconv.Itoa(size)
	if !strings.Contains(s.URLParams, "sslmode=") {
		q = "sslmode=disable&" + q
	}
	if s.URLParams != "" {
		q += "&" + s.URLParams
	}
	u.RawQuery = q
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\n", listen)
	if s.MaxClients > 0 {
		fmt.Fprintf(&b, "max_client_connections: %d\n", s.MaxClients)
	}
	fmt.Fprintf(&b, "admin: { listen: 127.0.0.1:0 }\n")
	fmt.Fprintf(&b, "auth:\n  type: %s\n  users:\n    %s: { password: %q }\n", auth, appUser, appPassword)
	b.WriteString(s.TopYAML)
	fmt.Fprintf(&b, "databases:\n  %s:\n    url: %q\n    pool_mode: %s\n", db, u.String(), mode)
	b.WriteString(s.DBYAML)
	return b.String()
}

// start runs motorpool in this process; t.Cleanup closes it.
func start(t testing.TB, s setup) *env {
	t.Helper()
	p := s.PG
	if p == nil {
		p = testenv.Postgres(t)
	}
	db := s.Database
	if db == "" {
		db = newDatabase(t, p)
	}
	text := s.yamlFor(p, db, "127.0.0.1:0")
	cfg, err := config.Parse("test.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	log, stopLog := testLogger(t)
	px, err := proxy.New(cfg, pg.New(s.Adapter), log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- px.Serve(ln) }()
	t.Cleanup(func() {
		px.Close()
		<-served
		stopLog()
	})
	return &env{t: t, PG: p, DB: db, Addr: ln.Addr().String(), Proxy: px}
}

// testLogger returns a logger writing to t.Log, and a function that silences it
// (goroutines may outlive the test by a little; t.Log after the end panics).
// E2E_DEBUG=1 logs at debug level.
func testLogger(t testing.TB) (*slog.Logger, func()) {
	w := &tWriter{t: t}
	level := slog.LevelInfo
	if os.Getenv("E2E_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), w.stop
}

type tWriter struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (w *tWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *tWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// hostPort splits e.Addr.
func (e *env) hostPort() (string, int) {
	h, p, _ := net.SplitHostPort(e.Addr)
	n, _ := strconv.Atoi(p)
	return h, n
}

// DSN is a URL connection string to the proxy as user/password, with extra
// parameters ("application_name=x&search_path=y").
func (e *env) DSN(user, password, extra string) string {
	return dsn(e.Addr, user, password, e.DB, extra)
}

// AppDSN is DSN for the app user.
func (e *env) AppDSN(extra string) string { return e.DSN(appUser, appPassword, extra) }

func dsn(addr, user, password, db, extra string) string {
	u := url.URL{Scheme: "postgres", Host: addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	if password == "" {
		u.User = url.User(user)
	} else {
		u.User = url.UserPassword(user, password)
	}
	if extra != "" {
		u.RawQuery += "&" + extra
	}
	return u.String()
}

// Connect opens a pgx connection to the proxy as the app user; t.Cleanup closes it.
func (e *env) Connect(t testing.TB, extra string) *pgx.Conn {
	t.Helper()
	return connect(t, e.AppDSN(extra))
}

func connectOrErr(t testing.TB, dsn string) (*pgx.Conn, error) {
	return pgx.Connect(ctxFor(t, time.Minute), dsn)
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Direct opens a superuser connection straight to the database, bypassing motorpool:
// the reference and the observer.
func (e *env) Direct(t testing.TB) *pgx.Conn {
	t.Helper()
	return e.PG.Connect(t, e.PG.SuperUser, "", e.DB)
}

// DirectAs opens a connection straight to the database as the server user.
func (e *env) DirectAs(t testing.TB) *pgx.Conn {
	t.Helper()
	return e.PG.Connect(t, testenv.ScramUser, testenv.ScramPassword, e.DB)
}

// exec runs statements on conn, failing the test on error.
func mustExec(t testing.TB, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, q := range sqls {
		if _, err := conn.Exec(testCtx(t), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// queryString runs a query that returns one text value.
func queryString(t testing.TB, conn *pgx.Conn, q string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(testCtx(t), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func queryInt(t testing.TB, conn *pgx.Conn, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(testCtx(t), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// eventually polls cond until it returns nil or limit passes, then fails with its last
// error. The limit bounds a broken run; it is not a performance assertion.
func eventually(t testing.TB, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitActive waits until a backend of the database runs a query containing marker.
func waitActive(t testing.TB, direct *pgx.Conn, marker string) int {
	t.Helper()
	var pid int
	eventually(t, time.Minute, "query "+marker+" running", func() error {
		err := direct.QueryRow(testCtx(t),
			`SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`,
			marker).Scan(&pid)
		return err
	})
	return pid
}

// tool runs a PostgreSQL client program with env (PGPASSWORD, ...) and stdin, and
// returns its combined output; a non-zero exit fails the test.
func tool(t testing.TB, name string, env []string, stdin io.Reader, args ...string) string {
	t.Helper()
	out, err := toolErr(t, name, env, stdin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func toolErr(t testing.TB, name string, env []string, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctxFor(t, 5*time.Minute), testenv.Bin(t, name), args...)
	cmd.Env = append(append(os.Environ(), "PGCONNECT_TIMEOUT=60", "PGSSLMODE=disable"), env...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pgKV is a libpq key/value connection string to the proxy.
func (e *env) pgKV(user, password, extra string) string {
	h, p := e.hostPort()
	s := fmt.Sprintf("host=%s port=%d dbname=%s user=%s sslmode=disable", h, p, e.DB, user)
	if password != "" {
		s += " password=" + password
	}
	if extra != "" {
		s += " " + extra
	}
	return s
}
