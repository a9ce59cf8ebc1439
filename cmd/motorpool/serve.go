package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/proxy"
)

func newServeCmd() *cobra.Command {
	var file string
	var drain time.Duration
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "serve -c FILE",
		Short: "Run the proxy",
		Long: `serve runs the PostgreSQL proxy described by FILE.

Signals: SIGHUP reloads FILE (as does any change to it); an invalid new
configuration is logged and the running one keeps serving. SIGTERM drains:
motorpool stops accepting, lets transactions finish until --drain-timeout,
then exits. SIGINT exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			return runServe(cmd.ErrOrStderr(), file, drain)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "motorpool.yaml", "configuration file")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 30*time.Second, "how long SIGTERM waits for transactions to finish")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file until exit")
	return cmd
}

func runServe(stderr io.Writer, file string, drain time.Duration) error {
	cfg, err := loadOrReport(stderr, file)
	if err != nil {
		return err
	}
	var level slog.LevelVar
	level.Set(cfg.Log.Level)
	logs := newLogSwitch(stderr, cfg.Log.Format, &level)
	log := logs.Logger()
	clientTLS, err := loadTLS(cfg.TLS)
	if err != nil {
		return err
	}
	adapter := pg.New(pg.Config{TLS: clientTLS, RequireTLS: cfg.TLS.Mode == config.TLSRequire})
	px, err := proxy.New(cfg, adapter, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		px.Close()
		return err
	}

	var console *admin.Admin // set before anything can reload
	var reloading sync.Mutex // the watcher, SIGHUP and the admin API may reload at once
	reload := func(why string) error {
		reloading.Lock()
		defer reloading.Unlock()
		// Checked before the diff too: a file that did not change would otherwise
		// be logged as reloaded during the drain.
		if px.Draining() {
			log.Warn("configuration not reloaded: motorpool is shutting down", "why", why)
			return proxy.ErrShuttingDown
		}
		next, err := load(file)
		if err != nil {
			log.Error("configuration rejected; the running one keeps serving", "file", file, "why", why, "err", err)
			return err
		}
		// Loaded before anything is applied, on every reload so that a certificate
		// renewed in place is picked up: one that cannot be read rejects the reload.
		nextTLS, err := loadTLS(next.TLS)
		if err != nil {
			log.Error("configuration rejected: cannot load tls.cert and tls.key; the running one keeps serving", "file", file, "why", why, "err", err)
			return err
		}
		changes := config.Diff(px.Config(), next)
		if changes.Empty() {
			summary := "none"
			if nextTLS != nil {
				adapter.SetTLS(nextTLS, next.TLS.Mode == config.TLSRequire)
				summary = "none; tls.cert and tls.key read again"
			}
			log.Info("configuration reloaded", "why", why, "changes", summary)
			return nil
		}
		if err := px.Reload(next); err != nil {
			if errors.Is(err, proxy.ErrShuttingDown) {
				log.Warn("configuration not reloaded: motorpool is shutting down", "why", why)
				return err
			}
			log.Error("reload failed; the running configuration keeps serving", "err", err)
			return err
		}
		adapter.SetTLS(nextTLS, next.TLS.Mode == config.TLSRequire)
		adapter.Reloaded()
		console.SetToken(string(next.Admin.Token))
		console.SetAllowedHosts(next.Admin.AllowedHosts)
		level.Set(next.Log.Level)
		logs.SetFormat(next.Log.Format)
		log.Info("configuration reloaded", "why", why, "changes", changeSummary(changes))
		return nil
	}
	shutdown := make(chan struct{}, 1) // the admin console's SHUTDOWN
	console = newAdmin(cfg, px, log, admin.Controls{
		Reload:   func() error { return reload("RELOAD") },
		Shutdown: func() { trySend(shutdown) },
	})
	adm, err := serveAdmin(console, cfg.Admin.Listen, log)
	if err != nil {
		ln.Close()
		px.Close()
		return err
	}
	defer adm.stop()
	log.Info("motorpool listening", "addr", ln.Addr().String(), "databases", len(cfg.Databases), "services", len(cfg.Services))

	served := make(chan error, 1)
	go func() { served <- px.Serve(ln) }()

	stopWatch, err := watchFile(file, func() { reload("file changed") })
	if err != nil {
		log.Warn("not watching the configuration file; reload with SIGHUP", "err", err)
	}
	defer stopWatch()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-served:
			px.Close()
			if errors.Is(err, proxy.ErrClosed) {
				return nil
			}
			return err
		case <-shutdown:
			drainAndStop(log, px, served, drain, sigs, reload)
			return nil
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				reload("SIGHUP")
			case syscall.SIGTERM:
				drainAndStop(log, px, served, drain, sigs, reload)
				return nil
			default:
				log.Info("stopping")
				px.Close()
				<-served
				return nil
			}
		}
	}
}

// changeSummary is changes on one log line, its changes separated by "; ".
func changeSummary(changes config.Changes) string {
	return strings.ReplaceAll(strings.TrimSuffix(changes.String(), "\n"), "\n", "; ")
}

// drainAndStop drains the proxy (SIGTERM, the console's SHUTDOWN) and waits for
// Serve to return. Signals still count meanwhile: SIGINT closes at once, without
// waiting for the transactions still running; SIGHUP goes to reload, which the
// proxy refuses now; another SIGTERM changes nothing.
func drainAndStop(log *slog.Logger, px *proxy.Proxy, served <-chan error, drain time.Duration, sigs <-chan os.Signal, reload func(why string) error) {
	log.Info("draining", "timeout", drain)
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		px.Shutdown(ctx)
	}()
	for {
		select {
		case <-drained:
			<-served
			log.Info("stopped")
			return
		case sig := <-sigs:
			switch sig {
			case syscall.SIGINT:
				log.Info("stopping without waiting for the drain")
				px.Close()
			case syscall.SIGHUP:
				reload("SIGHUP")
			}
		}
	}
}

// loadOrReport loads the configuration, printing its problems as check does.
func loadOrReport(stderr io.Writer, file string) (*config.Config, error) {
	cfg, err := load(file)
	if err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			fmt.Fprintf(stderr, "%v\n", err)
			return nil, exitError{exitInvalid}
		}
		for _, e := range errs {
			fmt.Fprintf(stderr, "%v\n", e)
		}
		return nil, exitError{exitInvalid}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "warning: %v\n", w)
	}
	return cfg, nil
}

// loadTLS returns the client-facing TLS configuration, nil when disabled.
func loadTLS(c config.TLS) (*tls.Config, error) {
	if c.Mode == config.TLSDisable || c.Mode == "" || c.Cert == "" {
		return nil, nil // allow without a certificate: TLS is refused (see validateTLS)
	}
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// startCPUProfile profiles the process into file until the returned stop is called.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
