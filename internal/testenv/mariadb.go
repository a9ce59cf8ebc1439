package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mariaUser is the system account MariaDB runs as when the tests run as root;
// Debian's mariadb-server package creates it.
const mariaUser = "mysql"

// MDB is a private MariaDB server. Its root account has no password, on the
// socket and on TCP. Fields are fixed for its life; methods are safe for
// concurrent use.
type MDB struct {
	Host     string // 127.0.0.1
	Port     int
	Socket   string // unix socket path
	RootUser string // "root", no password
	DataDir  string
	LogFile  string

	dir string
	bin string // mariadbd

	mu   sync.Mutex // protects proc
	proc *Process   // nil when stopped
}

// StartMariaDB creates a new MariaDB data directory with mariadb-install-db in
// a fresh directory and starts mariadbd --no-defaults on a free port. The
// caller must Close it; Shutdown closes it too.
func StartMariaDB() (*MDB, error) {
	installDB, err := LookPath("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	mariadbd, err := LookPath("mariadbd")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if _, err := lookupUser(mariaUser); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMissing, err)
		}
	}
	dir, err := newServerDir("mariadb", mariaUser)
	if err != nil {
		return nil, err
	}
	m := &MDB{
		Host: "127.0.0.1", Socket: filepath.Join(dir, "mysqld.sock"), RootUser: "root",
		DataDir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "error.log"),
		dir: dir, bin: mariadbd,
	}
	track(m)
	install := exec.Command(installDB, "--no-defaults", "--datadir="+m.DataDir,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")
	if err := runAs(install, mariaUser); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.startOnFreePort(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Start starts the server if it is stopped and waits until it accepts
// connections.
func (m *MDB) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.startLocked()
}

func (m *MDB) startLocked() error {
	if m.proc != nil {
		if m.proc.Err() == nil {
			return nil
		}
		m.proc = nil
	}
	cmd := exec.Command(m.bin, "--no-defaults",
		"--datadir="+m.DataDir, "--socket="+m.Socket, "--port="+strconv.Itoa(m.Port),
		"--bind-address=127.0.0.1", "--skip-name-resolve",
		"--pid-file="+filepath.Join(m.dir, "mariadbd.pid"), "--log-error="+m.LogFile,
		"--max-connections=500", "--innodb-buffer-pool-size=64M",
		"--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--sync-frm=0")
	proc, err := Spawn(cmd, mariaUser)
	if err != nil {
		return err
	}
	if err := m.waitReady(proc); err != nil {
		proc.Stop(syscall.SIGKILL, 10*time.Second)
		return err
	}
	m.proc = proc
	return nil
}

func (m *MDB) startOnFreePort() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	for range 5 {
		if m.Port, err = FreePort(); err != nil {
			return err
		}
		if err = m.startLocked(); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

func (m *MDB) waitReady(proc *Process) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := m.ping()
		if err == nil {
			return nil
		}
		select {
		case <-proc.Done():
			tail := logTail(m.LogFile, 20)
			if strings.Contains(tail, "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("mariadbd exited during start (%v); %s:\n%s", proc.Err(), m.LogFile, tail)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd did not accept connections within a minute: %v; %s:\n%s", err, m.LogFile, logTail(m.LogFile, 20))
		}
	}
}

func (m *MDB) ping() error {
	db, err := sql.Open("mysql", m.DSN(m.RootUser, "", ""))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// DSN returns a go-sql-driver/mysql connection string for user on database db
// (none if empty) over TCP.
func (m *MDB) DSN(user, password, db string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = user, password, db
	cfg.Net, cfg.Addr = "tcp", m.Host+":"+strconv.Itoa(m.Port)
	cfg.Timeout = 10 * time.Second
	return cfg.FormatDSN()
}

// Exec runs one statement as root.
func (m *MDB) Exec(ctx context.Context, query string, args ...any) error {
	db, err := sql.Open("mysql", m.DSN(m.RootUser, "", ""))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, query, args...)
	return err
}

// EnsureUser makes name@'%' a user that authenticates with
// mysql_native_password and password, with all privileges, creating it or
// changing its password.
func (m *MDB) EnsureUser(ctx context.Context, name, password string) error {
	user := mariaString(name) + "@'%'"
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS " + user,
		// ALTER USER cannot be prepared, so the password is a quoted literal.
		"ALTER USER " + user + " IDENTIFIED VIA mysql_native_password USING PASSWORD(" + mariaString(password) + ")",
		"GRANT ALL PRIVILEGES ON *.* TO " + user,
	} {
		if err := m.Exec(ctx, q); err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
	}
	return nil
}

// CreateUser is EnsureUser for tests: it fails the test on error.
func (m *MDB) CreateUser(t testing.TB, name, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.EnsureUser(ctx, name, password); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// CreateDatabase creates database name afresh, dropping one left over; it is
// dropped by t.Cleanup. It returns name.
func (m *MDB) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := "`" + strings.ReplaceAll(name, "`", "``") + "`"
	for _, stmt := range []string{"DROP DATABASE IF EXISTS " + q, "CREATE DATABASE " + q} {
		if err := m.Exec(ctx, stmt); err != nil {
			t.Fatalf("testenv: database %q: %v", name, err)
		}
	}
	t.Cleanup(func() {
		if m.Running() {
			m.Exec(context.Background(), "DROP DATABASE IF EXISTS "+q)
		}
	})
	return name
}

// Stop shuts the server down cleanly (SIGTERM). Stopping a stopped server does
// nothing.
func (m *MDB) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return nil
	}
	err := m.proc.Stop(syscall.SIGTERM, time.Minute)
	m.proc = nil
	return err
}

// Running reports whether the server process is up.
func (m *MDB) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc != nil && m.proc.Err() == nil
}

// Restart stops the server and starts it again on the same port, failing the
// test on error.
func (m *MDB) Restart(t testing.TB) {
	t.Helper()
	if err := m.Stop(); err != nil {
		t.Fatalf("testenv: stop mariadb: %v", err)
	}
	if err := m.Start(); err != nil {
		t.Fatalf("testenv: start mariadb: %v", err)
	}
}

// Close stops the server and removes its directory. It is idempotent.
func (m *MDB) Close() error {
	err := m.Stop()
	untrack(m)
	os.RemoveAll(m.dir)
	return err
}

var sharedMariaDB struct {
	once sync.Once
	m    *MDB
	err  error
}

// MariaDB returns the MariaDB 10.11 instance shared by the whole test binary,
// starting it on first use. Main stops it after the last test. When it cannot
// be started the test fails, or skips outside CI if MariaDB is not installed.
func MariaDB(t testing.TB) *MDB {
	t.Helper()
	sharedMariaDB.once.Do(func() { sharedMariaDB.m, sharedMariaDB.err = StartMariaDB() })
	if sharedMariaDB.err != nil {
		Unavailable(t, sharedMariaDB.err)
	}
	return sharedMariaDB.m
}

// mariaString quotes s as a MariaDB string literal (default sql_mode, where a
// backslash escapes).
func mariaString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`, "\x00", `\0`).Replace(s) + "'"
}
