package main

import (
	"log/slog"
	"net"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/proxy"
)

// running is a motorpool started in this process by startProxy: the proxy
// serving on its listener, with its admin console, sampler and HTTP server.
type running struct {
	px       *proxy.Proxy
	adm      *adminRunning
	addr     string     // where the proxy listens
	adminURL string     // base URL of the admin HTTP server ("http://host:port")
	served   chan error // receives Serve's result once it returns
}

// startProxy starts motorpool for cfg in the background with the steps serve
// takes — the PostgreSQL adapter, the proxy, its listener and startAdmin —
// for commands that run it in-process (demo). serve takes them itself, since
// its console's RELOAD needs the proxy it has not created yet. Stop it with
// close.
func startProxy(cfg *config.Config, log *slog.Logger, controls admin.Controls) (*running, error) {
	clientTLS, err := loadTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	adapter := pg.New(pg.Config{TLS: clientTLS, RequireTLS: cfg.TLS.Mode == config.TLSRequire})
	px, err := proxy.New(cfg, adapter, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		px.Close()
		return nil, err
	}
	adm, err := startAdmin(cfg, px, log, controls)
	if err != nil {
		ln.Close()
		px.Close()
		return nil, err
	}
	r := &running{px: px, adm: adm, addr: ln.Addr().String(), adminURL: "http://" + adm.http.Addr(), served: make(chan error, 1)}
	go func() { r.served <- px.Serve(ln) }()
	return r, nil
}

// close ends the proxy at once, waits for it, then stops the admin server.
func (r *running) close() {
	r.px.Close()
	<-r.served
	r.adm.stop()
}
