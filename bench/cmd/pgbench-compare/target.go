package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/testenv"
)

// Target is one way for pgbench to reach PostgreSQL.
type Target struct {
	Name  string // direct, pgbouncer, motorpool: the report's column key
	Title string // column heading, with the version when known
	Port  int
	// Pid is the pooler's process, whose CPU time is measured; 0 for direct.
	Pid int
	// Unavailable says why the target cannot be measured at all; "" if it can.
	Unavailable string
	// Unsupported maps a pgbench protocol to why the target cannot serve it.
	Unsupported map[string]string
	// exited returns why the pooler process is gone, or nil while it runs.
	exited func() error
	// logPath is the pooler's log, quoted when it dies.
	logPath string
}

// checkAlive marks the target unavailable when its process has died, with the
// end of its log, and reports whether it is still usable.
func (t *Target) checkAlive(during string) bool {
	if t.Unavailable != "" {
		return false
	}
	if t.exited == nil {
		return true
	}
	err := t.exited()
	if err == nil {
		return true
	}
	log, _ := os.ReadFile(t.logPath)
	t.Unavailable = fmt.Sprintf("exited (%v) during %s; its log ends: %q", err, during, tailLines(string(log), 3))
	return false
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], " | ")
}

// The target names, in the report's column order.
const (
	direct    = "direct"
	pgbouncer = "pgbouncer"
	motorpool = "motorpool"
)

// pooled are the settings both poolers get, so they are measured alike.
type pooled struct {
	PoolSize   int    // server connections per (database, user)
	MaxClients int    // client connections accepted
	User       string // client and server user (scram-sha-256)
	Password   string
	Database   string
}

// startPgBouncer starts PgBouncer in transaction mode in front of pg.
func startPgBouncer(pg *testenv.PG, p pooled) *Target {
	t := &Target{Name: pgbouncer, Title: "PgBouncer", Unsupported: map[string]string{}}
	version, err := testenv.PgBouncerVersion()
	if err != nil {
		t.Unavailable = err.Error()
		return t
	}
	t.Title = "PgBouncer " + version
	opts := testenv.PgBouncerOptions{
		PoolMode: "transaction", PoolSize: p.PoolSize, MaxClientConn: p.MaxClients,
		AuthType: "scram-sha-256", Users: map[string]string{p.User: p.Password},
	}
	// Protocol-level prepared statements in transaction mode arrived in
	// PgBouncer 1.21 (max_prepared_statements); before, pgbench -M prepared
	// fails, or worse, works by luck when a client keeps meeting the same server
	// connection.
	if versionAtLeast(version, 1, 21) {
		opts.Settings = map[string]string{"max_prepared_statements": "200"}
	} else {
		t.Unsupported["prepared"] = "n/a (unsupported)"
	}
	b, err := testenv.StartPgBouncer(pg, opts)
	if err != nil {
		t.Unavailable = err.Error()
		return t
	}
	t.Port, t.Pid, t.exited, t.logPath = b.Port, b.Pid(), b.Err, b.LogFile
	return t
}

// versionAtLeast reports whether a dotted version is at least major.minor.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// motorpoolConfig is the generated motorpool configuration. It is the one
// place to adjust when internal/config's schema changes.
//
//go:embed motorpool.yaml.tmpl
var motorpoolConfig string

type motorpoolConfigData struct {
	pooled
	Port, AdminPort, PGPort int
}

// startMotorpool starts `motorpool serve` from bin with the generated
// configuration and waits until it answers a query. Any failure (no binary, no
// serve command, a configuration it rejects) makes the target unavailable,
// with the reason.
func startMotorpool(bin string, pg *testenv.PG, p pooled, dir string) *Target {
	t := &Target{Name: motorpool, Title: "motorpool", Unsupported: map[string]string{}}
	if bin == "" {
		t.Unavailable = "not built (go build ./cmd/motorpool failed)"
		return t
	}
	if _, err := os.Stat(bin); err != nil {
		t.Unavailable = fmt.Sprintf("%s not found (make build)", bin)
		return t
	}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		if v := firstLine(string(out)); strings.HasPrefix(v, "motorpool") {
			t.Title = v
		} else if v != "" {
			t.Title = "motorpool " + v
		}
	}
	data := motorpoolConfigData{pooled: p, PGPort: pg.Port}
	var err error
	if data.Port, err = testenv.FreePort(); err == nil {
		data.AdminPort, err = testenv.FreePort()
	}
	if err != nil {
		t.Unavailable = err.Error()
		return t
	}
	cfgPath := filepath.Join(dir, "motorpool.yaml")
	if err := writeTemplate(cfgPath, motorpoolConfig, data); err != nil {
		t.Unavailable = err.Error()
		return t
	}
	if err := checkConfig(bin, cfgPath); err != nil {
		t.Unavailable = err.Error()
		return t
	}
	logPath := filepath.Join(dir, "motorpool.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Unavailable = err.Error()
		return t
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := testenv.Spawn(cmd, "")
	if err != nil {
		t.Unavailable = err.Error()
		return t
	}
	if err := waitServing(proc, data.Port, p); err != nil {
		proc.Stop(syscall.SIGKILL, time.Second)
		log, _ := os.ReadFile(logPath)
		t.Unavailable = fmt.Sprintf("`motorpool serve` did not serve: %v: %s", err, lastLine(string(log)))
		return t
	}
	t.Port, t.Pid, t.exited, t.logPath = data.Port, proc.Pid(), proc.Err, logPath
	stopMotorpool = func() { proc.Stop(syscall.SIGINT, 30*time.Second) }
	return t
}

// checkConfig runs `motorpool check` on the generated configuration, when the
// binary has that command, so that a schema change shows up as a precise error
// rather than as a server that does not start.
func checkConfig(bin, cfgPath string) error {
	out, err := exec.Command(bin, "check", "-c", cfgPath).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 && !strings.Contains(string(out), "unknown command") {
		return fmt.Errorf("motorpool check rejects the generated configuration (adjust bench/cmd/pgbench-compare/motorpool.yaml.tmpl): %s",
			tailLines(string(out), 3))
	}
	return nil
}

// stopMotorpool stops the motorpool started by startMotorpool, if any.
var stopMotorpool = func() {}

// waitServing waits until a pooler on port answers SELECT 1, its process
// exits, or 20 seconds pass.
func waitServing(proc *testenv.Process, port int, p pooled) error {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Password, port, p.Database))
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_, err = conn.Exec(ctx, "SELECT 1")
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-proc.Done():
			return fmt.Errorf("exited (%v)", proc.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within 20s: %v", err)
		}
	}
}

func writeTemplate(path, text string, data any) error {
	tmpl, err := template.New(filepath.Base(path)).Option("missingkey=error").Parse(text)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
