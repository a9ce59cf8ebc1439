package admin

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
)

// Controls are the operations that belong to the daemon rather than to the
// proxy: the console's RELOAD and SHUTDOWN and their HTTP equivalents call
// them. A nil function makes the command fail with "not supported".
type Controls struct {
	// Reload reads the configuration file again and applies it.
	Reload func() error
	// Shutdown asks the daemon to drain and stop; it returns at once.
	Shutdown func()
}

// Options configure an Admin.
type Options struct {
	Proxy   *proxy.Proxy     // required
	Monitor *monitor.Monitor // required
	// Version is reported by SHOW VERSION and the API.
	Version  string
	Controls Controls
	// Token, when set, must be presented as "Authorization: Bearer TOKEN" to
	// the HTTP endpoints that change state; without one those endpoints are
	// refused. Admin.SetToken replaces it.
	Token string
	// Loopback says the HTTP API is served on a loopback address only
	// (config.Admin.Loopback): the Host header of its requests is then checked
	// even when AllowedHosts is empty, against DNS rebinding.
	Loopback bool
	// AllowedHosts are the host names, besides IP literals and localhost, that
	// the Host header of an HTTP request may name (config.Admin.AllowedHosts;
	// "*.example.com" for the names under example.com); other requests are
	// answered 421 Misdirected Request. When empty and Loopback is false, every
	// Host is answered. Admin.SetAllowedHosts replaces them.
	AllowedHosts []string
	// Log receives alert transitions and admin operations. Nil discards.
	Log *slog.Logger
}

// Admin serves the console, the metrics, the API and the dashboard of one
// proxy. It is safe for concurrent use.
type Admin struct {
	px       *proxy.Proxy
	mon      *monitor.Monitor
	version  string
	controls Controls
	token    atomic.Pointer[string] // Options.Token, until SetToken
	loopback bool                   // Options.Loopback
	hosts    atomic.Pointer[hostPolicy]
	log      *slog.Logger

	reg *prometheus.Registry
	obs *Observer
}

// New returns an Admin for o.Proxy. Install it with proxy.SetConsole and
// proxy.SetObserver (Observer), and run its sampler with Run.
func New(o Options) *Admin {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &Admin{
		px: o.Proxy, mon: o.Monitor, version: o.Version, controls: o.Controls,
		loopback: o.Loopback, log: o.Log,
	}
	a.SetToken(o.Token)
	a.SetAllowedHosts(o.AllowedHosts)
	a.obs = newObserver()
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(a.obs, &poolCollector{a: a},
		collectors.NewGoCollector(),                                       // go_goroutines, go_memstats_*, …
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})) // process_open_fds, CPU, RSS
	return a
}

// SetToken replaces Options.Token for the requests that arrive from now on: the
// old token stops working (configuration reload). An empty token refuses the
// state-changing endpoints.
func (a *Admin) SetToken(token string) { a.token.Store(&token) }

// SetAllowedHosts replaces Options.AllowedHosts for the requests that arrive
// from now on (configuration reload). Options.Loopback stays: the listen
// address does not change without a restart.
func (a *Admin) SetAllowedHosts(names []string) { a.hosts.Store(newHostPolicy(a.loopback, names)) }

// Observer returns the proxy observer that records transaction and query
// durations for the metrics and the monitor.
func (a *Admin) Observer() *Observer { return a.obs }

// Registry returns the Prometheus registry /metrics serves.
func (a *Admin) Registry() *prometheus.Registry { return a.reg }

// Run samples every pool once a second into the monitor until ctx ends.
func (a *Admin) Run(ctx context.Context) { a.runSampler(ctx) }

var _ proxy.Console = (*Admin)(nil)
