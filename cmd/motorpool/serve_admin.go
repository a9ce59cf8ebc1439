package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
)

// adminRunning is the monitor's sampler and the admin HTTP server of a
// running proxy.
type adminRunning struct {
	http   *admin.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startAdmin installs the admin console and observer on px, starts the
// monitor's sampler and serves the admin HTTP API on admin.listen: newAdmin
// then serveAdmin. It fails if the address cannot be bound.
func startAdmin(cfg *config.Config, px *proxy.Proxy, log *slog.Logger, controls admin.Controls) (*adminRunning, error) {
	return serveAdmin(newAdmin(cfg, px, log, controls), cfg.Admin.Listen, log)
}

// newAdmin returns the admin console of px, installed with its observer.
func newAdmin(cfg *config.Config, px *proxy.Proxy, log *slog.Logger, controls admin.Controls) *admin.Admin {
	adm := admin.New(admin.Options{
		Proxy: px, Monitor: monitor.New(monitor.Options{}), Version: fullVersion(),
		Controls: controls, Token: string(cfg.Admin.Token), Log: log,
		Loopback: cfg.Admin.Loopback(), AllowedHosts: cfg.Admin.AllowedHosts,
	})
	px.SetConsole(adm)
	px.SetObserver(adm.Observer())
	return adm
}

// serveAdmin starts adm's sampler and serves its HTTP API on listen. It fails
// if the address cannot be bound.
func serveAdmin(adm *admin.Admin, listen string, log *slog.Logger) (*adminRunning, error) {
	hs, err := admin.Listen(listen, adm.Handler())
	if err != nil {
		return nil, err
	}
	log.Info("admin API listening", "addr", hs.Addr())
	ar := &adminRunning{http: hs}
	var ctx context.Context
	ctx, ar.cancel = context.WithCancel(context.Background())
	ar.wg.Add(1)
	go func() {
		defer ar.wg.Done()
		adm.Run(ctx)
	}()
	return ar, nil
}

// stop ends the sampler and shuts the HTTP server down, giving requests in
// flight a few seconds.
func (ar *adminRunning) stop() {
	ar.cancel()
	ar.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ar.http.Shutdown(ctx)
}

// trySend signals ch without blocking; a signal already pending is enough.
func trySend(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
