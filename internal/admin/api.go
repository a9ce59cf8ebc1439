package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
)

// Reports returns every pool's dashboard, by pool name. A pool not sampled
// yet has status unknown.
func (a *Admin) Reports() []monitor.Report {
	out := []monitor.Report{}
	for _, p := range a.sortedPools() {
		out = append(out, a.report(p))
	}
	return out
}

// pool finds a pool by name. A name that is not UTF-8 is also found as the API's
// JSON writes it, with U+FFFD for its invalid bytes.
func (a *Admin) pool(name string) *proxy.Pool {
	var lossy *proxy.Pool
	for _, p := range a.px.Pools() {
		if p.Name == name {
			return p
		}
		if lossy == nil && strings.ToValidUTF8(p.Name, "\uFFFD") == name {
			lossy = p
		}
	}
	return lossy
}

func (a *Admin) apiPools(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Reports())
}

func (a *Admin) apiPool(w http.ResponseWriter, r *http.Request) {
	p := a.pool(r.PathValue("name"))
	if p == nil {
		writeError(w, http.StatusNotFound, "no such pool: "+r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, a.report(p))
}

// apiSeries returns a pool's per-second samples for the dashboard's charts.
func (a *Admin) apiSeries(w http.ResponseWriter, r *http.Request) {
	span := 300
	if s := r.URL.Query().Get("span"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3600 {
			writeError(w, http.StatusBadRequest, "span must be a number of seconds from 1 to 3600")
			return
		}
		span = n
	}
	name := r.PathValue("name")
	if a.pool(name) == nil {
		writeError(w, http.StatusNotFound, "no such pool: "+name)
		return
	}
	s, ok := a.mon.Series(name, time.Duration(span)*time.Second)
	if !ok {
		s = emptySeries() // not sampled yet
	}
	writeJSON(w, http.StatusOK, s)
}

func emptySeries() monitor.Series {
	return monitor.Series{Time: []int64{}, Active: []float32{}, Idle: []int32{}, Waiting: []float32{},
		P50: []float64{}, P95: []float64{}, P99: []float64{}, TPS: []float64{}, ErrorRate: []float64{}}
}

func (a *Admin) readyz(w http.ResponseWriter, r *http.Request) {
	if a.px.Draining() {
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	w.Write([]byte("ready\n"))
}

// apiCommand runs a console command for the HTTP API; {db}, when in the
// path, is its argument, taken as it is (spaces and quotes too). An unknown
// database is 404, any other failure 400.
func (a *Admin) apiCommand(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var err error
		cmd := verb
		if _, ok := dbUsage[verb]; ok {
			var args []string
			if db := r.PathValue("db"); db != "" {
				args = []string{db}
				cmd += " " + quoteName(db)
			}
			_, err = a.dbCommand(r.Context(), "http", verb, args)
		} else {
			_, err = a.control("http", verb)
		}
		var noDB noDatabaseError
		switch {
		case errors.As(err, &noDB):
			writeError(w, http.StatusNotFound, err.Error())
		case err != nil:
			writeError(w, http.StatusBadRequest, err.Error())
		default:
			writeJSON(w, http.StatusOK, map[string]string{"ok": cmd})
		}
	}
}

// quoteName double-quotes a database name as the console reads it back.
func quoteName(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
