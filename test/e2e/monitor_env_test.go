package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
)

// Credentials of the monitoring tests' motorpool.
const (
	monAppUser, monAppPassword     = "app", "app-secret"
	monAdminUser, monAdminPassword = "admin", "admin-secret"
	monStatsUser, monStatsPassword = "monitoring", "monitoring-secret" // in admin.stats_users
	monToken                       = "test-token"
)

// monEnv is an in-process motorpool with its monitor, admin console and admin
// HTTP API, in front of the shared PostgreSQL.
type monEnv struct {
	DB       string // database name, for clients and the server alike
	Addr     string // the proxy
	HTTP     string // the admin API, http://host:port
	Proxy    *proxy.Proxy
	Admin    *admin.Admin
	Reloaded chan struct{} // receives on each RELOAD
}

// startMonitored starts motorpool with one database of connection_limit 2 and
// the given extra URL parameters, judged by a monitor over window. t.Cleanup
// stops everything.
func startMonitored(t *testing.T, urlParams string, window time.Duration) *monEnv {
	t.Helper()
	srv := testenv.Postgres(t)
	db := srv.CreateDatabase(t, fmt.Sprintf("e2e_mon_%d", time.Now().UnixNano()%1e9))
	return startMonitoredAt(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)), db, urlParams, window)
}

// startMonitoredAt is startMonitored for the database db of the server at
// hostport.
func startMonitoredAt(t *testing.T, hostport, db, urlParams string, window time.Duration) *monEnv {
	t.Helper()
	u := url.URL{Scheme: "postgresql", Host: hostport, Path: "/" + db,
		User: url.UserPassword(testenv.ScramUser, testenv.ScramPassword), RawQuery: "sslmode=disable&connection_limit=2&" + urlParams}
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0, users: [%s], stats_users: [%s], token: %s }
auth:
  users:
    %s: { password: %q }
    %s: { password: %q }
    %s: { password: %q }
databases:
  %s:
    url: %q
`, monAdminUser, monStatsUser, monToken, monAppUser, monAppPassword, monAdminUser, monAdminPassword, monStatsUser, monStatsPassword, db, u.String())
	cfg, err := config.Parse("monitor.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", yaml, err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	px, err := proxy.New(cfg, pg.New(pg.Config{}), log)
	if err != nil {
		t.Fatal(err)
	}
	e := &monEnv{DB: db, Proxy: px, Reloaded: make(chan struct{}, 16)}
	e.Admin = admin.New(admin.Options{
		Proxy: px, Monitor: monitor.New(monitor.Options{Window: window}), Version: "e2e", Token: monToken,
		Controls: admin.Controls{Reload: func() error { e.Reloaded <- struct{}{}; return nil }},
	})
	px.SetConsole(e.Admin)
	px.SetObserver(e.Admin.Observer())
	hs, err := admin.Listen("127.0.0.1:0", e.Admin.Handler())
	if err != nil {
		t.Fatal(err)
	}
	e.HTTP = "http://" + hs.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.Admin.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- px.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		hs.Shutdown(sctx)
		px.Close()
		<-served
	})
	return e
}

// dsn is a connection URL to the proxy's database db as user.
func (e *monEnv) dsn(user, password, db string) string {
	u := url.URL{Scheme: "postgres", Host: e.Addr, Path: "/" + db, User: url.UserPassword(user, password),
		RawQuery: "sslmode=disable"}
	return u.String()
}

// connect opens a client connection as the app user.
func (e *monEnv) connect(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, e.dsn(monAppUser, monAppPassword, e.DB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// console opens an admin console session on the "pgbouncer" alias, with the
// simple protocol the console speaks.
func (e *monEnv) console(t *testing.T, ctx context.Context, user, password string) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(e.dsn(user, password, "pgbouncer"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

// report fetches the pool's dashboard from the HTTP API.
func (e *monEnv) report(t *testing.T) monitor.Report {
	t.Helper()
	var r monitor.Report
	e.getJSON(t, "/api/v1/pools/"+e.DB, &r)
	return r
}

func (e *monEnv) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(e.HTTP + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// load runs n clients, each running query in a loop (errors included) until
// the returned stop is called; stop waits for them. The clients connect
// before the load starts, so that logins do not queue behind it.
func (e *monEnv) load(t *testing.T, ctx context.Context, n int, query string) (stop func()) {
	t.Helper()
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conns[i] = e.connect(t, ctx)
	}
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lctx.Err() == nil {
				c.Exec(lctx, query)
			}
		}()
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond every 250 ms until it holds or ctx ends. The limit is
// only there to end a broken run.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
