package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
)

// fakeProto dials backends that do nothing; enough for the pools' statistics.
type fakeProto struct{}

func (fakeProto) Name() string { return "fake" }
func (fakeProto) Dial(ctx context.Context, t *proxy.Target) (proxy.Backend, error) {
	return fakeBackend{}, nil
}
func (fakeProto) Serve(ctx context.Context, c *proxy.Client) error { return nil }

type fakeBackend struct{}

func (fakeBackend) Usable() bool { return true }
func (fakeBackend) Close() error { return nil }
func (fakeBackend) PID() uint32  { return 4242 }

// newTestAdmin returns an Admin over a proxy with one database "shop" (pool
// size 4) and a service "shop/reports".
func newTestAdmin(t *testing.T, token string) (*Admin, *proxy.Proxy) {
	t.Helper()
	return newTestAdminYAML(t, token, `
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=4&pool_timeout=1" }
services:
  reports: { match: { user: analyst }, type: analytics_service, connection_limit: 2 }
`)
}

// newTestAdminYAML returns an Admin over a proxy configured by yaml, its Host
// check set from the admin section as the daemon sets it.
func newTestAdminYAML(t *testing.T, token, yaml string) (*Admin, *proxy.Proxy) {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.New(cfg, fakeProto{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	a := New(Options{Proxy: px, Monitor: monitor.New(monitor.Options{}), Version: "test", Token: token,
		Loopback: cfg.Admin.Loopback(), AllowedHosts: cfg.Admin.AllowedHosts})
	return a, px
}

func poolNamed(px *proxy.Proxy, name string) *proxy.Pool {
	for _, p := range px.Pools() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// TestMetricNamesAndLabels pins every metric name and its labels: dashboards
// and alert rules depend on them.
func TestMetricNamesAndLabels(t *testing.T) {
	a, px := newTestAdmin(t, "")
	shop := poolNamed(px, "shop")
	a.Observer().Transaction(shop, time.Millisecond)
	a.Observer().Query(shop, time.Millisecond)
	a.Sample(time.Now(), nil)

	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	runtime := map[string]bool{}
	for _, mf := range mfs {
		if name := mf.GetName(); !strings.HasPrefix(name, "motorpool_") {
			runtime[name] = true // the client library's Go and process collectors
			continue
		}
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		names := make([]string, 0, len(labels))
		for l := range labels {
			names = append(names, l)
		}
		sort.Strings(names)
		got = append(got, mf.GetName()+" "+strings.ToLower(mf.GetType().String())+" {"+strings.Join(names, ",")+"}")
	}
	base := "database,mode,pool,service,user"
	want := []string{
		"motorpool_pool_acquire_timeouts_total counter {" + base + "}",
		"motorpool_pool_acquire_unreachable_total counter {" + base + "}",
		"motorpool_pool_acquire_wait_seconds histogram {" + base + "}",
		"motorpool_pool_acquires_total counter {" + base + "}",
		"motorpool_pool_alert_firing gauge {database,mode,pool,reason,service,user}",
		"motorpool_pool_client_connections gauge {database,mode,pool,service,state,user}",
		"motorpool_pool_client_sessions_total counter {" + base + "}",
		"motorpool_pool_connection_errors_total counter {" + base + "}",
		"motorpool_pool_health_status gauge {" + base + "}",
		"motorpool_pool_leaks_detected_total counter {" + base + "}",
		"motorpool_pool_max_server_connections gauge {" + base + "}",
		"motorpool_pool_min_server_connections gauge {" + base + "}",
		"motorpool_pool_own_max_server_connections gauge {" + base + "}",
		"motorpool_pool_paused gauge {" + base + "}",
		"motorpool_pool_query_duration_seconds histogram {" + base + "}",
		"motorpool_pool_received_bytes_total counter {" + base + "}",
		"motorpool_pool_scaling_decisions_total counter {bound,database,direction,mode,pool,service,user}",
		"motorpool_pool_sent_bytes_total counter {" + base + "}",
		"motorpool_pool_server_connections gauge {database,mode,pool,service,state,user}",
		"motorpool_pool_server_connections_closed_total counter {database,mode,pool,reason,service,user}",
		"motorpool_pool_server_connections_opened_total counter {" + base + "}",
		"motorpool_pool_transaction_duration_seconds histogram {" + base + "}",
		"motorpool_pool_utilization_ratio gauge {" + base + "}",
		"motorpool_pool_validation_failures_total counter {" + base + "}",
		"motorpool_pool_waiting_clients gauge {" + base + "}",
	}
	if !slices.Equal(got, want) {
		t.Errorf("metrics changed:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_open_fds", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if !runtime[name] {
			t.Errorf("no %s among the process metrics", name)
		}
	}
	// Label values are bounded: states, reasons and alert types only.
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				checkLabel(t, mf, l)
			}
		}
	}
}

func checkLabel(t *testing.T, mf *dto.MetricFamily, l *dto.LabelPair) {
	allowed := map[string][]string{
		"state":     {"creating", "idle", "active", "validating", "destroying", "waiting"},
		"reason":    {"high_utilization", "slow_acquisition", "high_error_rate", "pool_exhaustion", "lifetime", "idle", "validation", "error", "resize", "closed", "discarded"},
		"pool":      {"shop", "shop/reports"},
		"mode":      {"transaction", "session", "statement"},
		"bound":     {"max", "min"},
		"direction": {"up", "down"},
	}
	if vals, ok := allowed[l.GetName()]; ok && !slices.Contains(vals, l.GetValue()) {
		t.Errorf("%s: label %s=%q is not in %v", mf.GetName(), l.GetName(), l.GetValue(), vals)
	}
}

func TestMetricValues(t *testing.T) {
	a, px := newTestAdmin(t, "")
	shop := poolNamed(px, "shop")
	ctx := context.Background()
	l1, err := shop.Core().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Release()
	a.Sample(time.Now(), nil)
	mfs, _ := a.Registry().Gather()
	val := func(name string, labels map[string]string) float64 {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		metrics:
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
						continue metrics
					}
				}
				if m.Gauge != nil {
					return m.Gauge.GetValue()
				}
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("no %s %v", name, labels)
		return 0
	}
	shopL := map[string]string{"pool": "shop"}
	if v := val("motorpool_pool_server_connections", map[string]string{"pool": "shop", "state": "active"}); v != 1 {
		t.Errorf("active server connections %v", v)
	}
	if v := val("motorpool_pool_utilization_ratio", shopL); v != 0.25 {
		t.Errorf("utilization %v", v)
	}
	if v := val("motorpool_pool_max_server_connections", shopL); v != 4 {
		t.Errorf("max %v", v)
	}
	if v := val("motorpool_pool_acquire_wait_seconds", shopL); v != 1 {
		t.Errorf("acquire histogram count %v", v)
	}
	if v := val("motorpool_pool_health_status", shopL); v != 0 {
		t.Errorf("health %v, want 0 (healthy)", v)
	}
	if v := val("motorpool_pool_server_connections_opened_total", shopL); v != 1 {
		t.Errorf("opened %v", v)
	}
}

func TestConsoleErrors(t *testing.T) {
	a, _ := newTestAdmin(t, "")
	ctx := context.Background()
	for _, cmd := range []string{"", "HELLO", "SHOW", "SHOW POOLS EXTRA", "SHOW NOTHING", "KILL", "PAUSE a b", "RESUME", "RESUME shop", "PAUSE nosuchdb", "RELOAD now", "RELOAD", "SHUTDOWN"} {
		if _, err := a.Exec(ctx, "app", cmd); err == nil {
			t.Errorf("%q succeeded", cmd)
		}
	}
	res, err := a.Exec(ctx, "app", `pause "shop"`)
	if err != nil || res.Tag != "PAUSE" {
		t.Fatalf("pause: %v %v", res, err)
	}
	res, err = a.Exec(ctx, "app", "SHOW DATABASES")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range res.Rows {
		if row[0] == "shop" && row[12] != "1" {
			t.Errorf("shop not shown paused: %v", row)
		}
	}
	if _, err := a.Exec(ctx, "app", "RESUME"); err != nil {
		t.Fatal(err)
	}
}

// TestConsolePgBouncerTables checks the PgBouncer tables beyond SHOW POOLS:
// their columns, which tools read by name, and values from one leased
// connection and counters on both pools.
func TestConsolePgBouncerTables(t *testing.T) {
	a, px := newTestAdmin(t, "")
	shop, reports := poolNamed(px, "shop"), poolNamed(px, "shop/reports")
	l, err := shop.Core().AcquireAs(context.Background(), "client 7 127.0.0.1:5555")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	shop.Counters.Transactions.Add(3)
	reports.Counters.Transactions.Add(2)
	shop.Counters.Queries.Add(10)
	reports.Counters.BytesIn.Add(100)
	a.Sample(time.Now(), nil)

	tests := []struct {
		cmd  string
		cols []string
		want map[string]map[string]string // first column's value → column → value
	}{
		{"SHOW LISTS", []string{"list", "items"}, map[string]map[string]string{
			"databases": {"items": "1"}, "users": {"items": "1"}, "pools": {"items": "2"},
			"free_clients": {"items": "0"}, "used_clients": {"items": "0"}, "login_clients": {"items": "0"},
			"free_servers": {"items": "0"}, "used_servers": {"items": "1"},
			"dns_names": {"items": "0"}, "dns_zones": {"items": "0"}, "dns_queries": {"items": "0"}, "dns_pending": {"items": "0"},
		}},
		{"SHOW USERS", []string{"name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections",
			"current_connections", "max_user_client_connections", "current_client_connections"}, map[string]map[string]string{
			"app": {"pool_size": "", "max_user_connections": "0", "current_connections": "1", "current_client_connections": "0"},
		}},
		{"SHOW TOTALS", []string{"name", "value"}, map[string]map[string]string{
			"total_xact_count": {"value": "5"}, "total_query_count": {"value": "10"}, "total_client_bytes": {"value": "100"},
			"total_server_bytes": {"value": "0"}, "total_xact_time": {"value": "0"}, "total_query_time": {"value": "0"},
			// times the pools measured themselves, and rates over a single sample
			"total_wait_time": {}, "avg_xact_count": {}, "avg_query_count": {}, "avg_client_bytes": {}, "avg_server_bytes": {},
			"avg_xact_time": {}, "avg_query_time": {}, "avg_wait_time": {},
		}},
		{"SHOW SERVERS", append(slices.Clone(pgListColumns), "pool", "uses", "held_seconds", "leaked"), map[string]map[string]string{
			"S": {"state": "active", "link": "7", "remote_pid": "4242", "pool": "shop"},
		}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.cmd, " ", "_"), func(t *testing.T) {
			res, err := a.Exec(context.Background(), "app", tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Columns, tt.cols) {
				t.Errorf("columns %v, want %v", res.Columns, tt.cols)
			}
			if len(res.Rows) != len(tt.want) {
				t.Errorf("%d rows, want %d: %v", len(res.Rows), len(tt.want), res.Rows)
			}
			for _, row := range res.Rows {
				want, ok := tt.want[row[0]]
				if !ok {
					t.Errorf("unexpected row %v", row)
				}
				for col, v := range want {
					if got := row[slices.Index(res.Columns, col)]; got != v {
						t.Errorf("%s: %s = %q, want %q", row[0], col, got, v)
					}
				}
			}
		})
	}

	b, err := json.Marshal(a.Servers())
	if err != nil || !strings.Contains(string(b), `"remote_pid":4242`) {
		t.Errorf("/api/v1/servers JSON lacks remote_pid: %s %v", b, err)
	}
	res, err := a.Exec(context.Background(), "app", "SHOW HELP")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"SHOW LISTS", "SHOW USERS", "SHOW TOTALS"} {
		if !slices.ContainsFunc(res.Rows, func(r []string) bool { return r[0] == cmd }) {
			t.Errorf("SHOW HELP lacks %s", cmd)
		}
	}
}

func TestHTTP(t *testing.T) {
	a, _ := newTestAdmin(t, "")
	a.Sample(time.Now(), nil)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	tests := []struct {
		method, path string
		code         int
		contains     string
	}{
		{"GET", "/api/v1/pools", 200, `"status": "healthy"`},
		{"GET", "/api/v1/pools/shop/reports", 200, `"service": "reports"`},
		{"GET", "/api/v1/pools/nope", 404, "no such pool"},
		{"GET", "/api/v1/series/shop?span=60", 200, `"time"`},
		{"GET", "/api/v1/series/shop?span=0", 400, "span"},
		{"GET", "/api/v1/series/nope", 404, "no such pool"},
		{"GET", "/api/v1/clients", 200, "["},
		{"GET", "/api/v1/servers", 200, "["},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 200, "ready"},
		{"GET", "/metrics", 200, "motorpool_pool_utilization_ratio"},
		{"GET", "/metrics", 200, "go_goroutines"},
		{"GET", "/metrics", 200, "process_open_fds"},
		{"GET", "/", 200, `data-pool="shop/reports"`},
		{"GET", "/pools/shop/reports", 200, "chart-conns"},
		{"GET", "/pools/nope", 404, "no such pool"},
		{"GET", "/partials/overview", 200, "card"},
		{"GET", "/partials/pool/shop", 200, "Recommendations"},
		{"GET", "/partials/conns/shop", 200, "Server connections"},
		{"GET", "/static/htmx.min.js", 200, "htmx"},
		{"GET", "/static/uPlot.iife.min.js", 200, "uPlot"},
		{"POST", "/api/v1/pause", 403, "admin.token"},
		{"POST", "/api/v1/reload", 403, "admin.token"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 1<<16)
			for {
				n, err := resp.Body.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if resp.StatusCode != tt.code || !strings.Contains(b.String(), tt.contains) {
				t.Errorf("%s %s: %d, want %d containing %q; body %.300s", tt.method, tt.path, resp.StatusCode, tt.code, tt.contains, b.String())
			}
		})
	}
}

func TestHTTPTokenAndControls(t *testing.T) {
	a, px := newTestAdmin(t, "s3cret")
	reloads := 0
	a.controls = Controls{Reload: func() error { reloads++; return nil }}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	post := func(path, auth string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("/api/v1/reload", ""); c != 401 {
		t.Errorf("no token: %d", c)
	}
	if c := post("/api/v1/reload", "Bearer nope"); c != 401 {
		t.Errorf("wrong token: %d", c)
	}
	if c := post("/api/v1/reload", "s3cret"); c != 401 {
		t.Errorf("token without Bearer: %d", c)
	}
	if c := post("/api/v1/reload", "bearer  s3cret"); c != 200 || reloads != 1 {
		t.Fatalf("the scheme in lower case, two spaces: %d, %d reloads", c, reloads)
	}
	if c := post("/api/v1/reload", "Bearer s3cret"); c != 200 || reloads != 2 {
		t.Errorf("reload: %d, %d reloads", c, reloads)
	}
	if c := post("/api/v1/pause", "Bearer s3cret"); c != 200 || !px.IsPaused("shop") {
		t.Errorf("pause all: %d", c)
	}
	if c := post("/api/v1/resume", "Bearer s3cret"); c != 200 || px.IsPaused("shop") {
		t.Errorf("resume all: %d", c)
	}
	if c := post("/api/v1/shutdown", "Bearer s3cret"); c != 400 {
		t.Errorf("shutdown without control: %d", c)
	}
}

// TestSetToken: a token replaced while serving (configuration reload) refuses
// the old one at once; an emptied token refuses every state-changing request.
func TestSetToken(t *testing.T) {
	a, _ := newTestAdmin(t, "old")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	status := func(token string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/reconnect", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		set            string
		oldGot, newGot int
	}{
		{set: "old", oldGot: 200, newGot: 401},
		{set: "new", oldGot: 401, newGot: 200},
		{set: "", oldGot: 403, newGot: 403},
	}
	for _, s := range steps {
		a.SetToken(s.set)
		if got := status("old"); got != s.oldGot {
			t.Errorf("token %q: the old one got %d, want %d", s.set, got, s.oldGot)
		}
		if got := status("new"); got != s.newGot {
			t.Errorf("token %q: the new one got %d, want %d", s.set, got, s.newGot)
		}
	}
}

func TestHolderClient(t *testing.T) {
	for in, want := range map[string]uint64{"client 42 127.0.0.1:5555": 42, "": 0, "someone": 0, "client x": 0} {
		if got := holderClient(in); got != want {
			t.Errorf("holderClient(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestRemovedPoolLeavesNoHistograms: a pool a reload removes takes its
// transaction and query histograms off /metrics, which would otherwise report
// it for ever.
func TestRemovedPoolLeavesNoHistograms(t *testing.T) {
	a, px := newTestAdmin(t, "")
	reports := poolNamed(px, "shop/reports")
	a.Observer().Transaction(reports, time.Millisecond)
	a.Observer().Query(reports, time.Millisecond)
	a.Sample(time.Now(), nil)

	cfg, err := config.Parse("test.yaml", []byte(`
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=4&pool_timeout=1" }
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := px.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	a.Sample(time.Now(), nil)
	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pool" && l.GetValue() == "shop/reports" {
					t.Errorf("%s still reports the removed pool shop/reports", mf.GetName())
				}
			}
		}
	}
}
