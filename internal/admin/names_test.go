package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/monitor"
)

// oddName is a database name with what a path, a quote and the console's
// tokenizer could each get wrong.
const oddName = `my "odd" shop/x?y#z`

// newOddAdmin returns an Admin over a proxy with databases "shop" and oddName.
func newOddAdmin(t *testing.T, token string) *Admin {
	t.Helper()
	a, _ := newTestAdminYAML(t, token, `
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
  'my "odd" shop/x?y#z': { url: "postgresql://app:pw@127.0.0.1:1/odd" }
`)
	return a
}

// TestHTTPDatabaseCommands: PAUSE, RESUME and KILL over HTTP take the database
// name as it is in the path, spaces and quotes included, and answer 404 for a
// database the configuration does not have.
func TestHTTPDatabaseCommands(t *testing.T) {
	a := newOddAdmin(t, "s3cret")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	post := func(path string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	odd := url.PathEscape(oddName)
	steps := []struct {
		path   string
		code   int
		paused bool // oddName's state afterwards
	}{
		{"/api/v1/pause/" + odd, 200, true},
		{"/api/v1/resume/" + odd, 200, false},
		{"/api/v1/resume/" + odd, 400, false}, // not paused
		{"/api/v1/kill/" + odd, 200, true},
		{"/api/v1/resume/" + odd, 200, false},
		{"/api/v1/pause/nosuchdb", 404, false},
		{"/api/v1/resume/nosuchdb", 404, false},
		{"/api/v1/kill/nosuchdb", 404, false},
		{"/api/v1/kill/my%20", 404, false},
	}
	for _, s := range steps {
		if c := post(s.path); c != s.code {
			t.Errorf("POST %s: %d, want %d", s.path, c, s.code)
		}
		if got := a.px.IsPaused(oddName); got != s.paused {
			t.Errorf("after POST %s: paused %v, want %v", s.path, got, s.paused)
		}
	}
	if a.px.IsPaused("shop") {
		t.Error("shop paused by commands for another database")
	}
}

// TestResumeNotPaused: RESUME of a database that is not paused, or of every
// database when none is, fails on the console and over HTTP alike, as
// PgBouncer's does; a database a reload removed while paused can still be
// resumed, by name or with the rest.
func TestResumeNotPaused(t *testing.T) {
	a := newOddAdmin(t, "s3cret")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	ctx := context.Background()
	post := func(path string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	console := func(cmd string) bool {
		_, err := a.Exec(ctx, "app", cmd)
		return err == nil
	}
	removeOdd := func() {
		t.Helper()
		cfg, err := config.Parse("test.yaml", []byte(`
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.px.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	quoted, both := quoteName(oddName), a.px.Config()
	if console("RESUME") || console("RESUME shop") {
		t.Error("console: RESUME with nothing paused succeeded")
	}
	if c, d := post("/api/v1/resume"), post("/api/v1/resume/shop"); c != 400 || d != 400 {
		t.Errorf("HTTP: RESUME with nothing paused: %d and %d, want 400", c, d)
	}
	if !console("PAUSE " + quoted) {
		t.Fatal("PAUSE failed")
	}
	removeOdd()
	if !console("RESUME " + quoted) {
		t.Error("console: RESUME of a database removed while paused failed")
	}
	if console("RESUME "+quoted) || post("/api/v1/resume/"+url.PathEscape(oddName)) != 404 {
		t.Error("RESUME of a database removed and resumed: want an error, 404 over HTTP")
	}
	if err := a.px.Reload(both); err != nil {
		t.Fatal(err)
	}
	if !console("PAUSE " + quoted) {
		t.Fatal("PAUSE failed")
	}
	removeOdd()
	if c := post("/api/v1/resume"); c != 200 || a.px.IsPaused(oddName) {
		t.Errorf("HTTP: RESUME of everything with a removed database paused: %d, paused %v", c, a.px.Paused())
	}
}

// TestHTTPConnectionCommands: DISABLE, ENABLE, RECONNECT and WAIT_CLOSE over
// HTTP do what the console's do, with the token, the name as it is in the
// path, and 404 for a database the configuration does not have.
func TestHTTPConnectionCommands(t *testing.T) {
	a := newOddAdmin(t, "s3cret")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	post := func(path, token string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		defer resp.Body.Close()
		var body map[string]string
		if resp.StatusCode == 200 && (json.NewDecoder(resp.Body).Decode(&body) != nil || body["ok"] == "") {
			t.Errorf("POST %s: body %v, want {\"ok\": command}", path, body)
		}
		return resp.StatusCode
	}
	odd := url.PathEscape(oddName)
	steps := []struct {
		path     string
		token    string
		code     int
		disabled bool // oddName's state afterwards
	}{
		{"/api/v1/disable/" + odd, "nope", 401, false},
		{"/api/v1/disable/" + odd, "s3cret", 200, true},
		{"/api/v1/enable/" + odd, "s3cret", 200, false},
		{"/api/v1/enable/" + odd, "s3cret", 200, false}, // not disabled: nothing to do, as PgBouncer's
		{"/api/v1/reconnect", "s3cret", 200, false},
		{"/api/v1/wait_close", "s3cret", 200, false},
		{"/api/v1/disable/nosuchdb", "s3cret", 404, false},
		{"/api/v1/enable/nosuchdb", "s3cret", 404, false},
		{"/api/v1/reconnect/nosuchdb", "s3cret", 404, false},
		{"/api/v1/wait_close/nosuchdb", "s3cret", 404, false},
	}
	for _, s := range steps {
		if c := post(s.path, s.token); c != s.code {
			t.Errorf("POST %s: %d, want %d", s.path, c, s.code)
		}
		if got := a.px.IsDisabled(oddName); got != s.disabled {
			t.Errorf("after POST %s: disabled %v, want %v", s.path, got, s.disabled)
		}
	}

	// RECONNECT closes the server connection once released; WAIT_CLOSE returns
	// once it is closed.
	core := poolNamed(a.px, oddName).Core()
	l, err := core.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := post("/api/v1/reconnect/"+odd, "s3cret"); c != 200 {
		t.Fatalf("reconnect: %d", c)
	}
	waited := make(chan int)
	go func() { waited <- post("/api/v1/wait_close/"+odd, "s3cret") }()
	id := l.ID()
	l.Release()
	if c := <-waited; c != 200 {
		t.Fatalf("wait_close: %d", c)
	}
	for _, c := range core.Conns() {
		if c.ID <= id {
			t.Errorf("server connection %d still open after RECONNECT and WAIT_CLOSE: %+v", c.ID, c)
		}
	}
}

// TestConsoleQuotedNames: the console reads a double-quoted database name
// with spaces, and "" in it as one ".
func TestConsoleQuotedNames(t *testing.T) {
	a := newOddAdmin(t, "")
	ctx := context.Background()
	if _, err := a.Exec(ctx, "app", `PAUSE "my ""odd"" shop/x?y#z"`); err != nil {
		t.Fatal(err)
	}
	if !a.px.IsPaused(oddName) || a.px.IsPaused("shop") {
		t.Fatalf("paused: %v", a.px.Paused())
	}
	if _, err := a.Exec(ctx, "app", "RESUME\t\"my \"\"odd\"\" shop/x?y#z\" "); err != nil {
		t.Fatal(err)
	}
	if a.px.IsPaused(oddName) {
		t.Fatalf("still paused: %v", a.px.Paused())
	}
	for _, cmd := range []string{`PAUSE "my`, `PAUSE my "odd" shop`, `PAUSE "shop`} {
		if _, err := a.Exec(ctx, "app", cmd); err == nil {
			t.Errorf("%s succeeded", cmd)
		}
	}
}

// TestTerminalNames: motorpool top and doctor write a pool name with a
// client's control characters (an escape sequence that would retitle or clear
// the operator's terminal) and bytes that are not UTF-8 as escapes, and clip a
// long name by characters, not bytes.
func TestTerminalNames(t *testing.T) {
	evil := "db.\x1b]0;owned\x07\x1b[2J\u0085x\xff"
	long := "db." + strings.Repeat("é", 30)
	reports := []monitor.Report{{Pool: monitor.PoolInfo{Name: evil}}, {Pool: monitor.PoolInfo{Name: long}}}
	reports[0].Alerts = []monitor.Alert{{Condition: monitor.Condition{Type: monitor.HighUtilization}}} // listed in top's details too
	var top, doctor strings.Builder
	WriteTop(&top, "test", reports, time.Now(), false)
	WriteDoctor(&doctor, reports)
	for what, out := range map[string]string{"top": top.String(), "doctor": doctor.String()} {
		if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && unicode.IsControl(r) }) || !utf8.ValidString(out) {
			t.Errorf("%s writes control characters or bytes that are not UTF-8:\n%q", what, out)
		}
		if want := `db.\x1b]0;owned\x07\x1b[2J\u0085x\xff`; !strings.Contains(out, want) {
			t.Errorf("%s lacks the name as %s:\n%s", what, want, out)
		}
	}
	if want := "db." + strings.Repeat("é", 20) + "…"; !strings.Contains(top.String(), want) {
		t.Errorf("top clips %s to other than %s:\n%s", long, want, top.String())
	}
}
