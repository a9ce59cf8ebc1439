package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PgBouncerOptions configures a PgBouncer started by StartPgBouncer.
type PgBouncerOptions struct {
	// PoolMode is pool_mode; empty means "transaction".
	PoolMode string
	// PoolSize is default_pool_size, the server connections per (database,
	// user); zero means 20.
	PoolSize int
	// MaxClientConn is max_client_conn; zero means 1000.
	MaxClientConn int
	// AuthType is auth_type for clients; empty means "scram-sha-256".
	AuthType string
	// Users is the auth_file: user name to plaintext password. PgBouncer also
	// logs in to PostgreSQL with these credentials.
	Users map[string]string
	// Settings are extra [pgbouncer] settings, written last so they override.
	Settings map[string]string
}

// PgBouncer is a private PgBouncer in front of a PG, serving every database of
// it (a "*" entry). It runs as the postgres user when the caller is root.
type PgBouncer struct {
	Host    string // 127.0.0.1
	Port    int
	Version string // e.g. "1.18.0"
	LogFile string

	dir  string
	proc *Process
}

var pgbouncerVersionRE = regexp.MustCompile(`PgBouncer (\d+\.\d+(\.\d+)?)`)

// PgBouncerVersion returns the installed PgBouncer's version, such as "1.18.0".
// The error wraps ErrMissing when it is not installed.
func PgBouncerVersion() (string, error) {
	bin, err := LookPath("pgbouncer")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("pgbouncer --version: %w", err)
	}
	m := pgbouncerVersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pgbouncer --version: no version in %q", out)
	}
	return string(m[1]), nil
}

// StartPgBouncer starts PgBouncer on a free port in front of pg and waits until
// it listens. The caller must Close it; Shutdown closes it too.
func StartPgBouncer(pg *PG, opts PgBouncerOptions) (*PgBouncer, error) {
	bin, err := LookPath("pgbouncer")
	if err != nil {
		return nil, err
	}
	version, err := PgBouncerVersion()
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("pgbouncer", pgUser)
	if err != nil {
		return nil, err
	}
	b := &PgBouncer{Host: "127.0.0.1", Version: version, LogFile: filepath.Join(dir, "pgbouncer.log"), dir: dir}
	track(b)
	if err := b.writeFile("userlist.txt", authFile(opts.Users)); err != nil {
		b.Close()
		return nil, err
	}
	for range 5 {
		if b.Port, err = FreePort(); err != nil {
			break
		}
		if err = b.writeFile("pgbouncer.ini", b.config(pg, opts)); err != nil {
			break
		}
		if err = b.start(bin); err != errPortTaken {
			break
		}
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *PgBouncer) config(pg *PG, opts PgBouncerOptions) string {
	settings := map[string]string{
		"listen_addr":               "127.0.0.1",
		"listen_port":               strconv.Itoa(b.Port),
		"listen_backlog":            "4096",
		"unix_socket_dir":           b.dir,
		"auth_type":                 cmp(opts.AuthType, "scram-sha-256"),
		"auth_file":                 filepath.Join(b.dir, "userlist.txt"),
		"pool_mode":                 cmp(opts.PoolMode, "transaction"),
		"default_pool_size":         strconv.Itoa(cmpInt(opts.PoolSize, 20)),
		"max_client_conn":           strconv.Itoa(cmpInt(opts.MaxClientConn, 1000)),
		"logfile":                   b.LogFile,
		"log_connections":           "0",
		"log_disconnections":        "0",
		"ignore_startup_parameters": "extra_float_digits",
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ini strings.Builder
	fmt.Fprintf(&ini, "[databases]\n* = host=%s port=%d\n\n[pgbouncer]\n", pg.Host, pg.Port)
	for _, k := range keys {
		fmt.Fprintf(&ini, "%s = %s\n", k, settings[k])
	}
	return ini.String()
}

// authFile renders PgBouncer's auth_file: "user" "password" lines, with
// double quotes doubled.
func authFile(users map[string]string) string {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	q := strings.NewReplacer(`"`, `""`)
	var s strings.Builder
	for _, u := range names {
		fmt.Fprintf(&s, "\"%s\" \"%s\"\n", q.Replace(u), q.Replace(users[u]))
	}
	return s.String()
}

func (b *PgBouncer) writeFile(name, text string) error {
	path := filepath.Join(b.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	return chownTo(path, pgUser)
}

func (b *PgBouncer) start(bin string) error {
	cmd := exec.Command(bin, filepath.Join(b.dir, "pgbouncer.ini"))
	proc, err := Spawn(cmd, pgUser)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
	for deadline := time.Now().Add(time.Minute); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			b.proc = proc
			return nil
		}
		select {
		case <-proc.Done():
			tail := logTail(b.LogFile, 20)
			if strings.Contains(tail, "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("pgbouncer exited during start (%v); %s:\n%s", proc.Err(), b.LogFile, tail)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			proc.Stop(syscall.SIGKILL, time.Second)
			return fmt.Errorf("pgbouncer did not listen on %s within a minute; %s:\n%s", addr, b.LogFile, logTail(b.LogFile, 20))
		}
	}
}

// Pid returns the PgBouncer process id (for CPU accounting).
func (b *PgBouncer) Pid() int { return b.proc.Pid() }

// Err returns how PgBouncer exited, or nil while it runs.
func (b *PgBouncer) Err() error { return b.proc.Err() }

// DSN returns a URL connection string for user on database db through
// PgBouncer, with TLS disabled.
func (b *PgBouncer) DSN(user, password, db string) string {
	u := url.URL{
		Scheme: "postgres", User: url.UserPassword(user, password),
		Host: net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), Path: "/" + db, RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Close stops PgBouncer (SIGINT: safe shutdown) and removes its directory. It
// is idempotent.
func (b *PgBouncer) Close() error {
	var err error
	if b.proc != nil {
		err = b.proc.Stop(syscall.SIGINT, 10*time.Second)
	}
	untrack(b)
	os.RemoveAll(b.dir)
	return err
}

// NewPgBouncer starts PgBouncer in front of pg for this test; t.Cleanup closes
// it. It fails the test (or skips outside CI when PgBouncer is missing).
func NewPgBouncer(t testing.TB, pg *PG, opts PgBouncerOptions) *PgBouncer {
	t.Helper()
	b, err := StartPgBouncer(pg, opts)
	if err != nil {
		Unavailable(t, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cmpInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
