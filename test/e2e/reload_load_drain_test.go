package e2e

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
	"github.com/motorpool/motorpool/pool"
)

// reloadSetup applies the configuration of s to e's proxy.
func reloadSetup(t *testing.T, e *env, s setup) error {
	t.Helper()
	text := s.yamlFor(e.PG, e.DB, "127.0.0.1:0")
	next, err := config.Parse("test.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return e.Proxy.Reload(next)
}

// TestReloadLoadDuringDrainChangesNothing: once SIGTERM's drain has begun, a
// reload (the file watcher, the console's RELOAD) is refused: it would only build
// pools, and open their min_connections, for clients that can no longer come.
// The transaction that keeps the drain going finishes unharmed.
func TestReloadLoadDuringDrainChangesNothing(t *testing.T) {
	t.Parallel()
	s := setup{PoolSize: 2}
	e := start(t, s)
	ctx := testCtx(t)
	tx := holdTransactions(t, e.Addr, e.DB, 1)[0]
	before := map[*pool.Pool[proxy.Backend]]bool{}
	for _, pl := range e.Proxy.Pools() {
		before[pl.Core()] = true
	}

	drained := make(chan error, 1)
	go func() { drained <- e.Proxy.Shutdown(ctx) }()
	eventually(t, time.Minute, "draining", func() error {
		if _, err := connectOrErr(t, e.AppDSN("")); err == nil {
			return errors.New("still accepting clients")
		}
		return nil
	})
	s.URLParams = "min_connections=2&statement_timeout=60000"
	if err := reloadSetup(t, e, s); !errors.Is(err, proxy.ErrShuttingDown) {
		t.Errorf("reload while draining: %v, want %v", err, proxy.ErrShuttingDown)
	}
	for _, pl := range e.Proxy.Pools() {
		if !before[pl.Core()] {
			t.Errorf("pool %s built by a reload during the drain", pl.Name)
		}
	}
	if _, err := tx.Exec(ctx, "SELECT 2"); err != nil {
		t.Fatalf("the transaction running when the drain began: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit while draining: %v", err)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestReloadLoadSignalsDuringDrain: while SIGTERM's drain waits for a
// transaction, an edited file and SIGHUP are answered with a log line saying
// that nothing is reloaded, and SIGINT still exits at once, as it does outside
// a drain, without waiting for the transaction. With a drain timeout of an hour,
// only SIGINT lets motorpool exit within the minute.
func TestReloadLoadSignalsDuringDrain(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	cfg := filepath.Join(t.TempDir(), "motorpool.yaml")
	writeConfig(t, cfg, setup{PoolSize: 2}, p, db)
	d := startDaemon(t, cfg, "--drain-timeout", "1h")
	holdTransactions(t, d.Addr, db, 1)

	d.signal(t, syscall.SIGTERM)
	eventually(t, time.Minute, "draining", func() error {
		if !d.outputHas(`msg=draining`) {
			return errors.New("no draining line yet")
		}
		return nil
	})
	writeConfig(t, cfg, setup{PoolSize: 3, URLParams: "min_connections=2"}, p, db)
	d.signal(t, syscall.SIGHUP)
	eventually(t, time.Minute, "the reload refused", func() error {
		if !d.outputHas(`configuration not reloaded: motorpool is shutting down" why=SIGHUP`) {
			return errors.New("no log line for SIGHUP yet")
		}
		return nil
	})
	if d.outputHas(`msg="configuration reloaded"`) {
		t.Error("a configuration was reloaded during the drain")
	}
	d.signal(t, syscall.SIGINT)
	if err := d.wait(t, time.Minute); err != nil {
		t.Fatalf("motorpool exited with %v after SIGINT", err)
	}
}

// TestReloadLoadUnchangedFileDuringDrain: SIGHUP with the file unchanged during
// SIGTERM's drain is refused like any other reload, not logged as a reload that
// changed nothing.
func TestReloadLoadUnchangedFileDuringDrain(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	cfg := filepath.Join(t.TempDir(), "motorpool.yaml")
	writeConfig(t, cfg, setup{PoolSize: 2}, p, db)
	d := startDaemon(t, cfg, "--drain-timeout", "1h")
	holdTransactions(t, d.Addr, db, 1)

	d.signal(t, syscall.SIGTERM)
	eventually(t, time.Minute, "draining", func() error {
		if !d.outputHas(`msg=draining`) {
			return errors.New("no draining line yet")
		}
		return nil
	})
	d.signal(t, syscall.SIGHUP)
	eventually(t, time.Minute, "the reload refused", func() error {
		if !d.outputHas(`configuration not reloaded: motorpool is shutting down" why=SIGHUP`) {
			return errors.New("no log line for SIGHUP yet")
		}
		return nil
	})
	if d.outputHas(`msg="configuration reloaded"`) {
		t.Error("a reload was logged during the drain")
	}
	d.signal(t, syscall.SIGINT)
	if err := d.wait(t, time.Minute); err != nil {
		t.Fatalf("motorpool exited with %v after SIGINT", err)
	}
}
