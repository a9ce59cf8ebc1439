package admin

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/web"
)

// pages are the dashboard's templates, parsed once.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"pct":      func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"num":      func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"barWidth": func(f float64) float64 { return math.Round(math.Min(math.Max(f, 0), 1) * 100) },
	"dur":      func(d monitor.Duration) string { return d.String() },
	"secs":     func(s float64) string { return monitor.Duration(s * float64(time.Second)).String() },
	"clock":    func(t time.Time) string { return t.Local().Format("15:04:05") },
	"clockp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Local().Format("15:04:05")
	},
	"trend": func(t monitor.Trend) string {
		return map[monitor.Trend]string{monitor.Rising: "↑ rising", monitor.Falling: "↓ falling"}[t] + map[bool]string{true: "→ stable"}[t == monitor.Stable]
	},
	// poolPath is a pool name as one path segment of a link: "/", "?", "#",
	// "%" and bytes that are not UTF-8 are percent-encoded, and the router
	// decodes them back.
	"poolPath": url.PathEscape,
}).ParseFS(web.FS, "templates/*.html"))

// page is what every page template gets.
type page struct {
	Title   string
	Version string
	Paused  []string
	Reports []monitor.Report // overview
	Report  monitor.Report   // pool page
	Clients []ClientConn     // pool page
	Servers []ServerConn     // pool page
	// ScalingOn tells whether the configuration scales pools; Scaling is the
	// pool's latest scaling decisions, newest first (pool page).
	ScalingOn bool
	Scaling   []proxy.ScalingEvent
	// Budgets are the databases' budgets (overview); Summary is the pool's
	// report with its part of its database's budget (pool page).
	Budgets []dashBudget
	Summary summary
}

// summary is what a pool page's refreshed head shows: its report, and its
// part of its database's budget (nil when the database has none).
type summary struct {
	monitor.Report
	Budget *dashPoolBudget
}

// dashboardScalingEvents is how many scaling decisions a pool's page shows.
const dashboardScalingEvents = 10

func (a *Admin) page(title string) page {
	return page{Title: title, Version: a.version, Paused: a.px.Paused()}
}

// render executes a template into a buffer first, so that a failure is a
// clean 500 rather than half a page.
func render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	buf.WriteTo(w)
}

func (a *Admin) pageOverview(w http.ResponseWriter, r *http.Request) {
	render(w, "overview", a.overviewPage())
}

func (a *Admin) partialOverview(w http.ResponseWriter, r *http.Request) {
	render(w, "overview-cards", a.overviewPage())
}

func (a *Admin) overviewPage() page {
	p := a.page("Pools")
	p.Reports = a.Reports()
	p.Budgets = dashBudgets(a.px.Budgets())
	return p
}

// poolPage fills the page of the pool named in the request, or answers 404.
func (a *Admin) poolPage(w http.ResponseWriter, r *http.Request) (page, bool) {
	name := r.PathValue("name")
	pl := a.pool(name)
	if pl == nil {
		http.Error(w, "no such pool: "+name, http.StatusNotFound)
		return page{}, false
	}
	p := a.page(name)
	p.Report = a.report(pl)
	p.Summary = summary{Report: p.Report, Budget: poolBudget(dashBudgets(a.px.Budgets()), name)}
	for _, c := range a.Clients() {
		if c.Pool == name {
			p.Clients = append(p.Clients, c)
		}
	}
	for _, s := range a.Servers() {
		if s.Pool == name {
			p.Servers = append(p.Servers, s)
		}
	}
	sc := a.px.Config().Scaling
	p.ScalingOn = len(sc.Rules) > 0 || sc.Predictive.Enabled
	ev := a.px.ScalingEvents()
	for i := len(ev) - 1; i >= 0 && len(p.Scaling) < dashboardScalingEvents; i-- {
		if ev[i].Pool == name {
			p.Scaling = append(p.Scaling, ev[i])
		}
	}
	return p, true
}

func (a *Admin) pagePool(w http.ResponseWriter, r *http.Request) {
	if p, ok := a.poolPage(w, r); ok {
		render(w, "pool", p)
	}
}

func (a *Admin) partialPool(w http.ResponseWriter, r *http.Request) {
	if p, ok := a.poolPage(w, r); ok {
		render(w, "pool-summary", p.Summary)
	}
}

func (a *Admin) partialConns(w http.ResponseWriter, r *http.Request) {
	if p, ok := a.poolPage(w, r); ok {
		render(w, "pool-conns", p)
	}
}
