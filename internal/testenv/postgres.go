package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgUser is the system account PostgreSQL runs as when the tests run as root
// (postgres refuses to run as root); Debian's postgresql package creates it.
const pgUser = "postgres"

// PGOptions configures a PostgreSQL instance. The zero value is what Postgres(t)
// uses.
type PGOptions struct {
	// MaxConnections is max_connections. Zero means 300, enough for a 200-client
	// pgbench run plus the tests' own connections.
	MaxConnections int
	// Settings are extra postgresql.conf settings, written after the defaults
	// (see pgDefaultSettings) so they override them. Values are written verbatim:
	// quote strings ('on' needs no quotes, '64MB' does not either).
	Settings map[string]string
	// TLSCert and TLSKey, when set, are PEM files of the certificate and key the
	// server offers clients that ask for TLS (ssl = on). TLSClientCA, when set, is
	// the CA file the server checks client certificates against, and makes it ask
	// for one (ssl_ca_file). They are copied into the data directory, where the
	// server accepts their owner and mode.
	TLSCert, TLSKey, TLSClientCA string
}

// pgDefaultSettings trade durability for speed: the data is thrown away anyway.
var pgDefaultSettings = map[string]string{
	"listen_addresses":           "'127.0.0.1'",
	"fsync":                      "off",
	"synchronous_commit":         "off",
	"full_page_writes":           "off",
	"shared_buffers":             "64MB",
	"max_wal_size":               "1GB",
	"checkpoint_timeout":         "30min",
	"password_encryption":        "'scram-sha-256'",
	"logging_collector":          "off",
	"log_min_messages":           "warning",
	"log_line_prefix":            "'%m [%p] %q%u@%d '",
	"dynamic_shared_memory_type": "posix",
}

// PG is a private PostgreSQL server. Its fields are fixed for its life; the
// port and data survive Stop/Start. Methods are safe for concurrent use.
type PG struct {
	Host      string // 127.0.0.1
	Port      int    // TCP port on Host
	SocketDir string // directory of the unix socket .s.PGSQL.<Port>
	SuperUser string // superuser for setup, trusted on TCP and the socket, no password
	DataDir   string
	BinDir    string // PostgreSQL's programs (postgres, initdb, pgbench, ...)
	LogFile   string // the server's stderr

	dir  string
	opts PGOptions

	setupMu sync.Mutex // serializes role and database changes

	mu   sync.Mutex // protects proc
	proc *Process   // nil when stopped
}

// PGBinDir returns the directory of PostgreSQL's server programs: $PG_BINDIR if
// set, else PostgreSQL 15's Debian directory, else what pg_config says, else the
// newest /usr/lib/postgresql/*/bin. The error wraps ErrMissing.
func PGBinDir() (string, error) {
	candidates := []string{os.Getenv("PG_BINDIR"), "/usr/lib/postgresql/15/bin"}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	others, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(others)))
	for _, dir := range append(candidates, others...) {
		if dir != "" && isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server (initdb, postgres): %w; install it with scripts/install-deps.sh or apt-get install postgresql-15", ErrMissing)
}

// StartPostgres creates a new PostgreSQL cluster in a fresh directory, starts it
// on a free port and creates the test roles (see TrustUser, MD5User,
// ScramUser). The caller must Close it; Shutdown closes it too.
func StartPostgres(opts PGOptions) (*PG, error) {
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 300
	}
	bin, err := PGBinDir()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if _, err := lookupUser(pgUser); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMissing, err)
		}
	}
	dir, err := newServerDir("pg", pgUser)
	if err != nil {
		return nil, err
	}
	pg := &PG{
		Host: "127.0.0.1", SocketDir: dir, SuperUser: "postgres",
		DataDir: filepath.Join(dir, "data"), BinDir: bin, LogFile: filepath.Join(dir, "postgres.log"),
		dir: dir, opts: opts,
	}
	track(pg)
	if err := pg.init(); err != nil {
		pg.Close()
		return nil, err
	}
	return pg, nil
}

func (pg *PG) init() error {
	if err := pg.initdb(); err != nil {
		return err
	}
	if err := pg.writeConfig(); err != nil {
		return err
	}
	if err := pg.startOnFreePort(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return pg.bootstrap(ctx)
}

func (pg *PG) initdb() error {
	cmd := exec.Command(filepath.Join(pg.BinDir, "initdb"), "-D", pg.DataDir, "-U", pg.SuperUser,
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions")
	return runAs(cmd, pgUser)
}

func (pg *PG) writeConfig() error {
	settings := map[string]string{"max_connections": strconv.Itoa(pg.opts.MaxConnections)}
	for k, v := range pgDefaultSettings {
		settings[k] = v
	}
	tlsFiles, err := pg.copyTLSFiles()
	if err != nil {
		return err
	}
	for k, v := range tlsFiles {
		settings[k] = v
	}
	for k, v := range pg.opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conf strings.Builder
	conf.WriteString("\n# motorpool testenv\n")
	for _, k := range keys {
		fmt.Fprintf(&conf, "%s = %s\n", k, settings[k])
	}
	if err := appendFile(filepath.Join(pg.DataDir, "postgresql.conf"), conf.String()); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(pg.DataDir, "pg_hba.conf"), []byte(pgHBA), 0o600)
}

// copyTLSFiles copies the TLS files of the options into the data directory, owned by
// the server's user with mode 0600, and returns the settings that name them.
func (pg *PG) copyTLSFiles() (map[string]string, error) {
	settings := map[string]string{}
	for _, f := range []struct{ src, name, setting string }{
		{pg.opts.TLSCert, "server.crt", "ssl_cert_file"},
		{pg.opts.TLSKey, "server.key", "ssl_key_file"},
		{pg.opts.TLSClientCA, "client_ca.crt", "ssl_ca_file"},
	} {
		if f.src == "" {
			continue
		}
		b, err := os.ReadFile(f.src)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(pg.DataDir, f.name)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return nil, err
		}
		if err := chownTo(dst, pgUser); err != nil {
			return nil, err
		}
		settings[f.setting] = "'" + f.name + "'"
	}
	if len(settings) > 0 {
		settings["ssl"] = "on"
	}
	return settings, nil
}

// Start starts the server if it is stopped and waits until it accepts
// connections.
func (pg *PG) Start() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.startLocked()
}

func (pg *PG) startLocked() error {
	if pg.proc != nil {
		if pg.proc.Err() == nil {
			return nil
		}
		pg.proc = nil
	}
	logf, err := os.OpenFile(pg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(pg.BinDir, "postgres"), "-D", pg.DataDir,
		"-p", strconv.Itoa(pg.Port), "-k", pg.SocketDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := Spawn(cmd, pgUser)
	if err != nil {
		return err
	}
	if err := pg.waitReady(proc); err != nil {
		proc.Stop(syscall.SIGQUIT, 10*time.Second)
		return err
	}
	pg.proc = proc
	return nil
}

// errPortTaken means another process bound the port between FreePort and the
// server's bind.
var errPortTaken = errors.New("port taken")

func (pg *PG) startOnFreePort() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	var err error
	for range 5 {
		if pg.Port, err = FreePort(); err != nil {
			return err
		}
		if err = pg.startLocked(); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

// waitReady waits until the server answers a connection, exits, or a minute
// passes.
func (pg *PG) waitReady(proc *Process) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgconn.Connect(ctx, pg.DSN(pg.SuperUser, "", "postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-proc.Done():
			tail := logTail(pg.LogFile, 20)
			if strings.Contains(tail, "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("postgres exited during start (%v); %s:\n%s", proc.Err(), pg.LogFile, tail)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within a minute: %v; %s:\n%s", err, pg.LogFile, logTail(pg.LogFile, 20))
		}
	}
}

// Stop shuts the server down in fast mode: open sessions are terminated (their
// clients get SQLSTATE 57P01) and the server checkpoints and exits. Stopping a
// stopped server does nothing.
func (pg *PG) Stop() error { return pg.stop(syscall.SIGINT, time.Minute) }

// Kill shuts the server down in immediate mode, as a crash would: connections
// are cut without a goodbye, and the next Start runs crash recovery.
func (pg *PG) Kill() error { return pg.stop(syscall.SIGQUIT, 10*time.Second) }

func (pg *PG) stop(sig syscall.Signal, grace time.Duration) error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.proc == nil {
		return nil
	}
	err := pg.proc.Stop(sig, grace)
	pg.proc = nil
	return err
}

// Running reports whether the server process is up (it may still be starting).
func (pg *PG) Running() bool {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.proc != nil && pg.proc.Err() == nil
}

// Close stops the server and removes its directory. It is idempotent.
func (pg *PG) Close() error {
	err := pg.Stop()
	untrack(pg)
	os.RemoveAll(pg.dir)
	return err
}
