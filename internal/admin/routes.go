package admin

import (
	"crypto/subtle"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/motorpool/motorpool/web"
)

// Handler returns the admin HTTP API, metrics and dashboard:
//
//	GET  /metrics                      Prometheus metrics
//	GET  /healthz                      200 while the process runs
//	GET  /readyz                       200 while it accepts clients, 503 when draining
//	GET  /api/v1/pools                 every pool's dashboard
//	GET  /api/v1/pools/{name}          one pool's dashboard ("shop", "shop/gateway")
//	GET  /api/v1/series/{name}?span=S  a pool's per-second samples over S seconds (default 300)
//	GET  /api/v1/clients               client connections
//	GET  /api/v1/servers               server connections
//	GET  /api/v1/scaling               the latest scaling decisions, oldest first
//	GET  /api/v1/budgets               how each database's budget is shared
//	POST /api/v1/pause[/{db}]          PAUSE (token required)
//	POST /api/v1/resume[/{db}]         RESUME (token required)
//	POST /api/v1/kill/{db}             KILL (token required)
//	POST /api/v1/disable/{db}          DISABLE (token required)
//	POST /api/v1/enable/{db}           ENABLE (token required)
//	POST /api/v1/reconnect[/{db}]      RECONNECT (token required)
//	POST /api/v1/wait_close[/{db}]     WAIT_CLOSE (token required)
//	POST /api/v1/reload                RELOAD (token required)
//	POST /api/v1/shutdown              SHUTDOWN (token required)
//	GET  /, /pools/{name}              the dashboard
//
// Every route answers 421 Misdirected Request to a Host header that names
// neither an IP literal, localhost nor an allowed host (see
// Options.AllowedHosts).
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /api/v1/pools", a.apiPools)
	mux.HandleFunc("GET /api/v1/pools/{name...}", a.apiPool)
	mux.HandleFunc("GET /api/v1/series/{name...}", a.apiSeries)
	mux.HandleFunc("GET /api/v1/clients", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Clients()) })
	mux.HandleFunc("GET /api/v1/servers", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Servers()) })
	mux.HandleFunc("GET /api/v1/scaling", a.apiScaling)
	mux.HandleFunc("GET /api/v1/budgets", a.apiBudgets)
	mux.HandleFunc("POST /api/v1/pause", a.authorized(a.apiCommand("PAUSE")))
	mux.HandleFunc("POST /api/v1/pause/{db}", a.authorized(a.apiCommand("PAUSE")))
	mux.HandleFunc("POST /api/v1/resume", a.authorized(a.apiCommand("RESUME")))
	mux.HandleFunc("POST /api/v1/resume/{db}", a.authorized(a.apiCommand("RESUME")))
	mux.HandleFunc("POST /api/v1/kill/{db}", a.authorized(a.apiCommand("KILL")))
	mux.HandleFunc("POST /api/v1/disable/{db}", a.authorized(a.apiCommand("DISABLE")))
	mux.HandleFunc("POST /api/v1/enable/{db}", a.authorized(a.apiCommand("ENABLE")))
	mux.HandleFunc("POST /api/v1/reconnect", a.authorized(a.apiCommand("RECONNECT")))
	mux.HandleFunc("POST /api/v1/reconnect/{db}", a.authorized(a.apiCommand("RECONNECT")))
	mux.HandleFunc("POST /api/v1/wait_close", a.authorized(a.apiCommand("WAIT_CLOSE")))
	mux.HandleFunc("POST /api/v1/wait_close/{db}", a.authorized(a.apiCommand("WAIT_CLOSE")))
	mux.HandleFunc("POST /api/v1/reload", a.authorized(a.apiCommand("RELOAD")))
	mux.HandleFunc("POST /api/v1/shutdown", a.authorized(a.apiCommand("SHUTDOWN")))

	static, _ := fs.Sub(web.FS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", a.pageOverview)
	mux.HandleFunc("GET /pools/{name...}", a.pagePool)
	mux.HandleFunc("GET /partials/overview", a.partialOverview)
	mux.HandleFunc("GET /partials/pool/{name...}", a.partialPool)
	mux.HandleFunc("GET /partials/conns/{name...}", a.partialConns)
	return a.checkHost(mux)
}

// authorized lets a request through only with the configured bearer token.
// Without a configured token, state-changing endpoints are refused.
func (a *Admin) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := *a.token.Load()
		if token == "" {
			writeError(w, http.StatusForbidden, "state-changing endpoints need admin.token to be set")
			return
		}
		got, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="motorpool"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN" header; the
// scheme's name is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
