package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// adminGet sends GET path to the admin API of r with the Host header host
// ("" keeps the address dialled) and returns the status and the body.
func (r *reloadable) adminGet(t *testing.T, path, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), "GET", r.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestAdminHostsCheckedAndReloaded: motorpool serve, with admin.listen on
// loopback, refuses a Host naming another site (DNS rebinding) with 421 on the
// dashboard, the API and the metrics, answers IP literals and localhost, and
// answers a name once a reload adds it to admin.allowed_hosts, without a
// restart.
func TestAdminHostsCheckedAndReloaded(t *testing.T) {
	t.Parallel()
	r := startReloadable(t, "", "token")
	paths := []string{"/", "/api/v1/pools", "/metrics"}
	expect := func(when, host string, want int) {
		t.Helper()
		for _, path := range paths {
			code, body := r.adminGet(t, path, host)
			if code != want {
				t.Errorf("%s: GET %s, Host %q: %d, want %d; %.200s", when, path, host, code, want, body)
			}
			if want == http.StatusMisdirectedRequest && !strings.Contains(body, "admin.allowed_hosts") {
				t.Errorf("%s: GET %s, Host %q: %q does not name admin.allowed_hosts", when, path, host, body)
			}
		}
	}
	expect("before the reload", "", http.StatusOK) // 127.0.0.1:PORT
	expect("before the reload", "localhost:8080", http.StatusOK)
	expect("before the reload", "[::1]:8080", http.StatusOK)
	expect("before the reload", "pooler.internal:8080", http.StatusMisdirectedRequest)
	expect("before the reload", "evil.example", http.StatusMisdirectedRequest)

	r.adminKeys = ", allowed_hosts: [pooler.internal]"
	line := r.reload(t, "", "token")
	if !strings.Contains(line, "configuration reloaded") || !strings.Contains(line, "admin.allowed_hosts") || !strings.Contains(line, "(live)") {
		t.Fatalf("reload: %s, want admin.allowed_hosts reloaded live", line)
	}
	expect("after the reload", "pooler.internal:8080", http.StatusOK)
	expect("after the reload", "POOLER.internal", http.StatusOK)
	expect("after the reload", "", http.StatusOK)
	expect("after the reload", "evil.example", http.StatusMisdirectedRequest)
}
