package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// reloadable is a motorpool whose configuration file only SIGHUP reloads: the
// file is a symlink into another directory, which the watcher does not see
// change. Each reload then logs exactly one outcome.
type reloadable struct {
	*daemon
	real, db string
	p        *testenv.PG
	admin    string // base URL of the admin API
	// adminKeys are more keys of the admin section, written by write after the
	// token: ", allowed_hosts: [a.example]".
	adminKeys string
}

var adminListeningRE = regexp.MustCompile(`msg="admin API listening" addr=(\S+)`)

// reloadOutcomeRE matches the one line a reload logs, in text or JSON.
var reloadOutcomeRE = regexp.MustCompile(`(?m)^.*(configuration reloaded|configuration rejected|reload failed).*$`)

// startReloadable writes the first configuration and starts motorpool on it.
func startReloadable(t *testing.T, top, token string) *reloadable {
	t.Helper()
	r := &reloadable{real: filepath.Join(t.TempDir(), "real.yaml"), p: testenv.Postgres(t)}
	r.db = newDatabase(t, r.p)
	r.write(t, top, token)
	link := filepath.Join(t.TempDir(), "motorpool.yaml")
	if err := os.Symlink(r.real, link); err != nil {
		t.Fatal(err)
	}
	r.daemon = startDaemon(t, link)
	eventually(t, time.Minute, "admin API listening", func() error {
		m := adminListeningRE.FindStringSubmatch(r.out.String())
		if m == nil {
			return fmt.Errorf("no admin listening line yet")
		}
		r.admin = "http://" + m[1]
		return nil
	})
	return r
}

// write replaces the configuration file: extra top-level YAML, admin.token
// and r.adminKeys.
func (r *reloadable) write(t *testing.T, top, token string) {
	t.Helper()
	const adminLine = "admin: { listen: 127.0.0.1:0 }\n"
	text := setup{TopYAML: top}.yamlFor(r.p, r.db, "127.0.0.1:0")
	if !strings.Contains(text, adminLine) {
		t.Fatalf("no %q to add the token to in\n%s", adminLine, text)
	}
	text = strings.Replace(text, adminLine, fmt.Sprintf("admin: { listen: 127.0.0.1:0, token: %q%s }\n", token, r.adminKeys), 1)
	tmp := r.real + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, r.real); err != nil {
		t.Fatal(err)
	}
}

// reload writes a new configuration, sends SIGHUP and returns the line the
// reload logged.
func (r *reloadable) reload(t *testing.T, top, token string) string {
	t.Helper()
	before := len(reloadOutcomeRE.FindAllString(r.out.String(), -1))
	r.write(t, top, token)
	r.signal(t, syscall.SIGHUP)
	var line string
	eventually(t, time.Minute, "the reload's outcome logged", func() error {
		lines := reloadOutcomeRE.FindAllString(r.out.String(), -1)
		if len(lines) == before {
			return fmt.Errorf("nothing logged yet")
		}
		line = lines[before]
		return nil
	})
	return line
}

// post sends a state-changing admin request with token and returns its status.
func (r *reloadable) post(t *testing.T, path, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), "POST", r.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// queryOverTLS connects with sslmode=verify-full against rootCert and runs a query.
func (r *reloadable) queryOverTLS(t *testing.T, rootCert string) {
	t.Helper()
	conn, err := connectOrErr(t, dsnSSL(r.Addr, r.db, "verify-full", "sslrootcert="+url.QueryEscape(rootCert)))
	if err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	defer conn.Close(context.Background())
	if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("sslmode=verify-full is not on TLS (%T)", conn.PgConn().Conn())
	}
	if n := queryInt(t, conn, "SELECT 7"); n != 7 {
		t.Fatal("query over TLS")
	}
}

// plaintextRefused checks that a client without TLS is refused with 28000.
func (r *reloadable) plaintextRefused(t *testing.T) {
	t.Helper()
	conn, err := connectOrErr(t, dsnSSL(r.Addr, r.db, "disable", ""))
	switch {
	case err == nil:
		conn.Close(context.Background())
		t.Error("tls.mode require let a plaintext client in")
	case !isCode(err, "28000") || !strings.Contains(err.Error(), "SSL"):
		t.Errorf("plaintext with tls.mode require: %v, want 28000 saying SSL is required", err)
	}
}

// TestReloadAppliesClientTLSAdminTokenAndLogFormat: a reload from tls.mode allow
// to require refuses new plaintext clients (28000) while TLS clients connect and a
// plaintext client already logged in goes on; a reload of admin.token refuses
// the old token and accepts the new one; a reload of log.format switches the log
// to JSON, starting with the line that reports the reload.
func TestReloadAppliesClientTLSAdminTokenAndLogFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	tlsYAML := func(mode string) string {
		return fmt.Sprintf("tls: { mode: %s, cert: %q, key: %q }\n", mode, cert, key)
	}
	r := startReloadable(t, tlsYAML("allow"), "old-token")
	plain := connect(t, dsnSSL(r.Addr, r.db, "disable", ""))
	if r.post(t, "/api/v1/pause", "old-token") != 200 || r.post(t, "/api/v1/resume", "old-token") != 200 {
		t.Fatal("the first token is refused")
	}

	line := r.reload(t, tlsYAML("require")+"log: { format: json }\n", "new-token")
	if !strings.Contains(line, "configuration reloaded") {
		t.Fatalf("reload: %s", line)
	}
	if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"msg":"configuration reloaded"`) {
		t.Errorf("log.format json after the reload, got %s", line)
	}

	r.plaintextRefused(t)
	r.queryOverTLS(t, cert)
	if n := queryInt(t, plain, "SELECT 8"); n != 8 {
		t.Fatal("the plaintext client logged in before the reload")
	}

	if c := r.post(t, "/api/v1/pause", "old-token"); c != 401 {
		t.Errorf("the old token after the reload: %d, want 401", c)
	}
	if c := r.post(t, "/api/v1/pause", "new-token"); c != 200 {
		t.Errorf("the new token after the reload: pause %d, want 200", c)
	}
	if c := r.post(t, "/api/v1/resume", "new-token"); c != 200 {
		t.Errorf("the new token after the reload: resume %d, want 200", c)
	}
}

// TestReloadRejectsAnUnloadableCertificate: a reload whose tls.cert cannot be read
// is rejected as a whole — TLS goes on with the old certificate, and the token the
// same file changes stays the old one.
func TestReloadRejectsAnUnloadableCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	r := startReloadable(t, fmt.Sprintf("tls: { mode: require, cert: %q, key: %q }\n", cert, key), "kept-token")
	r.queryOverTLS(t, cert)

	missing := filepath.Join(dir, "missing.pem")
	line := r.reload(t, fmt.Sprintf("tls: { mode: require, cert: %q, key: %q }\n", missing, key), "other-token")
	if !strings.Contains(line, "configuration rejected") || !strings.Contains(line, "missing.pem") {
		t.Fatalf("a reload with a missing tls.cert: %s, want it rejected naming the file", line)
	}

	r.queryOverTLS(t, cert)
	r.plaintextRefused(t)
	if c := r.post(t, "/api/v1/pause", "other-token"); c != 401 {
		t.Errorf("the rejected file's token: %d, want 401", c)
	}
	if c := r.post(t, "/api/v1/pause", "kept-token"); c != 200 {
		t.Errorf("the running token after the rejected reload: pause %d, want 200", c)
	}
	if c := r.post(t, "/api/v1/resume", "kept-token"); c != 200 {
		t.Errorf("the running token after the rejected reload: resume %d, want 200", c)
	}
}

// TestReloadPicksUpARenewedCertificate: a certificate renewed at the same path is
// served to new clients after a reload, though the configuration did not change.
func TestReloadPicksUpARenewedCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	top := fmt.Sprintf("tls: { mode: require, cert: %q, key: %q }\n", cert, key)
	r := startReloadable(t, top, "token")
	r.queryOverTLS(t, cert)

	selfSignedCert(t, dir) // a new key and certificate, written over the old files
	if line := r.reload(t, top, "token"); !strings.Contains(line, "configuration reloaded") {
		t.Fatalf("reload: %s", line)
	}
	r.queryOverTLS(t, cert) // verified against the renewed certificate only
}
