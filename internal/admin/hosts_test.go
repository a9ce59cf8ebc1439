package admin

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
)

// hostsYAML configures one database "shop" and the admin section adminYAML.
func hostsYAML(adminYAML string) string {
	return `
auth: { users: { app: { password: x } } }
admin: ` + adminYAML + `
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
`
}

// serveHosts serves an Admin configured by hostsYAML(adminYAML), with token
// "s3cret", on a real admin server on loopback, and returns its address.
func serveHosts(t *testing.T, adminYAML string) (*Admin, *proxy.Proxy, string) {
	t.Helper()
	a, px := newTestAdminYAML(t, "s3cret", hostsYAML(adminYAML))
	a.Sample(time.Now(), nil)
	hs, err := Listen("127.0.0.1:0", a.Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Shutdown(context.Background()) })
	return a, px, hs.Addr()
}

// request sends method path to addr with the Host header host and returns
// the status, the Content-Type and the body.
func request(t *testing.T, addr, method, path, host string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// rawRequest writes text on a new connection to addr and returns the status
// of the response.
func rawRequest(t *testing.T, addr, text string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// routes are one GET of each kind the admin server answers, and a POST.
var routes = []struct{ method, path string }{
	{"GET", "/"},
	{"GET", "/pools/shop"},
	{"GET", "/partials/overview"},
	{"GET", "/partials/pool/shop"},
	{"GET", "/static/htmx.min.js"},
	{"GET", "/api/v1/pools"},
	{"GET", "/api/v1/pools/shop"},
	{"GET", "/api/v1/series/shop"},
	{"GET", "/api/v1/clients"},
	{"GET", "/api/v1/servers"},
	{"GET", "/metrics"},
	{"GET", "/healthz"},
	{"GET", "/readyz"},
	{"POST", "/api/v1/pause"},
}

// TestHostForeignRefused: with admin.listen on loopback, a Host naming another
// site (what a page using DNS rebinding sends) gets 421 and one line of text
// naming admin.allowed_hosts on every route, the token notwithstanding, and
// the POST does not run.
func TestHostForeignRefused(t *testing.T) {
	_, px, addr := serveHosts(t, `{ listen: "127.0.0.1:8080", allowed_hosts: [admin.example.com, "*.dev.example.com"] }`)
	foreign := []string{
		"evil.example", "evil.example:8080", "127.0.0.1.nip.io", "localhost.evil.example",
		"admin.example.com.evil.example", "evil-admin.example.com", "dev.example.com", "example.com",
	}
	for _, host := range foreign {
		for _, r := range routes {
			code, ctype, body := request(t, addr, r.method, r.path, host)
			name := hostName(host)
			if code != http.StatusMisdirectedRequest || !strings.HasPrefix(ctype, "text/plain") ||
				strings.Count(body, "\n") != 1 || !strings.Contains(body, "admin.allowed_hosts") || !strings.Contains(body, `"`+name+`"`) {
				t.Errorf("%s %s, Host %s: %d %s %q, want 421 text/plain, one line naming %s and admin.allowed_hosts", r.method, r.path, host, code, ctype, body, name)
			}
		}
	}
	if px.IsPaused("shop") {
		t.Error("a refused POST /api/v1/pause paused shop")
	}
}

// TestHostAccepted: IP literals, localhost and the allowed names are answered,
// with a port or without, in any case, and with a final dot.
func TestHostAccepted(t *testing.T) {
	_, px, addr := serveHosts(t, `{ listen: "127.0.0.1:8080", allowed_hosts: [Admin.Example.com, "*.dev.example.com"] }`)
	hosts := []string{
		"127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:8080", "10.1.2.3:80", "[2001:db8::5]:8080",
		"localhost", "localhost:8080", "LOCALHOST:8080", "localhost.",
		"admin.example.com", "ADMIN.example.COM:443", "admin.example.com.:8080",
		"x.dev.example.com", "a.b.dev.example.com:8080",
	}
	for _, host := range hosts {
		for _, r := range routes {
			if r.method != "GET" {
				continue
			}
			if code, _, body := request(t, addr, r.method, r.path, host); code != http.StatusOK {
				t.Errorf("%s %s, Host %s: %d %.200s, want 200", r.method, r.path, host, code, body)
			}
		}
		if code, _, body := request(t, addr, "POST", "/api/v1/pause", host); code != http.StatusOK || !px.IsPaused("shop") {
			t.Errorf("POST /api/v1/pause, Host %s: %d %.200s, want 200 and shop paused", host, code, body)
		}
		if code, _, _ := request(t, addr, "POST", "/api/v1/resume", host); code != http.StatusOK {
			t.Fatalf("POST /api/v1/resume, Host %s: %d", host, code)
		}
	}
}

// TestHostLoopbackByDefault: admin.listen's default is loopback, so Host is
// checked without any admin configuration; localhost written as the listen
// host counts as loopback too.
func TestHostLoopbackByDefault(t *testing.T) {
	for _, adminYAML := range []string{`{ users: [app] }`, `{ listen: "localhost:8080" }`, `{ listen: "[::1]:8080" }`} {
		_, _, addr := serveHosts(t, adminYAML)
		if code, _, _ := request(t, addr, "GET", "/api/v1/pools", "evil.example"); code != http.StatusMisdirectedRequest {
			t.Errorf("admin %s, Host evil.example: %d, want 421", adminYAML, code)
		}
		if code, _, _ := request(t, addr, "GET", "/api/v1/pools", "localhost:8080"); code != http.StatusOK {
			t.Errorf("admin %s, Host localhost:8080: %d, want 200", adminYAML, code)
		}
	}
}

// TestHostBeyondLoopback: with admin.listen beyond loopback, any Host is
// answered unless admin.allowed_hosts is set. (The server is bound to
// loopback all the same: what decides is admin.listen.)
func TestHostBeyondLoopback(t *testing.T) {
	_, _, open := serveHosts(t, `{ listen: "0.0.0.0:8080" }`)
	for _, host := range []string{"evil.example", "pooler.internal:8080", "127.0.0.1"} {
		if code, _, _ := request(t, open, "GET", "/", host); code != http.StatusOK {
			t.Errorf("0.0.0.0 without allowed_hosts, Host %s: %d, want 200", host, code)
		}
	}
	_, _, listed := serveHosts(t, `{ listen: "0.0.0.0:8080", allowed_hosts: [pooler.internal] }`)
	for host, want := range map[string]int{"evil.example": 421, "pooler.internal:8080": 200, "10.0.0.5:8080": 200, "localhost": 200} {
		if code, _, _ := request(t, listed, "GET", "/", host); code != want {
			t.Errorf("0.0.0.0 with allowed_hosts, Host %s: %d, want %d", host, code, want)
		}
	}
}

// TestSetAllowedHosts: names replaced while serving (configuration reload)
// apply to the next request; emptied, the check goes on on loopback.
func TestSetAllowedHosts(t *testing.T) {
	a, _, addr := serveHosts(t, `{ listen: "127.0.0.1:8080" }`)
	steps := []struct {
		set  []string
		want map[string]int
	}{
		{nil, map[string]int{"pooler.internal": 421, "other.internal": 421}},
		{[]string{"pooler.internal"}, map[string]int{"pooler.internal": 200, "other.internal": 421}},
		{[]string{"*.internal"}, map[string]int{"pooler.internal": 200, "other.internal": 200, "internal": 421}},
		{nil, map[string]int{"pooler.internal": 421, "127.0.0.1": 200}},
	}
	for _, s := range steps {
		a.SetAllowedHosts(s.set)
		for host, want := range s.want {
			if code, _, _ := request(t, addr, "GET", "/metrics", host); code != want {
				t.Errorf("allowed %v, Host %s: %d, want %d", s.set, host, code, want)
			}
		}
	}
}

// TestHostMissingOrInTheURL: an HTTP/1.0 request without Host is answered (no
// browser sends one); HTTP/1.1 without Host is refused by net/http itself; a
// host in an absolute request URI is the one checked, whatever Host says.
func TestHostMissingOrInTheURL(t *testing.T) {
	_, _, addr := serveHosts(t, `{ listen: "127.0.0.1:8080" }`)
	tests := []struct {
		name, text string
		want       int
	}{
		{"HTTP/1.0 without Host", "GET /api/v1/pools HTTP/1.0\r\n\r\n", 200},
		{"HTTP/1.0 with a foreign Host", "GET /api/v1/pools HTTP/1.0\r\nHost: evil.example\r\n\r\n", 421},
		{"HTTP/1.1 without Host", "GET /api/v1/pools HTTP/1.1\r\nConnection: close\r\n\r\n", 400},
		{"foreign host in the URI", "GET http://evil.example/api/v1/pools HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 421},
		{"IP literal in the URI", "GET http://127.0.0.1/api/v1/pools HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 200},
	}
	for _, tt := range tests {
		if got := rawRequest(t, addr, tt.text); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
